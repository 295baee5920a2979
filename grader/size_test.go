package grader

import "testing"

func TestFormatSize(t *testing.T) {
	for in, want := range map[int64]string{
		-5: "0 B", 0: "0 B", 999: "999 B", 1000: "1 kB", 1500: "1.5 kB",
		6_800_000: "6.8 MB", 6_834_567: "6.83 MB", 19_999_999: "20 MB", 20_000_000: "20 MB",
		143_000_000: "143 MB", 999_600_000: "1 GB", 1_100_000_000: "1.1 GB", 1_234_567_890: "1.23 GB",
	} {
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
	}
}
