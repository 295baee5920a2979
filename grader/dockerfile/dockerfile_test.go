package dockerfile

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// dump renders the model as text for the golden files.
func dump(f *File, err error) string {
	var b strings.Builder
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			fmt.Fprintf(&b, "parse error: line %d: %s\n", pe.Line, pe.Msg)
		} else {
			fmt.Fprintf(&b, "error: %v\n", err)
		}
		return b.String()
	}
	for _, a := range f.Args {
		fmt.Fprintf(&b, "arg %s=%q (line %d)\n", a.Key, a.Value, a.Line)
	}
	for _, s := range f.Stages {
		fmt.Fprintf(&b, "stage %d", s.Index)
		if s.Name != "" {
			fmt.Fprintf(&b, " %q", s.Name)
		}
		fmt.Fprintf(&b, " lines %d-%d\n", s.Line, s.EndLine)
		if s.FromRaw != s.From {
			fmt.Fprintf(&b, "  from: %s (written %s)\n", s.From, s.FromRaw)
		} else {
			fmt.Fprintf(&b, "  from: %s\n", s.From)
		}
		if s.Platform != "" {
			fmt.Fprintf(&b, "  platform: %s\n", s.Platform)
		}
		if s.Parent != nil {
			fmt.Fprintf(&b, "  parent: stage %d\n", s.Parent.Index)
		}
		fmt.Fprintf(&b, "  base: %s\n", s.Base)
		if s.UserLine != 0 || s.User != "" {
			if s.UserRaw != s.User {
				fmt.Fprintf(&b, "  user: %q (written %q, line %d)\n", s.User, s.UserRaw, s.UserLine)
			} else {
				fmt.Fprintf(&b, "  user: %q (line %d)\n", s.User, s.UserLine)
			}
		}
		if s.WorkdirLine != 0 || s.Workdir != "" {
			fmt.Fprintf(&b, "  workdir: %s (line %d)\n", s.Workdir, s.WorkdirLine)
		}
		for _, c := range s.CopiesFrom {
			to := "nil"
			if c.Stage != nil {
				to = "stage " + strconv.Itoa(c.Stage.Index)
			}
			fmt.Fprintf(&b, "  copy --from=%s -> %s (line %d): %q -> %q\n", c.Ref, to, c.Line, c.Sources, c.Dest)
		}
		if s.EntrypointLine != 0 {
			fmt.Fprintf(&b, "  entrypoint: %s %q (line %d)\n", form(s.EntrypointShell), s.Entrypoint, s.EntrypointLine)
		}
		if s.CmdLine != 0 {
			fmt.Fprintf(&b, "  cmd: %s %q (line %d)\n", form(s.CmdShell), s.Cmd, s.CmdLine)
		}
	}
	return b.String()
}

func form(shell bool) string {
	if shell {
		return "shell"
	}
	return "exec"
}

// TestGolden parses every testdata/*.Dockerfile and compares a dump of the
// model (or the parse error) with testdata/*.golden. Run with -update to
// rewrite the golden files.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("only %d testdata Dockerfiles", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".Dockerfile")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := dump(Parse(filepath.Base(path), data))
			golden := strings.TrimSuffix(path, ".Dockerfile") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("model of %s differs from %s\n--- got:\n%s--- want:\n%s", path, golden, got, want)
			}
		})
	}
}

// ws is the expected shape of one stage. parent and copy targets are stage
// indexes, -1 for none.
type ws struct {
	name, from, base string
	line, parent     int
	user             string
	userLine         int
	copies           []wc
}

type wc struct {
	ref         string
	stage, line int
}

func parseFile(t *testing.T, name string) *File {
	t.Helper()
	data := []byte(name)
	if !strings.Contains(name, "\n") {
		var err error
		data, err = os.ReadFile(filepath.Join("testdata", name+".Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := Parse("Dockerfile.test", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

// TestStages asserts the model field by field. Inputs are testdata files
// (by name) or inline texts (containing a newline).
func TestStages(t *testing.T) {
	for _, tc := range []struct {
		in     string
		stages []ws
	}{
		{"solution", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 2, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 13, parent: -1, user: "appuser", userLine: 20,
				copies: []wc{{"builder", 0, 17}}},
		}},
		{"scratch", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 2, parent: -1},
			{from: "scratch", base: "scratch", line: 13, parent: -1, user: "65534:65534", userLine: 18,
				copies: []wc{{"builder", 0, 15}}},
		}},
		{"starter", []ws{
			{from: "golang:1.21", base: "golang:1.21", line: 2, parent: -1},
		}},
		{"lowercase", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 6, parent: -1, user: "appuser", userLine: 9,
				copies: []wc{{"builder", 0, 7}}},
		}},
		{"continuation", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 11, parent: -1, user: "nobody", userLine: 16,
				copies: []wc{{"builder", 0, 13}}},
		}},
		{"comments", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 3, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 11, parent: -1, user: "1000", userLine: 14,
				copies: []wc{{"builder", 0, 13}}},
		}},
		{"directives", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 3, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 8, parent: -1, user: "app", userLine: 11,
				copies: []wc{{"builder", 0, 9}}},
		}},
		{"heredoc", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 2, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 13, parent: -1, user: "appuser", userLine: 18,
				copies: []wc{{"builder", 0, 17}}},
		}},
		{"global-args", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 4, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 7, parent: -1, user: "1000", userLine: 9,
				copies: []wc{{"builder", 0, 8}}},
		}},
		{"arg-nodefault", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 3, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 4, parent: -1, copies: []wc{{"builder", 0, 5}}},
		}},
		{"arg-chain", []ws{
			{name: "builder", from: "docker.io/library/golang:1.21-alpine", base: "docker.io/library/golang:1.21-alpine", line: 5, parent: -1},
			{name: "final", from: "docker.io/library/alpine:3.18", base: "docker.io/library/alpine:3.18", line: 6, parent: -1,
				copies: []wc{{"builder", 0, 7}}},
		}},
		{"arg-stage-scope", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 3, parent: -1, copies: []wc{{"builder", 0, 4}}},
		}},
		{"platform", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 5, parent: -1, user: "65534", userLine: 7,
				copies: []wc{{"builder", 0, 6}}},
		}},
		{"from-stage", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{name: "runtime-base", from: "alpine:3.18", base: "alpine:3.18", line: 4, parent: -1, user: "appuser", userLine: 6},
			{from: "runtime-base", base: "alpine:3.18", line: 9, parent: 1, user: "appuser", userLine: 6,
				copies: []wc{{"builder", 0, 10}}},
		}},
		{"from-stage-chain", []ws{
			{name: "base", from: "alpine:3.18", base: "alpine:3.18", line: 1, parent: -1, user: "root", userLine: 2},
			{name: "middle", from: "base", base: "alpine:3.18", line: 5, parent: 0, user: "nobody", userLine: 6},
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 9, parent: -1},
			{name: "final", from: "middle", base: "alpine:3.18", line: 12, parent: 1, user: "nobody", userLine: 6,
				copies: []wc{{"builder", 2, 13}}},
		}},
		{"user-arg", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 2, parent: -1, user: "1000:1000", userLine: 7,
				copies: []wc{{"builder", 0, 6}}},
		}},
		{"user-env", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 2, parent: -1, user: "appuser", userLine: 6,
				copies: []wc{{"builder", 0, 5}}},
		}},
		{"user-global-arg", []ws{
			// ARG UID re-declared in the stage takes the global default...
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 2, parent: -1, user: "1001", userLine: 4},
			// ...not re-declared, it is unset: USER expands to "".
			{from: "alpine:3.18", base: "alpine:3.18", line: 5, parent: -1, user: "", userLine: 7,
				copies: []wc{{"builder", 0, 6}}},
		}},
		{"user-root", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1, user: "appuser", userLine: 2},
			{from: "alpine:3.18", base: "alpine:3.18", line: 3, parent: -1, user: "root", userLine: 5,
				copies: []wc{{"builder", 0, 4}}},
		}},
		{"user-override", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 2, parent: -1, user: "appuser", userLine: 5,
				copies: []wc{{"builder", 0, 6}}},
		}},
		{"copy-index", []ws{
			{from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 3, parent: -1, copies: []wc{{"0", 0, 4}}},
		}},
		{"copy-index-bad", []ws{
			{from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 2, parent: -1,
				copies: []wc{{"1", -1, 3}, {"2", -1, 4}, {"-1", -1, 5}}},
			{from: "busybox", base: "busybox", line: 6, parent: -1},
		}},
		{"copy-unknown", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 2, parent: -1, copies: []wc{{"buidler", -1, 3}}},
		}},
		{"copy-image", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 2, parent: -1,
				copies: []wc{{"nginx:alpine", -1, 3}, {"builder", 0, 4}}},
		}},
		{"copy-case", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 2, parent: -1, copies: []wc{{"BUILDER", 0, 3}}},
		}},
		{"copy-nonfinal", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{name: "packer", from: "alpine:3.18", base: "alpine:3.18", line: 2, parent: -1, copies: []wc{{"builder", 0, 3}}},
			{from: "alpine:3.18", base: "alpine:3.18", line: 4, parent: -1},
		}},
		{"copy-later-name", []ws{
			{name: "early", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1,
				copies: []wc{{"late", -1, 2}, {"early", -1, 3}}},
			{name: "late", from: "alpine:3.18", base: "alpine:3.18", line: 4, parent: -1, copies: []wc{{"early", 0, 5}}},
		}},
		{"copy-variable", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 2, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 3, parent: -1, copies: []wc{{"${STAGE}", -1, 4}}},
		}},
		{"same-base", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "docker.io/library/golang:1.21", base: "docker.io/library/golang:1.21", line: 3, parent: -1,
				copies: []wc{{"builder", 0, 4}}},
		}},
		{"from-uppercase-stage", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			// BuildKit matches FROM operands to stage names exactly: an image.
			{from: "Builder", base: "Builder", line: 2, parent: -1},
		}},
		{"duplicate-names", []ws{
			{name: "builder", from: "golang:1.20", base: "golang:1.20", line: 1, parent: -1},
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 2, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 3, parent: -1, copies: []wc{{"builder", 1, 4}}},
		}},
		{"digest", []ws{
			{name: "builder", from: "golang:1.21@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				base: "golang:1.21@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", line: 1, parent: -1},
			{from: "ghcr.io/distroless/static:nonroot", base: "ghcr.io/distroless/static:nonroot", line: 2, parent: -1,
				copies: []wc{{"builder", 0, 3}}},
		}},
		{"all-instructions", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 2, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 10, parent: -1, user: "1000:1000", userLine: 16,
				copies: []wc{{"builder", 0, 11}}},
		}},
		{"scratch-user-name", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "scratch", base: "scratch", line: 2, parent: -1, user: "appuser", userLine: 4, copies: []wc{{"builder", 0, 3}}},
		}},
		// Inline variants.
		{"\xef\xbb\xbfFROM golang:1.21 AS builder\r\nRUN go build -o /s .\r\n\r\nFROM alpine:3.18\r\nCOPY --from=builder /s /s\r\nUSER 1000\r\n", []ws{
			{name: "builder", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{from: "alpine:3.18", base: "alpine:3.18", line: 4, parent: -1, user: "1000", userLine: 6, copies: []wc{{"builder", 0, 5}}},
		}},
		{"FROM alpine\nUSER 0:0\n", []ws{
			{from: "alpine", base: "alpine", line: 1, parent: -1, user: "0:0", userLine: 2},
		}},
		{"FrOm golang:1.21 aS Build-Env\nFROM build-env AS Next\nuser ${NOPE:-app}\n", []ws{
			{name: "build-env", from: "golang:1.21", base: "golang:1.21", line: 1, parent: -1},
			{name: "next", from: "build-env", base: "golang:1.21", line: 2, parent: 0, user: "app", userLine: 3},
		}},
		{"ARG V=3.18\nFROM alpine:${V} AS a\nARG V\nENV U=u$V\nUSER $U\nFROM a\nUSER ${U}-2\n", []ws{
			{name: "a", from: "alpine:3.18", base: "alpine:3.18", line: 2, parent: -1, user: "u3.18", userLine: 5},
			// ENV (and ARG) values carry into a stage built FROM the stage.
			{from: "a", base: "alpine:3.18", line: 6, parent: 0, user: "u3.18-2", userLine: 7},
		}},
		{"FROM scratch\n\n\n", []ws{
			{from: "scratch", base: "scratch", line: 1, parent: -1},
		}},
	} {
		name := tc.in
		if strings.Contains(name, "\n") {
			name = strconv.Quote(name)
			if len(name) > 40 {
				name = name[:40]
			}
		}
		t.Run(name, func(t *testing.T) {
			f := parseFile(t, tc.in)
			if len(f.Stages) != len(tc.stages) {
				t.Fatalf("got %d stages, want %d:\n%s", len(f.Stages), len(tc.stages), dump(f, nil))
			}
			for i, w := range tc.stages {
				s := f.Stages[i]
				if s.Index != i {
					t.Errorf("stage %d: Index = %d", i, s.Index)
				}
				check := func(field string, got, want any) {
					t.Helper()
					if got != want {
						t.Errorf("stage %d: %s = %#v, want %#v", i, field, got, want)
					}
				}
				check("Name", s.Name, w.name)
				check("From", s.From, w.from)
				check("Base", s.Base, w.base)
				check("Line", s.Line, w.line)
				check("User", s.User, w.user)
				check("UserLine", s.UserLine, w.userLine)
				parent := -1
				if s.Parent != nil {
					parent = s.Parent.Index
				}
				check("Parent", parent, w.parent)
				if len(s.CopiesFrom) != len(w.copies) {
					t.Errorf("stage %d: %d COPY --from, want %d", i, len(s.CopiesFrom), len(w.copies))
					continue
				}
				for j, wcp := range w.copies {
					c := s.CopiesFrom[j]
					to := -1
					if c.Stage != nil {
						to = c.Stage.Index
					}
					check(fmt.Sprintf("CopiesFrom[%d].Ref", j), c.Ref, wcp.ref)
					check(fmt.Sprintf("CopiesFrom[%d].Stage", j), to, wcp.stage)
					check(fmt.Sprintf("CopiesFrom[%d].Line", j), c.Line, wcp.line)
				}
			}
			if f.Final() != f.Stages[len(f.Stages)-1] {
				t.Error("Final is not the last stage")
			}
		})
	}
}

func TestCopyDetails(t *testing.T) {
	f := parseFile(t, "user-env")
	c := f.Final().CopiesFrom[0]
	if len(c.Sources) != 1 || c.Sources[0] != "/app/server" || c.Dest != "/home/appuser/" {
		t.Errorf("sources %q dest %q; want [/app/server] /home/appuser/ (ENV-expanded)", c.Sources, c.Dest)
	}
	f = parseFile(t, "continuation")
	c = f.Final().CopiesFrom[0]
	if len(c.Sources) != 1 || c.Sources[0] != "/app/server" || c.Dest != "/usr/local/bin/server" {
		t.Errorf("sources %q dest %q across continuation lines", c.Sources, c.Dest)
	}
}

func TestCmdEntrypointWorkdir(t *testing.T) {
	f := parseFile(t, "cmd-entrypoint")
	type want struct {
		ep      []string
		epShell bool
		epLine  int
		cmd     []string
		cmdSh   bool
		cmdLine int
	}
	for i, w := range []want{
		{[]string{"/sbin/tini", "--"}, false, 3, []string{"./server"}, false, 4},
		{[]string{"/sbin/tini", "--"}, false, 3, []string{"./server"}, false, 4}, // inherited
		{[]string{"/entry.sh"}, true, 9, nil, false, 0},                          // ENTRYPOINT clears inherited CMD
		{[]string{"/sbin/tini", "--"}, false, 3, []string{`echo "$HOME"`}, true, 12},
	} {
		s := f.Stages[i]
		if fmt.Sprint(s.Entrypoint) != fmt.Sprint(w.ep) || s.EntrypointShell != w.epShell || s.EntrypointLine != w.epLine {
			t.Errorf("stage %d: entrypoint %q shell=%v line %d, want %q %v %d", i, s.Entrypoint, s.EntrypointShell, s.EntrypointLine, w.ep, w.epShell, w.epLine)
		}
		if fmt.Sprint(s.Cmd) != fmt.Sprint(w.cmd) || s.CmdShell != w.cmdSh || s.CmdLine != w.cmdLine {
			t.Errorf("stage %d: cmd %q shell=%v line %d, want %q %v %d", i, s.Cmd, s.CmdShell, s.CmdLine, w.cmd, w.cmdSh, w.cmdLine)
		}
	}

	f = parseFile(t, "workdir")
	for i, w := range []struct {
		dir  string
		line int
	}{{"/srv/app/data", 5}, {"/abs", 8}, {"/rel", 11}} {
		if s := f.Stages[i]; s.Workdir != w.dir || s.WorkdirLine != w.line {
			t.Errorf("stage %d: workdir %q line %d, want %q line %d", i, s.Workdir, s.WorkdirLine, w.dir, w.line)
		}
	}
	f = parseFile(t, "solution")
	if s := f.Final(); s.Workdir != "/app" || s.WorkdirLine != 15 || fmt.Sprint(s.Cmd) != "[./server]" || s.CmdShell || s.CmdLine != 24 {
		t.Errorf("solution final: workdir %q@%d cmd %q shell=%v @%d", s.Workdir, s.WorkdirLine, s.Cmd, s.CmdShell, s.CmdLine)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
		msg  string // substring
	}{
		{"err-unknown-instruction", 4, "unknown instruction: FORM (did you mean FROM?)"},
		{"err-no-from", 2, "no FROM"},
		{"err-run-before-from", 2, "RUN before the first FROM"},
		{"err-empty", 0, "empty"},
		{"err-add-from", 3, "unknown flag: --from"},
		{"err-stage-name", 1, `invalid name for build stage: "1builder"`},
		{"err-heredoc", 2, "unterminated heredoc"},
		{"err-blank-base", 2, "base name ($BASE) should not be blank"},
		{"err-copy-args", 3, "COPY requires at least two arguments"},
		{"err-escape", 1, "invalid escape token"},
		{"# comment only\n\n", 0, "empty"},
		{"FROM alpine\nUSER ${X:?set X}\n", 2, "set X"},
		{"FROM alpine\nrun\n", 0, ""}, // RUN without arguments parses in BuildKit
	} {
		name := tc.in
		t.Run(name, func(t *testing.T) {
			data := []byte(tc.in)
			if !strings.Contains(tc.in, "\n") {
				var err error
				data, err = os.ReadFile(filepath.Join("testdata", tc.in+".Dockerfile"))
				if err != nil {
					t.Fatal(err)
				}
			}
			_, err := Parse("Dockerfile.multistage", data)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is no *ParseError", err, err)
			}
			if pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("got line %d %q, want line %d containing %q", pe.Line, pe.Msg, tc.line, tc.msg)
			}
			if pe.Name != "Dockerfile.multistage" || !strings.HasPrefix(pe.Error(), "Dockerfile.multistage") {
				t.Errorf("Error() = %q does not name the file", pe.Error())
			}
		})
	}
}

func TestLookupAndLabels(t *testing.T) {
	f := parseFile(t, "copy-later-name")
	if s := f.Lookup("LATE"); s == nil || s.Index != 1 {
		t.Errorf("Lookup(LATE) = %v", s)
	}
	if s := f.Lookup("1"); s == nil || s.Index != 1 {
		t.Errorf("Lookup(1) = %v", s)
	}
	for _, ref := range []string{"2", "-1", "nope", ""} {
		if s := f.Lookup(ref); s != nil {
			t.Errorf("Lookup(%q) = %v, want nil", ref, s)
		}
	}
	f = parseFile(t, "from-stage")
	if got, want := f.Stages[0].String(), "builder (golang:1.21, line 1)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := f.Stages[2].String(), "stage 2 (FROM runtime-base → alpine:3.18, line 9)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

func TestImages(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"alpine:3.18", "docker.io/library/alpine:3.18", true},
		{"alpine", "alpine:latest", true},
		{"alpine", "index.docker.io/library/alpine:latest", true},
		{"library/golang:1.21", "golang:1.21", true},
		{"golang:1.21", "golang:1.21-alpine", false},
		{"alpine:3.18", "alpine:3.19", false},
		{"scratch", "SCRATCH", true},
		{"scratch", "alpine", false},
		{"ghcr.io/foo/bar", "ghcr.io/foo/bar:latest", true},
		{"localhost:5000/app", "localhost:5000/app:latest", true},
		{"Not A Ref", "not a ref", true},
	} {
		if got := SameImage(tc.a, tc.b); got != tc.same {
			t.Errorf("SameImage(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
	if got := NormalizeImage("alpine"); got != "docker.io/library/alpine:latest" {
		t.Errorf("NormalizeImage(alpine) = %q", got)
	}
	if got := FamiliarImage("docker.io/library/alpine"); got != "alpine:latest" {
		t.Errorf("FamiliarImage = %q", got)
	}
}

func TestIsRoot(t *testing.T) {
	for user, want := range map[string]bool{
		"root": true, "0": true, "0:0": true, "root:root": true, "00": true, ":1000": true, "0:1000": true,
		"": false, "appuser": false, "1000": false, "1000:0": false, "65534:65534": false, "nobody": false, "rootless": false,
	} {
		if got := IsRoot(user); got != want {
			t.Errorf("IsRoot(%q) = %v, want %v", user, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	const good = "FROM golang:1.21 AS builder\nFROM alpine:3.18\nCOPY --from=builder /a /a\n"
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "Dockerfile.multistage"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	setup := func(t *testing.T, fn func(dir string)) string {
		dir := t.TempDir()
		fn(dir)
		return dir
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(old, new string) {
		if err := os.Symlink(old, new); err != nil {
			t.Skipf("symlinks unsupported: %v", err)
		}
	}
	const name = "Dockerfile.multistage"
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		ok    bool
		check func(t *testing.T, err error)
	}{
		{"regular", func(dir string) { write(filepath.Join(dir, name), good) }, true, nil},
		{"missing", func(string) {}, false, func(t *testing.T, err error) {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("err %v does not wrap fs.ErrNotExist", err)
			}
		}},
		{"symlink inside", func(dir string) {
			write(filepath.Join(dir, "real.Dockerfile"), good)
			symlink("real.Dockerfile", filepath.Join(dir, name))
		}, true, nil},
		{"symlink outside", func(dir string) {
			symlink(filepath.Join(outside, name), filepath.Join(dir, name))
		}, false, func(t *testing.T, err error) {
			var oe *OutsideError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), "outside the submission folder") {
				t.Errorf("err %v, want *OutsideError", err)
			}
		}},
		{"relative symlink outside", func(dir string) {
			rel, err := filepath.Rel(dir, filepath.Join(outside, name))
			if err != nil {
				t.Fatal(err)
			}
			symlink(rel, filepath.Join(dir, name))
		}, false, func(t *testing.T, err error) {
			var oe *OutsideError
			if !errors.As(err, &oe) {
				t.Errorf("err %v, want *OutsideError", err)
			}
		}},
		{"dangling symlink outside", func(dir string) {
			symlink("/nonexistent/elsewhere/Dockerfile", filepath.Join(dir, name))
		}, false, func(t *testing.T, err error) {
			var oe *OutsideError
			if !errors.As(err, &oe) {
				t.Errorf("err %v, want *OutsideError", err)
			}
		}},
		{"dangling symlink inside", func(dir string) {
			symlink("gone.Dockerfile", filepath.Join(dir, name))
		}, false, func(t *testing.T, err error) {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("err %v does not wrap fs.ErrNotExist", err)
			}
		}},
		{"directory", func(dir string) {
			if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
				t.Fatal(err)
			}
		}, false, func(t *testing.T, err error) {
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "directory") {
				t.Errorf("err %v, want ErrNotRegular (directory)", err)
			}
		}},
		{"too large", func(dir string) {
			write(filepath.Join(dir, name), good+"#"+strings.Repeat("x", MaxSize)+"\n")
		}, false, func(t *testing.T, err error) {
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("err %v, want ErrTooLarge", err)
			}
		}},
		{"parse error", func(dir string) { write(filepath.Join(dir, name), "FORM alpine\n") }, false, func(t *testing.T, err error) {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line != 1 {
				t.Errorf("err %v, want *ParseError at line 1", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := setup(t, tc.setup)
			f, err := Load(dir, name)
			if tc.ok {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if f.Name != name || len(f.Stages) != 2 || f.Final().CopiesFrom[0].Stage != f.Stages[0] {
					t.Errorf("unexpected model:\n%s", dump(f, nil))
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			tc.check(t, err)
		})
	}

	// The submission folder itself may be reached through a symlink.
	real := t.TempDir()
	write(filepath.Join(real, name), good)
	link := filepath.Join(t.TempDir(), "sub")
	symlink(real, link)
	if _, err := Load(link, name); err != nil {
		t.Errorf("Load through a symlinked folder: %v", err)
	}
	// Names must stay inside.
	if _, err := Load(real, "../"+name); err == nil {
		t.Error("Load(../name) succeeded")
	}
}
