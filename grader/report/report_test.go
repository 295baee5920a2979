package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fatih/color"

	"github.com/gradelab/grade/grader"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testLab is a small lab with the contract's seven checkpoints.
func testLab() *grader.Lab {
	return &grader.Lab{
		ID:         "multistage",
		Title:      "Lab 2: Multi-Stage Build Migration",
		Dockerfile: "Dockerfile.multistage",
		SizeLimit:  20_000_000,
		Port:       8080,
		Checkpoints: []grader.Checkpoint{
			{N: 1, Title: "Multi-stage builds use multiple FROM statements"},
			{N: 2, Title: "Earlier stages can build artifacts"},
			{N: 3, Title: "COPY --from=<stage> copies files between stages"},
			{N: 4, Title: "Only the final stage becomes the image"},
			{N: 5, Title: "Build stages can use different base images"},
			{N: 6, Title: "Static binaries (CGO_ENABLED=0) enable minimal base images"},
			{N: 7, Title: "scratch is the ultimate minimal base (0MB)"},
		},
	}
}

// spec is one check of the contract: id, title, checkpoint, points, bonus.
type spec struct {
	id, title  string
	checkpoint int
	points     int
	bonus      bool
}

var specs = []spec{
	{"dockerfile.found", "Dockerfile.multistage exists and parses", 0, 5, false},
	{"dockerfile.multi-stage", "At least two FROM stages", 1, 10, false},
	{"dockerfile.copy-from", "Final stage copies from an earlier stage", 3, 10, false},
	{"dockerfile.distinct-bases", "Final stage uses a different base image", 5, 5, false},
	{"dockerfile.non-root", "Final stage sets a non-root USER", 0, 5, false},
	{"image.build", "The image builds", 2, 10, false},
	{"image.size", "Final image is at most 20 MB", 4, 15, false},
	{"image.no-toolchain", "No Go toolchain or sources in the image", 4, 5, false},
	{"image.static-binary", "The server is a static binary", 6, 5, false},
	{"image.non-root", "The image runs as a non-root user", 0, 5, false},
	{"runtime.start", "The container starts and answers on port 8080", 0, 5, false},
	{"runtime.non-root", "The server process is not root", 0, 5, false},
	{"runtime.health", "GET /health reports healthy", 0, 5, false},
	{"runtime.info", "GET /info returns the service info", 0, 5, false},
	{"runtime.echo", "POST /echo echoes the message", 0, 5, false},
	{"bonus.scratch", "Dockerfile.scratch runs FROM scratch", 7, 10, true},
}

// outcome overrides the passing default of one check.
type outcome struct {
	status     grader.Status
	msg, hint  string
	file       string
	line       int
	durationMS int64
}

// newReport builds a finished report: every check passes unless overridden.
func newReport(submission string, over map[string]outcome) *grader.Report {
	lab := testLab()
	r := &grader.Report{
		SchemaVersion: grader.SchemaVersion,
		Lab:           lab.ID,
		LabTitle:      lab.Title,
		Submission:    submission,
		GraderVersion: "v0.0.0-test",
		StartedAt:     time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC),
		DurationMS:    48213,
		SizeLimit:     lab.SizeLimit,
	}
	for i, s := range specs {
		res := grader.Result{
			ID:         s.id,
			Title:      s.title,
			Required:   !s.bonus,
			Status:     grader.StatusPass,
			MaxScore:   s.points,
			Message:    "ok: " + s.title,
			DurationMS: int64(3*i+1) * 7,
		}
		if s.checkpoint != 0 {
			n := s.checkpoint
			res.Checkpoint = &n
		}
		if o, ok := over[s.id]; ok {
			res.Status, res.Message, res.Hint = o.status, o.msg, o.hint
			res.File, res.Line = o.file, o.line
			if o.durationMS != 0 {
				res.DurationMS = o.durationMS
			}
		}
		r.Checks = append(r.Checks, res)
	}
	r.Finish(lab)
	return r
}

func passingReport() *grader.Report {
	r := newReport("alice", map[string]outcome{
		"image.size": {status: grader.StatusPass, msg: "6.83 MB (6834567 bytes), limit 20 MB", durationMS: 1234},
	})
	r.Image = &grader.ImageSummary{
		ID:        "sha256:4f1c2a9d0e",
		SizeBytes: 6834567,
		User:      "appuser",
		Layers: []grader.Layer{
			{CreatedBy: "ADD alpine-minirootfs-3.18.12-x86_64.tar.gz / # buildkit", SizeBytes: 5_000_000},
			{CreatedBy: "COPY /app/server . # buildkit", SizeBytes: 1_805_433},
			{CreatedBy: "RUN /bin/sh -c adduser -D -u 1000 appuser # buildkit", SizeBytes: 29_134},
		},
	}
	r.Baseline = &grader.ImageSummary{ID: "sha256:9a8b7c", SizeBytes: 1_102_000_000, User: "", Layers: nil}
	return r
}

func buildLog() string {
	var b strings.Builder
	b.WriteString("#0 building with \"default\" instance using docker driver\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, "#%d [internal] step %d\n", i, i)
	}
	b.WriteString("#13 [builder 5/5] RUN CGO_ENABLED=0 GOOS=linux go build -ldflags=\"-w -s\" -o server .\n")
	b.WriteString("#13 0.412 main.go:14:2: undefined: handler\n")
	b.WriteString("#13 ERROR: process \"/bin/sh -c go build -o server .\" did not complete successfully: exit code: 1\n")
	b.WriteString("------\n > [builder 5/5] RUN go build:\n0.412 main.go:14:2: undefined: handler\n------\n")
	b.WriteString("\x1b[31mERROR: failed to solve: exit code: 1\x1b[0m\n")
	return b.String()
}

func failingReport() *grader.Report {
	skipBuild := outcome{status: grader.StatusSkip, msg: "skipped: the image did not build"}
	r := newReport("bob", map[string]outcome{
		"dockerfile.copy-from": {status: grader.StatusFail,
			msg:  "the final stage (FROM alpine:3.18) copies nothing from an earlier stage; it has COPY . . from the build context",
			hint: "Copy only the compiled binary out of the builder stage: COPY --from=builder /app/server . — the final image then holds the program but not the Go toolchain or your sources.",
			file: "Dockerfile.multistage", line: 9},
		"dockerfile.non-root": {status: grader.StatusFail,
			msg:  "the final stage has no USER instruction, so the container runs as root",
			hint: "Add RUN adduser -D -u 1000 appuser and USER appuser to the final stage.",
			file: "Dockerfile.multistage", line: 7},
		"image.build": {status: grader.StatusFail,
			msg:  "docker build failed at RUN go build (exit code 1)",
			hint: "Run docker build -f Dockerfile.multistage . yourself and fix the first error it shows; the build log's last lines are below.",
			file: "Dockerfile.multistage", line: 5, durationMS: 20417},
		"image.size":          skipBuild,
		"image.no-toolchain":  skipBuild,
		"image.static-binary": skipBuild,
		"image.non-root":      skipBuild,
		"runtime.start":       skipBuild,
		"runtime.non-root":    skipBuild,
		"runtime.health":      skipBuild,
		"runtime.info":        skipBuild,
		"runtime.echo":        skipBuild,
		"bonus.scratch":       {status: grader.StatusSkip, msg: "Dockerfile.scratch is absent (optional, Part 8)"},
	})
	r.BuildLog = buildLog()
	return r
}

func ungradableReport() *grader.Report {
	skip := outcome{status: grader.StatusSkip, msg: "skipped: the image could not be built"}
	r := newReport("carol", map[string]outcome{
		"image.build": {status: grader.StatusError,
			msg: "Docker is unreachable: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"},
		"image.size":          skip,
		"image.no-toolchain":  skip,
		"image.static-binary": skip,
		"image.non-root":      skip,
		"runtime.start":       skip,
		"runtime.non-root":    skip,
		"runtime.health":      skip,
		"runtime.info":        skip,
		"runtime.echo":        skip,
		"bonus.scratch":       skip,
	})
	return r
}

// nastyReport carries text that every format must escape.
func nastyReport() *grader.Report {
	r := newReport("eve <&> \"quoted\" | pipe", map[string]outcome{
		"image.build": {status: grader.StatusFail,
			msg:  "line1 | with <tag> & \x1b[31mred\x1b[0m ]]> `tick` *star* _u_\nline2\x07",
			hint: "use --from=<stage> | not \"this\"",
			file: "Dockerfile.multistage", line: 3},
		"runtime.echo": {status: grader.StatusError, msg: "probe: \x00weird\x1b]0;title\x07 bytes \xff"},
		"runtime.info": {status: grader.StatusSkip, msg: "skip <because>"},
	})
	r.BuildLog = "step 1\r\nprogress 10%\rprogress 100%\n\x1b[1mbold\x1b[0m ]]> <x> & ```fence```\n"
	return r
}

var cases = []struct {
	name string
	r    func() *grader.Report
}{
	{"passing", passingReport},
	{"failing", failingReport},
	{"ungradable", ungradableReport},
}

func render(t *testing.T, format string, r *grader.Report, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, format, r, o); err != nil {
		t.Fatalf("Render(%s): %v", format, err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, c := range cases {
		for _, f := range Formats() {
			t.Run(c.name+"."+f, func(t *testing.T) {
				got := render(t, f, c.r(), Options{})
				path := filepath.Join("testdata", c.name+"."+f)
				if *update {
					if err := os.MkdirAll("testdata", 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
				}
			})
		}
	}
}

func TestScores(t *testing.T) {
	p, f, u := passingReport(), failingReport(), ungradableReport()
	if p.Score != 100 || p.MaxScore != 100 || p.BonusScore != 10 || !p.Passed || !p.Gradable {
		t.Errorf("passing: %d/%d +%d passed=%v gradable=%v", p.Score, p.MaxScore, p.BonusScore, p.Passed, p.Gradable)
	}
	if f.Passed || !f.Gradable || f.Score != 20 {
		t.Errorf("failing: score %d passed=%v gradable=%v", f.Score, f.Passed, f.Gradable)
	}
	if u.Gradable || u.ExitCode() != 2 {
		t.Errorf("ungradable: gradable=%v exit=%d", u.Gradable, u.ExitCode())
	}
}

func TestFormats(t *testing.T) {
	want := []string{"text", "json", "junit", "markdown", "classroom", "gradescope"}
	if got := Formats(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Formats() = %v, want %v", got, want)
	}
	err := Render(&bytes.Buffer{}, "html", passingReport(), Options{})
	if err == nil {
		t.Fatal("Render with an unknown format succeeded")
	}
	for _, f := range want {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not list %q", err, f)
		}
	}
	if err := Render(&bytes.Buffer{}, "json", nil, Options{}); err == nil {
		t.Error("Render of a nil report succeeded")
	}
}

// TestDirect checks that each exported function writes what Render does.
func TestDirect(t *testing.T) {
	r := failingReport()
	direct := map[string]func(*bytes.Buffer) error{
		"text":       func(b *bytes.Buffer) error { return Text(b, r, Options{}) },
		"json":       func(b *bytes.Buffer) error { return JSON(b, r) },
		"junit":      func(b *bytes.Buffer) error { return JUnit(b, r) },
		"markdown":   func(b *bytes.Buffer) error { return Markdown(b, r) },
		"classroom":  func(b *bytes.Buffer) error { return Classroom(b, r) },
		"gradescope": func(b *bytes.Buffer) error { return Gradescope(b, r) },
	}
	for _, f := range Formats() {
		var b bytes.Buffer
		if err := direct[f](&b); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !bytes.Equal(b.Bytes(), render(t, f, r, Options{})) {
			t.Errorf("%s: the direct function and Render differ", f)
		}
	}
}

func allReports() map[string]*grader.Report {
	m := map[string]*grader.Report{"nasty": nastyReport(), "empty": {Gradable: true, Passed: true}}
	for _, c := range cases {
		m[c.name] = c.r()
	}
	return m
}

func TestJSONRoundTrip(t *testing.T) {
	for name, r := range allReports() {
		out := render(t, "json", r, Options{})
		var back grader.Report
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if back.Score != r.Score || back.MaxScore != r.MaxScore || back.BonusScore != r.BonusScore ||
			back.Passed != r.Passed || back.Gradable != r.Gradable || len(back.Checks) != len(r.Checks) ||
			!back.StartedAt.Equal(r.StartedAt) || back.Submission != r.Submission {
			t.Errorf("%s: round trip changed the report", name)
		}
		var raw map[string]any
		if err := json.Unmarshal(out, &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"schema_version", "lab", "submission", "grader_version", "started_at",
			"duration_ms", "score", "max_score", "bonus_score", "passed", "gradable", "checkpoints", "checks"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("%s: field %q missing", name, k)
			}
		}
		for _, k := range []string{"checks", "checkpoints"} {
			if _, ok := raw[k].([]any); !ok {
				t.Errorf("%s: %q is %v, want a list", name, k, raw[k])
			}
		}
		checks, _ := raw["checks"].([]any)
		for i, c := range checks {
			m := c.(map[string]any)
			cp, ok := m["checkpoint"]
			if !ok {
				t.Errorf("%s: check %d has no checkpoint field", name, i)
			}
			if r.Checks[i].Checkpoint == nil && cp != nil {
				t.Errorf("%s: check %s checkpoint = %v, want null", name, r.Checks[i].ID, cp)
			}
			for _, k := range []string{"id", "title", "required", "status", "score", "max_score", "message", "hint", "duration_ms"} {
				if _, ok := m[k]; !ok {
					t.Errorf("%s: check %d lacks %q", name, i, k)
				}
			}
		}
		cps, _ := raw["checkpoints"].([]any)
		for _, c := range cps {
			if _, ok := c.(map[string]any)["checks"].([]any); !ok {
				t.Errorf("%s: a checkpoint's checks is not a list", name)
			}
		}
	}
}

// junit mirrors the XML for decoding.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Time       string `xml:"time,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string    `xml:"name,attr"`
			Classname string    `xml:"classname,attr"`
			Time      string    `xml:"time,attr"`
			Failure   *struct{} `xml:"failure"`
			Error     *struct{} `xml:"error"`
			Skipped   *struct{} `xml:"skipped"`
		} `xml:"testcase"`
		SystemOut string `xml:"system-out"`
	} `xml:"testsuite"`
}

func TestJUnitParses(t *testing.T) {
	for name, r := range allReports() {
		out := render(t, "junit", r, Options{})
		var doc junitDoc
		if err := xml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if len(doc.Suites) != 1 {
			t.Fatalf("%s: %d suites, want 1", name, len(doc.Suites))
		}
		s := doc.Suites[0]
		var fail, errs, skip int
		for _, c := range r.Checks {
			switch c.Status {
			case grader.StatusFail:
				fail++
			case grader.StatusError:
				errs++
			case grader.StatusSkip:
				skip++
			}
		}
		if s.Tests != len(r.Checks) || s.Failures != fail || s.Errors != errs || s.Skipped != skip ||
			doc.Tests != len(r.Checks) || doc.Failures != fail || doc.Errors != errs {
			t.Errorf("%s: counts tests=%d failures=%d errors=%d skipped=%d, want %d %d %d %d",
				name, s.Tests, s.Failures, s.Errors, s.Skipped, len(r.Checks), fail, errs, skip)
		}
		var nf, ne, ns int
		for i, c := range s.Cases {
			want := r.Checks[i]
			if c.Name != want.ID || c.Classname != strings.SplitN(want.ID, ".", 2)[0] {
				t.Errorf("%s: testcase %q classname %q for check %s", name, c.Name, c.Classname, want.ID)
			}
			if d, _, ok := strings.Cut(c.Time, "."); !ok || len(c.Time)-len(d)-1 > 3 {
				t.Errorf("%s: testcase time %q", name, c.Time)
			}
			if c.Failure != nil {
				nf++
			}
			if c.Error != nil {
				ne++
			}
			if c.Skipped != nil {
				ns++
			}
		}
		if len(s.Cases) != len(r.Checks) || nf != fail || ne != errs || ns != skip {
			t.Errorf("%s: elements failure=%d error=%d skipped=%d, want %d %d %d", name, nf, ne, ns, fail, errs, skip)
		}
		props := map[string]string{}
		for _, p := range s.Properties {
			props[p.Name] = p.Value
		}
		for k, v := range map[string]string{
			"score": strconv.Itoa(r.Score), "max_score": strconv.Itoa(r.MaxScore),
			"bonus_score": strconv.Itoa(r.BonusScore), "passed": strconv.FormatBool(r.Passed),
			"gradable": strconv.FormatBool(r.Gradable),
		} {
			if props[k] != v {
				t.Errorf("%s: property %s = %q, want %q", name, k, props[k], v)
			}
		}
		if (r.BuildLog != "") != (strings.TrimSpace(s.SystemOut) != "") {
			t.Errorf("%s: suite system-out %q with build log %q", name, s.SystemOut, r.BuildLog)
		}
	}
}

// xsdPath finds the contract's copy of the Jenkins xUnit schema,
// shared/schemas/junit-jenkins-xunit-10.xsd, beside the repository
// (../shared from its root) or in any folder above this package.
func xsdPath(t *testing.T) string {
	t.Helper()
	const rel = "shared/schemas/junit-jenkins-xunit-10.xsd"
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("cannot find %s in any folder above the package", rel)
		}
		dir = parent
	}
}

func TestJUnitValidatesAgainstSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint not found: install libxml2-utils (apt-get install -y libxml2-utils) to validate the JUnit output against the Jenkins xUnit schema")
	}
	xsd := xsdPath(t)
	dir := t.TempDir()
	for name, r := range allReports() {
		file := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(file, render(t, "junit", r, Options{}), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(xmllint, "--noout", "--schema", xsd, file).CombinedOutput()
		if err != nil {
			t.Errorf("%s: xmllint: %v\n%s", name, err, out)
		}
	}
}

func TestClassroom(t *testing.T) {
	for name, r := range allReports() {
		out := render(t, "classroom", r, Options{})
		if !bytes.HasSuffix(out, []byte("\n")) || bytes.Count(out, []byte("\n")) != 1 {
			t.Errorf("%s: want one base64 line ending in a newline, got %q", name, out)
		}
		js, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(string(out), "\n"))
		if err != nil {
			t.Fatalf("%s: base64: %v", name, err)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.UseNumber()
		var res struct {
			Version  json.Number `json:"version"`
			Status   string      `json:"status"`
			MaxScore json.Number `json:"max_score"`
			Tests    []struct {
				Name     string      `json:"name"`
				Status   string      `json:"status"`
				Score    json.Number `json:"score"`
				Message  *string     `json:"message"`
				TestCode *string     `json:"test_code"`
				Filename *string     `json:"filename"`
				LineNo   json.Number `json:"line_no"`
				Duration json.Number `json:"duration"`
			} `json:"tests"`
		}
		if err := dec.Decode(&res); err != nil {
			t.Fatalf("%s: json: %v\n%s", name, err, js)
		}
		if res.Version.String() != "1" {
			t.Errorf("%s: version %s", name, res.Version)
		}
		wantStatus := "pass"
		if !r.Gradable {
			wantStatus = "error"
		} else if !r.Passed {
			wantStatus = "fail"
		}
		if res.Status != wantStatus {
			t.Errorf("%s: status %q, want %q", name, res.Status, wantStatus)
		}
		if m, err := res.MaxScore.Int64(); err != nil || m <= 0 || (r.MaxScore > 0 && m != int64(r.MaxScore)) {
			t.Errorf("%s: max_score %s (report %d)", name, res.MaxScore, r.MaxScore)
		}
		if len(res.Tests) != len(r.Checks) {
			t.Fatalf("%s: %d tests for %d checks", name, len(res.Tests), len(r.Checks))
		}
		sum := int64(0)
		for i, tc := range res.Tests {
			c := r.Checks[i]
			s, err := tc.Score.Int64()
			if err != nil {
				t.Errorf("%s: test %q score %q is not an integer", name, tc.Name, tc.Score)
			}
			sum += s
			if l, err := tc.LineNo.Int64(); err != nil || l != int64(c.Line) {
				t.Errorf("%s: test %q line_no %q, want %d", name, tc.Name, tc.LineNo, c.Line)
			}
			if _, err := tc.Duration.Int64(); err != nil {
				t.Errorf("%s: test %q duration %q", name, tc.Name, tc.Duration)
			}
			if tc.Message == nil || tc.TestCode == nil || tc.Filename == nil || !strings.HasPrefix(tc.Name, c.ID) {
				t.Errorf("%s: test %d (%s) is missing fields", name, i, c.ID)
			}
			want := map[grader.Status]string{grader.StatusPass: "pass", grader.StatusFail: "fail",
				grader.StatusSkip: "fail", grader.StatusError: "error"}[c.Status]
			if tc.Status != want {
				t.Errorf("%s: test %s status %q, want %q", name, c.ID, tc.Status, want)
			}
			if c.Status == grader.StatusSkip && !strings.Contains(*tc.Message, "skipped") {
				t.Errorf("%s: skipped test %s message %q does not say so", name, c.ID, *tc.Message)
			}
			if !c.Required && (s != 0 || !strings.Contains(*tc.Message, "bonus")) {
				t.Errorf("%s: bonus test %s scores %d, message %q", name, c.ID, s, *tc.Message)
			}
		}
		if sum != int64(r.Score) {
			t.Errorf("%s: tests add up to %d, report score %d", name, sum, r.Score)
		}
	}
}

func TestGradescope(t *testing.T) {
	for name, r := range allReports() {
		out := render(t, "gradescope", r, Options{})
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var res struct {
			Score         json.Number `json:"score"`
			ExecutionTime json.Number `json:"execution_time"`
			Output        string      `json:"output"`
			Tests         []struct {
				Name       string      `json:"name"`
				Number     string      `json:"number"`
				Score      json.Number `json:"score"`
				MaxScore   json.Number `json:"max_score"`
				Status     string      `json:"status"`
				Output     *string     `json:"output"`
				Visibility string      `json:"visibility"`
			} `json:"tests"`
		}
		if err := dec.Decode(&res); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		score, err := res.Score.Int64()
		if err != nil || score != int64(r.Score+r.BonusScore) {
			t.Errorf("%s: score %s, want %d", name, res.Score, r.Score+r.BonusScore)
		}
		if et, err := res.ExecutionTime.Int64(); err != nil || et != (r.DurationMS+500)/1000 {
			t.Errorf("%s: execution_time %s", name, res.ExecutionTime)
		}
		if res.Output == "" {
			t.Errorf("%s: empty output", name)
		}
		if len(res.Tests) != len(r.Checks) {
			t.Fatalf("%s: %d tests for %d checks", name, len(res.Tests), len(r.Checks))
		}
		var sum, maxSum int64
		for i, tc := range res.Tests {
			c := r.Checks[i]
			s, err1 := tc.Score.Int64()
			m, err2 := tc.MaxScore.Int64()
			if err1 != nil || err2 != nil {
				t.Errorf("%s: test %s score %s max %s", name, c.ID, tc.Score, tc.MaxScore)
			}
			sum += s
			maxSum += m
			if tc.Number != strconv.Itoa(i+1) || !strings.HasPrefix(tc.Name, c.ID+": "+c.Title) ||
				tc.Visibility != "visible" || tc.Output == nil {
				t.Errorf("%s: test %d = %+v", name, i, tc)
			}
			want := "failed"
			if c.Status == grader.StatusPass {
				want = "passed"
			}
			if tc.Status != want {
				t.Errorf("%s: test %s status %q, want %q", name, c.ID, tc.Status, want)
			}
			if !c.Required && m != 0 {
				t.Errorf("%s: bonus test %s max_score %d, want 0 (extra credit)", name, c.ID, m)
			}
		}
		if sum != score || maxSum != int64(r.MaxScore) {
			t.Errorf("%s: tests add up to %d/%d, want %d/%d", name, sum, maxSum, score, r.MaxScore)
		}
	}
}

func TestTextColor(t *testing.T) {
	r := failingReport()
	if out := render(t, "text", r, Options{Color: false}); bytes.IndexByte(out, 0x1b) >= 0 {
		t.Errorf("Color false wrote an escape sequence:\n%q", out)
	}
	if out := render(t, "text", r, Options{Color: true}); bytes.IndexByte(out, 0x1b) < 0 {
		t.Error("Color true wrote no escape sequence")
	}

	// The caller decides: neither NO_COLOR nor the package-global switch of
	// fatih/color may override Options.Color, in either direction.
	saved := color.NoColor
	defer func() { color.NoColor = saved }()
	t.Setenv("NO_COLOR", "1")
	color.NoColor = true
	if out := render(t, "text", r, Options{Color: true}); bytes.IndexByte(out, 0x1b) < 0 {
		t.Error("Color true wrote no escape sequence with NO_COLOR set")
	}
	os.Unsetenv("NO_COLOR")
	color.NoColor = false
	if out := render(t, "text", r, Options{Color: false}); bytes.IndexByte(out, 0x1b) >= 0 {
		t.Error("Color false wrote an escape sequence with color.NoColor = false")
	}

	// Escape sequences from the outside (build log, messages) never pass.
	if out := render(t, "text", nastyReport(), Options{Verbose: true}); bytes.IndexByte(out, 0x1b) >= 0 {
		t.Errorf("escape sequences from messages leaked:\n%q", out)
	}
}

func TestTextContents(t *testing.T) {
	p := string(render(t, "text", passingReport(), Options{}))
	for _, want := range []string{
		"Lab 2: Multi-Stage Build Migration", "Submission  alice",
		"Image size  6.83 MB / 20 MB  ✔", "Baseline    1.1 GB → 6.83 MB (161× smaller)",
		"Score 100/100  (+10 bonus)", "PASSED",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("passing scorecard lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "hint:") {
		t.Errorf("passing scorecard has hints:\n%s", p)
	}

	f := string(render(t, "text", failingReport(), Options{}))
	for _, want := range []string{
		"✘ dockerfile.copy-from", "Dockerfile.multistage:9:", "hint: Copy only the compiled binary",
		"– image.size", "build log (last 15 of", "ERROR: failed to solve: exit code: 1", "Score 20/100", "FAILED",
	} {
		if !strings.Contains(f, want) {
			t.Errorf("failing scorecard lacks %q:\n%s", want, f)
		}
	}
	if strings.Contains(f, "#1 [internal] step 1\n") {
		t.Errorf("failing scorecard shows more than the build log's tail:\n%s", f)
	}
	for _, line := range strings.Split(f, "\n") {
		// Messages and hints are wrapped; log lines are shown as they are.
		if n := len([]rune(line)); n > textWidth && strings.HasPrefix(line, "      ") && !strings.Contains(line, "│") {
			t.Errorf("line of %d runes: %q", n, line)
		}
	}

	u := string(render(t, "text", ungradableReport(), Options{}))
	for _, want := range []string{"! image.build", "Docker is unreachable",
		"NOT GRADED — the grader could not grade this submission (exit 2)"} {
		if !strings.Contains(u, want) {
			t.Errorf("ungradable scorecard lacks %q:\n%s", want, u)
		}
	}

	v := string(render(t, "text", passingReport(), Options{Verbose: true}))
	for _, want := range []string{"ok: The image builds", "◀ largest", "COPY /app/server ."} {
		if !strings.Contains(v, want) {
			t.Errorf("verbose scorecard lacks %q:\n%s", want, v)
		}
	}
}

func TestMarkdownEscapes(t *testing.T) {
	out := string(render(t, "markdown", nastyReport(), Options{}))
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		// Every unescaped | outside code spans is a cell border: each
		// row of the checks table must have 6 of them.
		if strings.Contains(line, "`runtime.") || strings.Contains(line, "`image.") {
			if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n != 6 {
				t.Errorf("row has %d cell borders: %s", n, line)
			}
		}
	}
	for _, bad := range []string{"<tag>", "\x1b", "<because>"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown contains %q unescaped:\n%s", bad, out)
		}
	}
}
