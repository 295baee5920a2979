package session

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/reference"
)

func TestUnitParseHexAddrPort(t *testing.T) {
	tests := []struct {
		in      string
		want    string // netip.AddrPort.String(); "" when an error is expected
		wantErr bool
	}{
		{in: "00000000:1F90", want: "0.0.0.0:8080"},
		{in: "0100007F:1F90", want: "127.0.0.1:8080"},
		{in: "0100007f:1f90", want: "127.0.0.1:8080"}, // lower-case hex
		{in: "0200000A:0050", want: "10.0.0.2:80"},
		{in: "0100A8C0:FFFF", want: "192.168.0.1:65535"},
		{in: "00000000000000000000000000000000:1F90", want: "[::]:8080"},
		{in: "00000000000000000000000001000000:1F91", want: "[::1]:8081"},
		// ::ffff:127.0.0.1 is unmapped to plain IPv4.
		{in: "0000000000000000FFFF00000100007F:1F92", want: "127.0.0.1:8082"},
		{in: "0000000000000000FFFF000000000000:1F90", want: "0.0.0.0:8080"},
		// 2001:db8::1 and fe80::1: each 32-bit word is little-endian.
		{in: "B80D0120000000000000000001000000:1F93", want: "[2001:db8::1]:8083"},
		{in: "000080FE000000000000000001000000:0016", want: "[fe80::1]:22"},
		{in: "0100007F", wantErr: true},       // no port
		{in: "0100007F:", wantErr: true},      // empty port
		{in: "0100007F:1FFFF", wantErr: true}, // port > 16 bits
		{in: "0100007F:ZZ", wantErr: true},    // port not hex
		{in: "XX00007F:1F90", wantErr: true},  // address not hex
		{in: ":1F90", wantErr: true},          // empty address
		{in: "0100007:1F90", wantErr: true},   // 7 digits: no whole word
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseHexAddrPort(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseHexAddrPort(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseHexAddrPort(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Errorf("parseHexAddrPort(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestUnitParseProcNet(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		// Row 2 is ESTABLISHED (01) and row 3 TIME_WAIT (06): not listeners.
		{file: "proc_net_tcp", want: []string{"0.0.0.0:8080", "127.0.0.1:8080"}},
		// Row 3 is an established v4-mapped connection.
		{file: "proc_net_tcp6", want: []string{"[::]:8080", "[::1]:8081", "127.0.0.1:8082", "[2001:db8::1]:8083"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ls, err := parseProcNet(f)
			if err != nil {
				t.Fatalf("parseProcNet: %v", err)
			}
			var got []string
			for _, l := range ls {
				got = append(got, l.Addr.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("listeners = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("header only", func(t *testing.T) {
		ls, err := parseProcNet(strings.NewReader("  sl  local_address rem_address   st tx_queue\n"))
		if err != nil || len(ls) != 0 {
			t.Errorf("got %v, %v; want no listeners and no error", ls, err)
		}
	})
	t.Run("a LISTEN row on the first line is the header", func(t *testing.T) {
		// The first line is always skipped, whatever it holds.
		ls, err := parseProcNet(strings.NewReader("   0: 00000000:1F90 00000000:0000 0A\n"))
		if err != nil || len(ls) != 0 {
			t.Errorf("got %v, %v; want the first line skipped", ls, err)
		}
	})
	t.Run("short rows are ignored", func(t *testing.T) {
		ls, err := parseProcNet(strings.NewReader("header\n   0: 00000000:1F90\n\n"))
		if err != nil || len(ls) != 0 {
			t.Errorf("got %v, %v; want no listeners", ls, err)
		}
	})
	t.Run("a bad address in a LISTEN row is an error", func(t *testing.T) {
		_, err := parseProcNet(strings.NewReader("header\n   0: nothex:1F90 00000000:0000 0A\n"))
		if err == nil {
			t.Error("want an error")
		}
	})
	t.Run("the port of a listener", func(t *testing.T) {
		ls, err := parseProcNet(strings.NewReader("header\n   0: 0100007F:1F90 00000000:0000 0A\n"))
		if err != nil || len(ls) != 1 {
			t.Fatalf("got %v, %v", ls, err)
		}
		if ls[0].Addr.Port() != 8080 || ls[0].Addr.Addr() != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("got %v, want 127.0.0.1:8080", ls[0].Addr)
		}
	})
}

func readBuildLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "build_undefined.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\x1b[91m") {
		t.Fatal("testdata/build_undefined.log lost its ANSI codes")
	}
	return string(b)
}

func TestUnitStripANSI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"\x1b[91m./main.go:49:2: undefined: undefinedThing\n\x1b[0m", "./main.go:49:2: undefined: undefinedThing\n"},
		{"\x1b[1;31mred bold\x1b[0m", "red bold"},
		{"\x1b[2K\x1b[1Gprogress", "progress"},
		{"a\x1b[mb", "ab"},
		{"keeps [91m without ESC", "keeps [91m without ESC"},
	}
	for _, tt := range tests {
		if got := stripANSI(tt.in); got != tt.want {
			t.Errorf("stripANSI(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := stripANSI(readBuildLog(t)); strings.Contains(got, "\x1b") {
		t.Errorf("stripANSI left an escape in the build log: %q", got)
	}
}

func TestUnitLastStep(t *testing.T) {
	log := stripANSI(readBuildLog(t))
	tests := []struct {
		name, log, want string
	}{
		{"classic builder failure", log, `RUN CGO_ENABLED=0 GOOS=linux go build -ldflags="-w -s" -o server .`},
		{"first step only", "Step 1/12 : FROM golang:1.21\n ---> abc123def456\n", "FROM golang:1.21"},
		{"no step lines", "Sending build context to Docker daemon  5.12kB\n", ""},
		{"empty", "", ""},
		{"indented step is not a step", "Step 1/2 : FROM a\n  Step 2/2 : FROM b\n", "FROM a"},
		{"step text inside output is not a step", "Step 1/2 : RUN echo\nsee Step 3/4 : x\n", "RUN echo"},
		{"no trailing newline", "Step 1/2 : FROM a\nStep 2/2 : CMD [\"./server\"]", `CMD ["./server"]`},
		{"a very long line does not hide later steps",
			"Step 1/2 : RUN x\n" + strings.Repeat("y", 200_000) + "\nStep 2/2 : RUN z\n", "RUN z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lastStep(tt.log); got != tt.want {
				t.Errorf("lastStep = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnitStepOutput(t *testing.T) {
	log := stripANSI(readBuildLog(t))
	tests := []struct {
		name string
		log  string
		max  int
		want []string
	}{
		{"compiler error", log, 15, []string{"# go-api", "./main.go:49:2: undefined: undefinedThing"}},
		{"keeps the last lines", log, 1, []string{"./main.go:49:2: undefined: undefinedThing"}},
		{"bookkeeping lines dropped",
			"Step 4/12 : RUN go mod download\n ---> Running in 5f6e7d8c9b0a\ngo: downloading x v1.0.0\nRemoving intermediate container 5f6e7d8c9b0a\n ---> 2c3d4e5f6071\n",
			15, []string{"go: downloading x v1.0.0"}},
		{"blank lines dropped, indentation and CR trimmed",
			"Step 2/2 : RUN make\n\n   \n  indented line  \r\nlast\r\n", 15, []string{"  indented line", "last"}},
		{"nothing after the last step", "Step 1/1 : FROM alpine:3.18\n ---> abc123def456\n", 15, nil},
		{"no step lines: the whole log", "one\ntwo\n", 15, []string{"one", "two"}},
		{"max larger than output", "Step 1/1 : RUN x\na\nb\nc\n", 100, []string{"a", "b", "c"}},
		{"max trims the front", "Step 1/1 : RUN x\na\nb\nc\nd\n", 2, []string{"c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := stepOutput(tt.log, tt.max)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("stepOutput = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnitTidyCreatedBy(t *testing.T) {
	tests := []struct{ in, want string }{
		{`/bin/sh -c #(nop) COPY file:8f3e0c5b2a in . `, "COPY file:8f3e0c5b2a in ."},
		{`/bin/sh -c #(nop)  CMD ["./server"]`, `CMD ["./server"]`},
		{`/bin/sh -c #(nop) WORKDIR /app`, "WORKDIR /app"},
		{`/bin/sh -c #(nop) ADD file:a1b2c3 in / `, "ADD file:a1b2c3 in /"},
		{`/bin/sh -c adduser -D -u 1000 appuser`, "RUN adduser -D -u 1000 appuser"},
		{`/bin/sh -c CGO_ENABLED=0 GOOS=linux go build -ldflags="-w -s" -o server .`,
			`RUN CGO_ENABLED=0 GOOS=linux go build -ldflags="-w -s" -o server .`},
		{"  /bin/sh -c   go build  ", "RUN go build"},
		// BuildKit history is already in Dockerfile words.
		{`RUN /bin/sh -c go build -o server . # buildkit`, `RUN /bin/sh -c go build -o server . # buildkit`},
		{`COPY /app/server . # buildkit`, `COPY /app/server . # buildkit`},
		{"", "(a layer of the base image)"}, // an imported base layer records no command
	}
	for _, tt := range tests {
		if got := tidyCreatedBy(tt.in); got != tt.want {
			t.Errorf("tidyCreatedBy(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnitCleanEngineError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"testcontainers build wrapping",
			errors.New("build image: Error response from daemon: COPY failed: file not found in build context or excluded by .dockerignore: stat server: file does not exist"),
			"COPY failed: file not found in build context or excluded by .dockerignore: stat server: file does not exist"},
		{"create container wrapping",
			errors.New(`create container: Error response from daemon: failed to create task for container: exec: "./server": stat ./server: no such file or directory`),
			`failed to create task for container: exec: "./server": stat ./server: no such file or directory`},
		{"last daemon prefix wins",
			errors.New("generic container: Error response from daemon: wrapped: Error response from daemon: the real message"),
			"the real message"},
		{"repeated wrappers", errors.New("create container: create container: build image: boom"), "boom"},
		{"wrapped with %w", fmt.Errorf("build image: %w", errors.New("The command '/bin/sh -c go build' returned a non-zero code: 1")),
			"The command '/bin/sh -c go build' returned a non-zero code: 1"},
		{"plain", errors.New("context deadline exceeded"), "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanEngineError(tt.err); got != tt.want {
				t.Errorf("cleanEngineError = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnitBuildErrorMessage(t *testing.T) {
	be := &BuildError{Err: errors.New("build image: Error response from daemon: The command '/bin/sh -c go build' returned a non-zero code: 1")}
	if got, want := be.Error(), "The command '/bin/sh -c go build' returned a non-zero code: 1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(be, be.Err) {
		t.Error("BuildError does not unwrap to the engine's error")
	}
	to := &BuildError{Err: errors.New("context deadline exceeded"), TimedOut: true, Timeout: 300_000_000_000}
	if got := to.Error(); got != "the build did not finish within 5m0s" {
		t.Errorf("timed out Error() = %q", got)
	}
}

func TestUnitReference(t *testing.T) {
	tmp := t.TempDir()
	mk := func(name string) string {
		d := filepath.Join(tmp, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := mk("alice")
	b := filepath.Join(mk("other"), "alice") // same basename, other folder
	if err := os.MkdirAll(b, 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("stable", func(t *testing.T) {
		if Reference(a, "multistage") != Reference(a, "multistage") {
			t.Error("Reference differs between two calls")
		}
		if Reference(a, "multistage") != Reference(a+"/", "multistage") {
			t.Error("a trailing slash changes the reference")
		}
		if Reference(a, "multistage") != Reference(filepath.Join(a, "..", "alice"), "multistage") {
			t.Error("an unclean path changes the reference")
		}
	})
	t.Run("relative and absolute agree", func(t *testing.T) {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		if Reference(".", "x") != Reference(wd, "x") {
			t.Errorf("Reference(.) = %s, Reference(%s) = %s", Reference(".", "x"), wd, Reference(wd, "x"))
		}
	})
	t.Run("different folders differ", func(t *testing.T) {
		ra, rb := Reference(a, "multistage"), Reference(b, "multistage")
		if ra == rb {
			t.Errorf("two folders named alice share %s", ra)
		}
		if !strings.Contains(ra, "/alice-") || !strings.Contains(rb, "/alice-") {
			t.Errorf("the folder name is not in the references: %s %s", ra, rb)
		}
	})
	t.Run("tag", func(t *testing.T) {
		ra, rs := Reference(a, "multistage"), Reference(a, "scratch")
		if !strings.HasSuffix(ra, ":multistage") || !strings.HasSuffix(rs, ":scratch") {
			t.Errorf("tags not applied: %s %s", ra, rs)
		}
		if strings.TrimSuffix(ra, ":multistage") != strings.TrimSuffix(rs, ":scratch") {
			t.Errorf("one folder, two repositories: %s %s", ra, rs)
		}
	})

	long := strings.Repeat("Very_Long-Student Name ", 8)
	odd := []struct {
		base     string
		wantSlug string // the part between "grade-lab/" and the hash
	}{
		{"alice", "alice"},
		{"Alice Smith", "alice-smith"},
		{"lab2_submission.v2", "lab2-submission-v2"},
		{"--weird--", "weird"},
		{"___", "submission"},
		{"日本語", "submission"},
		{"Ünïcode-Name", "n-code-name"},
		{"UPPER", "upper"},
		{"a b", "a-b"},
		{"a  b", "a--b"},
		{long, ""}, // checked for length only
		{strings.Repeat("a", 39) + "_" + "bbbb", ""},
		{strings.Repeat("a", 80), strings.Repeat("a", 40)},
	}
	for _, tt := range odd {
		t.Run("basename "+tt.base, func(t *testing.T) {
			ref := Reference(mk(tt.base), "multistage")
			if _, err := reference.ParseNormalizedNamed(ref); err != nil {
				t.Fatalf("Reference = %q is not a valid docker reference: %v", ref, err)
			}
			if !strings.HasPrefix(ref, RepositoryPrefix+"/") {
				t.Errorf("Reference = %q does not start with %s/", ref, RepositoryPrefix)
			}
			repo, _, _ := strings.Cut(ref, ":")
			name := strings.TrimPrefix(repo, RepositoryPrefix+"/")
			i := strings.LastIndex(name, "-")
			if i < 0 || len(name)-i-1 != 8 {
				t.Fatalf("Reference = %q has no 8-digit hash suffix", ref)
			}
			slug := name[:i]
			if len(slug) > 40 {
				t.Errorf("slug %q longer than 40", slug)
			}
			if slug != strings.ToLower(slug) {
				t.Errorf("slug %q is not lower case", slug)
			}
			if tt.wantSlug != "" && slug != tt.wantSlug {
				t.Errorf("slug = %q, want %q", slug, tt.wantSlug)
			}
		})
	}
	t.Run("root folder", func(t *testing.T) {
		ref := Reference("/", "multistage")
		if !strings.HasPrefix(ref, RepositoryPrefix+"/submission-") {
			t.Errorf("Reference(/) = %q", ref)
		}
		if _, err := reference.ParseNormalizedNamed(ref); err != nil {
			t.Errorf("Reference(/) = %q is invalid: %v", ref, err)
		}
	})
}

func TestUnitProbeHostFor(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "127.0.0.1"},
		{"unix:///var/run/docker.sock", "127.0.0.1"},
		{"unix:///run/user/1000/docker.sock", "127.0.0.1"},
		{"npipe:////./pipe/docker_engine", "127.0.0.1"},
		{"tcp://1.2.3.4:2376", "1.2.3.4"},
		{"tcp://docker.example.com:2375", "docker.example.com"},
		{"tcp://[2001:db8::5]:2376", "2001:db8::5"},
		{"tcp://localhost:2375", "localhost"},
		{"ssh://user@host", "host"},
		{"ssh://user@build-box.lan:2222", "build-box.lan"},
		{"https://engine.example:2376", "engine.example"},
		{"tcp://:2375", "127.0.0.1"},
		{"::not a url", "127.0.0.1"},
	}
	for _, tt := range tests {
		if got := probeHostFor(tt.in); got != tt.want {
			t.Errorf("probeHostFor(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnitStoreRoundTrip(t *testing.T) {
	t.Run("missing file reads as empty", func(t *testing.T) {
		st := &Store{Path: filepath.Join(t.TempDir(), "nope", "images")}
		got, err := st.read()
		if err != nil || len(got) != 0 {
			t.Errorf("read = %v, %v; want nothing", got, err)
		}
	})
	t.Run("record then read", func(t *testing.T) {
		st := &Store{Path: filepath.Join(t.TempDir(), "state", "deeper", "images")}
		steps := []struct {
			ids []string
			ref string
		}{
			{[]string{"sha256:aaa", "sha256:bbb"}, ""},
			{[]string{"sha256:ccc"}, "grade-lab/alice-1234abcd:multistage"},
			{nil, "ignored"},
			{[]string{"sha256:ddd"}, "grade-lab/alice-1234abcd:scratch"},
		}
		for _, s := range steps {
			if err := st.Record(s.ids, s.ref); err != nil {
				t.Fatalf("Record: %v", err)
			}
		}
		got, err := st.read()
		if err != nil {
			t.Fatal(err)
		}
		want := []builtImage{
			{ID: "sha256:aaa"}, {ID: "sha256:bbb"},
			{ID: "sha256:ccc", Ref: "grade-lab/alice-1234abcd:multistage"},
			{ID: "sha256:ddd", Ref: "grade-lab/alice-1234abcd:scratch"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read = %+v\nwant   %+v", got, want)
		}
	})
	t.Run("blank and id-less lines are skipped", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "images")
		if err := os.WriteFile(p, []byte("\n\tref-only\nsha256:x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := (&Store{Path: p}).read()
		if err != nil {
			t.Fatal(err)
		}
		if want := []builtImage{{ID: "sha256:x"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("read = %+v, want %+v", got, want)
		}
	})
	t.Run("concurrent records keep whole lines", func(t *testing.T) {
		st := &Store{Path: filepath.Join(t.TempDir(), "images")}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids := []string{fmt.Sprintf("sha256:%02d-a", i), fmt.Sprintf("sha256:%02d-b", i)}
				if err := st.Record(ids, fmt.Sprintf("grade-lab/s%02d:multistage", i)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got, err := st.read()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 40 {
			t.Fatalf("read %d records, want 40", len(got))
		}
		for _, b := range got {
			var n int
			var suffix string
			if _, err := fmt.Sscanf(b.ID, "sha256:%02d-%s", &n, &suffix); err != nil {
				t.Fatalf("mangled id %q", b.ID)
			}
			if want := fmt.Sprintf("grade-lab/s%02d:multistage", n); b.Ref != want {
				t.Errorf("id %s has ref %q, want %q", b.ID, b.Ref, want)
			}
		}
	})
	t.Run("DefaultStore honours GRADE_STATE_DIR", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("GRADE_STATE_DIR", dir)
		st, err := DefaultStore()
		if err != nil {
			t.Fatal(err)
		}
		if st.Path != filepath.Join(dir, "images") {
			t.Errorf("Path = %q, want %q", st.Path, filepath.Join(dir, "images"))
		}
	})
}

func TestUnitForeignTag(t *testing.T) {
	tests := []struct {
		tags []string
		want bool
	}{
		{nil, false},
		{[]string{"<none>:<none>"}, false},
		{[]string{"grade-lab/alice-1234abcd:multistage"}, false},
		{[]string{"grade-lab/alice-1234abcd:multistage", "alpine:3.18"}, true},
		{[]string{"grade-labx/foo:1"}, true},
		{[]string{"myrepo/grade-lab/foo:1"}, true},
	}
	for _, tt := range tests {
		if got := foreignTag(tt.tags); got != tt.want {
			t.Errorf("foreignTag(%q) = %v, want %v", tt.tags, got, tt.want)
		}
	}
}

func TestUnitImageLargestAndEnv(t *testing.T) {
	img := &Image{Layers: []Layer{
		{CreatedBy: "ADD file:a in /", SizeBytes: 7_000_000},
		{CreatedBy: "RUN go build", SizeBytes: 12_000_000},
		{CreatedBy: "COPY big .", SizeBytes: 12_000_000}, // a tie keeps the older
		{CreatedBy: "USER appuser", SizeBytes: 0},
	}}
	l, ok := img.Largest()
	if !ok || l.CreatedBy != "RUN go build" {
		t.Errorf("Largest = %+v, %v; want RUN go build", l, ok)
	}
	if _, ok := (&Image{}).Largest(); ok {
		t.Error("Largest of an image without layers reports one")
	}
	c := ImageConfig{Env: []string{"PATH=/usr/local/bin:/usr/bin", "EMPTY=", "NOEQUALS", "A=b=c"}}
	for _, tt := range []struct {
		name, want string
		ok         bool
	}{
		{"PATH", "/usr/local/bin:/usr/bin", true},
		{"EMPTY", "", true},
		{"NOEQUALS", "", false},
		{"A", "b=c", true},
		{"PAT", "", false},
		{"HOME", "", false},
	} {
		if got, ok := c.EnvValue(tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("EnvValue(%s) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
