package grader

import (
	"strconv"
	"strings"
)

// FormatSize formats bytes in decimal units with three significant digits,
// as `docker images` does: "6.83 MB", "20 MB", "1.1 GB". The lab's size
// limit is decimal too (20 MB = 20,000,000 bytes).
func FormatSize(b int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	v := float64(max(b, 0))
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if strings.Contains(s, "e") && i < len(units)-1 { // 999.6 rounds to 1e+03
		v /= 1000
		i++
		s = strconv.FormatFloat(v, 'g', 3, 64)
	}
	return s + " " + units[i]
}
