package main

// Tests of the GitHub Actions integration (actions.go), of the shipped
// workflows in examples/github and of the Gradescope scripts in
// examples/gradescope.
//
// This file is in package main, to call githubActions; main_test.go is in
// package main_test, and its TestMain (which builds grade and needs a Docker
// Engine) runs for these tests too. Select them with
//
//	go test -run 'TestGitHub|TestActions|TestGradescope|TestWorkflow' ./cmd/grade/

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/report"
	"github.com/gradelab/grade/internal/fixture"
)

// ---------------------------------------------------------------------------
// Fabricated reports
// ---------------------------------------------------------------------------

// actionsLab is the contract's lab: the seven checkpoints.
func actionsLab() *grader.Lab {
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

// actionsChecks are the contract's checks: id, checkpoint, points, bonus.
var actionsChecks = []struct {
	id         string
	checkpoint int
	points     int
	bonus      bool
}{
	{"dockerfile.found", 0, 5, false},
	{"dockerfile.multi-stage", 1, 10, false},
	{"dockerfile.copy-from", 3, 10, false},
	{"dockerfile.distinct-bases", 5, 5, false},
	{"dockerfile.non-root", 0, 5, false},
	{"image.build", 2, 10, false},
	{"image.size", 4, 15, false},
	{"image.no-toolchain", 4, 5, false},
	{"image.static-binary", 6, 5, false},
	{"image.non-root", 0, 5, false},
	{"runtime.start", 0, 5, false},
	{"runtime.non-root", 0, 5, false},
	{"runtime.health", 0, 5, false},
	{"runtime.info", 0, 5, false},
	{"runtime.echo", 0, 5, false},
	{"bonus.scratch", 7, 10, true},
}

// fabricate builds a finished report of a submission: every check passes
// unless over changes it.
func fabricate(submission string, over map[string]grader.Result) *grader.Report {
	lab := actionsLab()
	r := &grader.Report{
		SchemaVersion: grader.SchemaVersion,
		Lab:           lab.ID,
		LabTitle:      lab.Title,
		Submission:    submission,
		GraderVersion: "v0.0.0-test",
		StartedAt:     time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC),
		DurationMS:    4200,
		SizeLimit:     lab.SizeLimit,
	}
	for _, s := range actionsChecks {
		c := grader.Result{
			ID:         s.id,
			Title:      "title of " + s.id,
			Required:   !s.bonus,
			Status:     grader.StatusPass,
			MaxScore:   s.points,
			Message:    "ok",
			DurationMS: 10,
		}
		if s.checkpoint != 0 {
			n := s.checkpoint
			c.Checkpoint = &n
		}
		if o, ok := over[s.id]; ok {
			c.Status, c.Message, c.Hint, c.File, c.Line = o.Status, o.Message, o.Hint, o.File, o.Line
		}
		r.Checks = append(r.Checks, c)
	}
	r.Finish(lab)
	return r
}

func passingReport(submission string) *grader.Report {
	r := fabricate(submission, nil)
	r.Image = &grader.ImageSummary{ID: "sha256:4f1c2a9d0e", SizeBytes: 6_834_567, User: "appuser"}
	return r
}

// failingBuildLog holds lines that would be workflow commands if the runner
// took them for some: the student controls what the build prints.
const failingBuildLog = "Step 5/9 : RUN go build -o server .\r\n" +
	" ---> Running in 0123456789ab\n" +
	"::error::injected by the student's build\n" +
	"::add-mask::secret\n" +
	"main.go:14:2: undefined: handler\n" +
	"The command '/bin/sh -c go build -o server .' returned a non-zero code: 1\n"

// failingReport: dockerfile.non-root fails at line 7 of the Dockerfile, and
// the build failed, so every image and runtime check is skipped.
func failingReport(submission string) *grader.Report {
	skip := grader.Result{Status: grader.StatusSkip, Message: "skipped: no image (see image.build)"}
	r := fabricate(submission, map[string]grader.Result{
		"dockerfile.non-root": {Status: grader.StatusFail,
			Message: "the final stage has no USER instruction, so the container runs as root",
			Hint:    "Add RUN adduser -D -u 1000 appuser and USER appuser to the final stage.",
			File:    "Dockerfile.multistage", Line: 7},
		"image.build": {Status: grader.StatusFail,
			Message: "the build failed at RUN go build -o server . (exit code 1)",
			Hint:    "Run docker build -f Dockerfile.multistage . yourself and fix the first error."},
		"image.size": skip, "image.no-toolchain": skip, "image.static-binary": skip,
		"image.non-root": skip, "runtime.start": skip, "runtime.non-root": skip,
		"runtime.health": skip, "runtime.info": skip, "runtime.echo": skip,
		"bonus.scratch": {Status: grader.StatusSkip, Message: "no Dockerfile.scratch"},
	})
	r.BuildLog = failingBuildLog
	return r
}

func ungradableReport(submission string) *grader.Report {
	skip := grader.Result{Status: grader.StatusSkip, Message: "skipped: no image (see image.build)"}
	return fabricate(submission, map[string]grader.Result{
		"image.build": {Status: grader.StatusError,
			Message: "Docker is unreachable: Cannot connect to the Docker daemon at unix:///var/run/docker.sock"},
		"image.size": skip, "image.no-toolchain": skip, "image.static-binary": skip,
		"image.non-root": skip, "runtime.start": skip, "runtime.non-root": skip,
		"runtime.health": skip, "runtime.info": skip, "runtime.echo": skip,
		"bonus.scratch": skip,
	})
}

// ---------------------------------------------------------------------------
// Parsing what githubActions wrote
// ---------------------------------------------------------------------------

// envMap is a getenv over a map.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// actionsEnv is a workspace with a submission folder "lab2" in it, and the
// paths of not yet existing step summary and output files.
type actionsEnv struct {
	workspace, submission, summary, output string
}

func newActionsEnv(t *testing.T) actionsEnv {
	t.Helper()
	ws := t.TempDir()
	sub := filepath.Join(ws, "lab2")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	files := t.TempDir()
	return actionsEnv{ws, sub, filepath.Join(files, "step_summary.md"), filepath.Join(files, "output")}
}

func (e actionsEnv) getenv() func(string) string {
	return envMap(map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_WORKSPACE":    e.workspace,
		"GITHUB_STEP_SUMMARY": e.summary,
		"GITHUB_OUTPUT":       e.output,
	})
}

// parseOutputs reads a $GITHUB_OUTPUT file: name=value lines and
// name<<DELIM … DELIM blocks. A name set twice is an error.
func parseOutputs(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		var name, value string
		if i, j := strings.Index(line, "<<"), strings.Index(line, "="); i > 0 && (j < 0 || i < j) {
			name = line[:i]
			delim := line[i+2:]
			var lines []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				lines = append(lines, sc.Text())
			}
			if !closed {
				t.Fatalf("output %s: no closing delimiter %q", name, delim)
			}
			value = strings.Join(lines, "\n")
		} else if j > 0 {
			name, value = line[:j], line[j+1:]
		} else {
			t.Fatalf("not an output line: %q", line)
		}
		if _, dup := out[name]; dup {
			t.Errorf("output %s is set twice", name)
		}
		out[name] = value
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wfCommand is a parsed workflow command.
type wfCommand struct {
	name    string
	props   map[string]string // unescaped
	message string            // unescaped
	raw     string
}

var unescapeData = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%")
var unescapeProp = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")

// parseCommands returns the workflow commands among the lines of log,
// honouring ::stop-commands::TOKEN … ::TOKEN:: as the runner does.
func parseCommands(t *testing.T, log string) []wfCommand {
	t.Helper()
	var cmds []wfCommand
	stopped := ""
	for _, line := range strings.Split(log, "\n") {
		if stopped != "" {
			if line == "::"+stopped+"::" {
				stopped = ""
			}
			continue
		}
		if !strings.HasPrefix(line, "::") {
			continue
		}
		rest := line[2:]
		head, msg, ok := strings.Cut(rest, "::")
		if !ok {
			t.Fatalf("malformed workflow command %q", line)
		}
		c := wfCommand{props: map[string]string{}, message: unescapeData.Replace(msg), raw: line}
		name, props, _ := strings.Cut(head, " ")
		c.name = name
		if props != "" {
			for _, kv := range strings.Split(props, ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("malformed property %q in %q", kv, line)
				}
				c.props[k] = unescapeProp.Replace(v)
			}
		}
		if c.name == "stop-commands" {
			stopped = msg
		}
		cmds = append(cmds, c)
	}
	if stopped != "" {
		t.Errorf("::stop-commands::%s is never resumed", stopped)
	}
	return cmds
}

func commandsNamed(cmds []wfCommand, names ...string) []wfCommand {
	var out []wfCommand
	for _, c := range cmds {
		if slices.Contains(names, c.name) {
			out = append(out, c)
		}
	}
	return out
}

// classroomResult is what autograding-grading-reporter decodes.
type classroomResult struct {
	Version  int    `json:"version"`
	Status   string `json:"status"`
	MaxScore int    `json:"max_score"`
	Tests    []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Score  int    `json:"score"`
		LineNo int    `json:"line_no"`
	} `json:"tests"`
}

func decodeResult(t *testing.T, b64 string) classroomResult {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("result is not base64: %v\n%q", err, b64)
	}
	var res classroomResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("result is not the classroom JSON: %v\n%s", err, raw)
	}
	return res
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// githubActions
// ---------------------------------------------------------------------------

func TestGitHubActions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report func(string) *grader.Report
		status string // classroom status
	}{
		{"passing", passingReport, "pass"},
		{"failing", failingReport, "fail"},
		{"ungradable", ungradableReport, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newActionsEnv(t)
			rep := tc.report(env.submission)
			var log bytes.Buffer
			if err := githubActions(rep, env.getenv(), &log); err != nil {
				t.Fatal(err)
			}

			// The step summary is the Markdown scorecard.
			summary := readFile(t, env.summary)
			var md bytes.Buffer
			if err := report.Markdown(&md, rep); err != nil {
				t.Fatal(err)
			}
			if summary != md.String() {
				t.Errorf("the step summary is not the Markdown scorecard:\n%s", summary)
			}
			for _, want := range []string{"| `dockerfile.found` |", "|:-:|", "## "} {
				if !strings.Contains(summary, want) {
					t.Errorf("the step summary has no %q:\n%s", want, summary)
				}
			}

			// The step outputs.
			outs := parseOutputs(t, readFile(t, env.output))
			want := map[string]string{
				"score":       fmt.Sprint(rep.Score),
				"max_score":   fmt.Sprint(rep.MaxScore),
				"bonus_score": fmt.Sprint(rep.BonusScore),
				"passed":      fmt.Sprint(rep.Passed),
				"gradable":    fmt.Sprint(rep.Gradable),
			}
			for k, v := range want {
				if outs[k] != v {
					t.Errorf("output %s = %q, want %q", k, outs[k], v)
				}
			}
			var cls bytes.Buffer
			if err := report.Classroom(&cls, rep); err != nil {
				t.Fatal(err)
			}
			if outs["result"] != strings.TrimSuffix(cls.String(), "\n") {
				t.Errorf("output result is not the classroom format:\n got %q\nwant %q", outs["result"], cls.String())
			}
			res := decodeResult(t, outs["result"])
			sum := 0
			for _, tt := range res.Tests {
				sum += tt.Score
			}
			if sum != rep.Score || res.MaxScore != rep.MaxScore || res.Status != tc.status {
				t.Errorf("classroom result: tests add up to %d/%d, status %q; want %d/%d, %q",
					sum, res.MaxScore, res.Status, rep.Score, rep.MaxScore, tc.status)
			}
			if len(res.Tests) != len(rep.Checks) {
				t.Errorf("%d classroom tests for %d checks", len(res.Tests), len(rep.Checks))
			}

			// Exactly one annotation without a file: the verdict.
			cmds := parseCommands(t, log.String())
			var verdict []wfCommand
			for _, c := range commandsNamed(cmds, "error", "warning", "notice") {
				if _, ok := c.props["file"]; !ok {
					verdict = append(verdict, c)
				}
			}
			if len(verdict) != 1 {
				t.Fatalf("%d annotations without a file, want 1 (the verdict):\n%s", len(verdict), log.String())
			}
			v := verdict[0]
			switch tc.name {
			case "passing":
				if v.name != "notice" || v.props["title"] != "Score 100/100 (+10 bonus)" || !strings.Contains(v.message, "PASSED") {
					t.Errorf("verdict %q", v.raw)
				}
				if n := len(commandsNamed(cmds, "error", "warning")); n != 0 {
					t.Errorf("%d error/warning annotations for a passing report:\n%s", n, log.String())
				}
			case "failing":
				if v.name != "error" || v.props["title"] != "Score 30/100" ||
					!strings.Contains(v.message, "FAILED: 2 required checks failed: dockerfile.non-root, image.build.") ||
					!strings.Contains(v.message, "\nimage.build: the build failed at RUN go build") {
					t.Errorf("verdict %q", v.raw)
				}
			case "ungradable":
				if v.name != "error" || v.props["title"] != "Not graded" ||
					!strings.Contains(v.message, "exit 2") || !strings.Contains(v.message, "not your work") ||
					!strings.Contains(v.message, "image.build: Docker is unreachable") {
					t.Errorf("verdict %q", v.raw)
				}
			}
			// The build log is folded only after a failed build.
			if got := strings.Contains(log.String(), "::group::Build log\n"); got != (tc.name == "failing") {
				t.Errorf("build log group present = %v:\n%s", got, log.String())
			}
		})
	}
}

func TestGitHubActionsDockerfileAnnotation(t *testing.T) {
	env := newActionsEnv(t)
	rep := failingReport(env.submission)
	var log bytes.Buffer
	if err := githubActions(rep, env.getenv(), &log); err != nil {
		t.Fatal(err)
	}
	cmds := parseCommands(t, log.String())
	var at []wfCommand
	for _, c := range cmds {
		if c.props["file"] != "" {
			at = append(at, c)
		}
	}
	if len(at) != 1 {
		t.Fatalf("%d annotations at a file, want 1:\n%s", len(at), log.String())
	}
	c := at[0]
	if c.name != "error" || c.props["file"] != "lab2/Dockerfile.multistage" || c.props["line"] != "7" ||
		c.props["title"] != "dockerfile.non-root" {
		t.Errorf("annotation %q: want ::error at lab2/Dockerfile.multistage line 7 titled dockerfile.non-root", c.raw)
	}
	wantMsg := "the final stage has no USER instruction, so the container runs as root\nHint: Add RUN adduser -D -u 1000 appuser and USER appuser to the final stage."
	if c.message != wantMsg {
		t.Errorf("message %q, want %q", c.message, wantMsg)
	}
	// Escaped as the runner wants it: the line break is %0A, the comma in
	// the message stays (only properties escape it).
	if !strings.HasPrefix(c.raw, "::error file=lab2/Dockerfile.multistage,line=7,title=dockerfile.non-root::the final stage has no USER instruction, so the container runs as root%0AHint: ") {
		t.Errorf("raw annotation %q", c.raw)
	}
}

func TestGitHubActionsBuildLogGroup(t *testing.T) {
	env := newActionsEnv(t)
	rep := failingReport(env.submission)
	var log bytes.Buffer
	if err := githubActions(rep, env.getenv(), &log); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)::group::Build log\n::stop-commands::(\S+)\n(.*)::(\S+)::\n::endgroup::\n$`)
	m := re.FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no folded build log with commands stopped at the end of the log:\n%s", log.String())
	}
	if m[1] != m[3] || len(m[1]) < 16 {
		t.Errorf("stop-commands token %q, resumed with %q: want the same unguessable token", m[1], m[3])
	}
	wantLog := strings.ReplaceAll(failingBuildLog, "\r\n", "\n")
	if m[2] != wantLog {
		t.Errorf("folded build log:\n%q\nwant\n%q", m[2], wantLog)
	}
	// The student's "::error::" and "::add-mask::" lines are not commands.
	for _, c := range parseCommands(t, log.String()) {
		if c.name == "add-mask" || strings.Contains(c.message, "injected") {
			t.Errorf("the build log's line %q was taken for a workflow command", c.raw)
		}
	}
	// A second run uses another token.
	var again bytes.Buffer
	if err := githubActions(rep, envMap(nil), &again); err != nil {
		t.Fatal(err)
	}
	if m2 := re.FindStringSubmatch(again.String()); m2 == nil || m2[1] == m[1] {
		t.Errorf("the stop-commands token repeats across runs")
	}
}

func TestGitHubActionsEscaping(t *testing.T) {
	if got := escapeData("100% done\r\nnext: a,b"); got != "100%25 done%0D%0Anext: a,b" {
		t.Errorf("escapeData = %q", got)
	}
	if got := escapeProperty("50%\r\nx: a,b"); got != "50%25%0D%0Ax%3A a%2Cb" {
		t.Errorf("escapeProperty = %q", got)
	}

	// A folder name and a message that need every escape.
	ws := t.TempDir()
	sub := filepath.Join(ws, "a,b:c%d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	rep := fabricate(sub, map[string]grader.Result{
		"dockerfile.copy-from": {Status: grader.StatusFail,
			Message: "100% wrong:\r\nCOPY --from=build, \x1b[31mred\x1b[0m\tand a bell\a",
			File:    "Dockerfile.multistage", Line: 12},
	})
	var log bytes.Buffer
	if err := githubActions(rep, envMap(map[string]string{"GITHUB_WORKSPACE": ws}), &log); err != nil {
		t.Fatal(err)
	}
	want := "::error file=a%2Cb%3Ac%25d/Dockerfile.multistage,line=12,title=dockerfile.copy-from::100%25 wrong:%0ACOPY --from=build, red and a bell\n"
	if !strings.Contains(log.String(), want) {
		t.Errorf("annotation not escaped as expected; want\n%s\nin\n%s", want, log.String())
	}
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.ContainsAny(line, "\r\x1b\a") {
			t.Errorf("a control character reached the log: %q", line)
		}
	}
	cmds := parseCommands(t, log.String())
	if c := cmds[0]; c.props["file"] != "a,b:c%d/Dockerfile.multistage" || c.message != "100% wrong:\nCOPY --from=build, red and a bell" {
		t.Errorf("round trip: file %q, message %q", c.props["file"], c.message)
	}
}

func TestGitHubActionsTruncatesMessages(t *testing.T) {
	env := newActionsEnv(t)
	long := strings.Repeat("é", 5000)
	rep := fabricate(env.submission, map[string]grader.Result{
		"dockerfile.multi-stage": {Status: grader.StatusFail, Message: long, Hint: long,
			File: "Dockerfile.multistage", Line: 1},
		"runtime.start": {Status: grader.StatusFail, Message: long},
	})
	var log bytes.Buffer
	if err := githubActions(rep, env.getenv(), &log); err != nil {
		t.Fatal(err)
	}
	for _, c := range parseCommands(t, log.String()) {
		if n := utf8.RuneCountInString(c.message); n > maxAnnotation {
			t.Errorf("::%s message of %d runes, more than %d", c.name, n, maxAnnotation)
		}
		if !utf8.ValidString(c.message) {
			t.Errorf("::%s message cut inside a character", c.name)
		}
		if !strings.HasSuffix(c.message, "…") {
			t.Errorf("::%s message cut without …", c.name)
		}
	}
}

func TestGitHubActionsPaths(t *testing.T) {
	annotated := func(t *testing.T, rep *grader.Report, getenv func(string) string) (file string, found bool, log string) {
		t.Helper()
		var b bytes.Buffer
		if err := githubActions(rep, getenv, &b); err != nil {
			t.Fatal(err)
		}
		for _, c := range parseCommands(t, b.String()) {
			if c.props["title"] == "dockerfile.non-root" {
				return c.props["file"], true, b.String()
			}
		}
		return "", false, b.String()
	}
	t.Run("the submission is the workspace", func(t *testing.T) {
		env := newActionsEnv(t)
		rep := failingReport(env.workspace)
		file, ok, log := annotated(t, rep, envMap(map[string]string{"GITHUB_WORKSPACE": env.workspace}))
		if !ok || file != "Dockerfile.multistage" {
			t.Errorf("file %q, want Dockerfile.multistage\n%s", file, log)
		}
	})
	t.Run("the workspace through a symlink", func(t *testing.T) {
		env := newActionsEnv(t)
		link := filepath.Join(t.TempDir(), "ws")
		if err := os.Symlink(env.workspace, link); err != nil {
			t.Skip("no symlinks:", err)
		}
		rep := failingReport(env.submission)
		file, ok, log := annotated(t, rep, envMap(map[string]string{"GITHUB_WORKSPACE": link}))
		if !ok || file != "lab2/Dockerfile.multistage" {
			t.Errorf("file %q, want lab2/Dockerfile.multistage\n%s", file, log)
		}
	})
	for name, ws := range map[string]string{"outside the workspace": "", "no workspace": "-"} {
		t.Run(name, func(t *testing.T) {
			env := newActionsEnv(t)
			workspace := t.TempDir() // does not hold the submission
			if ws == "-" {
				workspace = ""
			}
			rep := failingReport(env.submission)
			_, ok, log := annotated(t, rep, envMap(map[string]string{"GITHUB_WORKSPACE": workspace}))
			if ok {
				t.Errorf("an annotation points at a file outside the workspace:\n%s", log)
			}
			// The check is named, with its message, in the verdict instead.
			if !strings.Contains(log, "%0Adockerfile.non-root: the final stage has no USER instruction") {
				t.Errorf("the verdict does not name the check:\n%s", log)
			}
		})
	}
}

func TestGitHubActionsGraderErrorAtALine(t *testing.T) {
	env := newActionsEnv(t)
	rep := fabricate(env.submission, map[string]grader.Result{
		"image.build": {Status: grader.StatusError, Message: "base image alpine:3.99 is not available",
			File: "Dockerfile.multistage", Line: 8},
	})
	var log bytes.Buffer
	if err := githubActions(rep, env.getenv(), &log); err != nil {
		t.Fatal(err)
	}
	want := "::warning file=lab2/Dockerfile.multistage,line=8,title=image.build::grader error (not your work's fault): base image alpine:3.99 is not available\n"
	if !strings.Contains(log.String(), want) {
		t.Errorf("want %q in\n%s", want, log.String())
	}
}

func TestGitHubActionsUnsetVariables(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	if err := githubActions(failingReport(dir), envMap(nil), &log); err != nil {
		t.Fatalf("unset variables are not an error: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written without GITHUB_STEP_SUMMARY/GITHUB_OUTPUT: %v", entries)
	}
	if !strings.Contains(log.String(), "::error title=Score 30/100::") {
		t.Errorf("no verdict annotation:\n%s", log.String())
	}
}

func TestGitHubActionsAppends(t *testing.T) {
	env := newActionsEnv(t)
	os.WriteFile(env.summary, []byte("# Earlier step"), 0o644)
	os.WriteFile(env.output, []byte("earlier=1\n"), 0o644)
	rep := passingReport(env.submission)
	if err := githubActions(rep, env.getenv(), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if s := readFile(t, env.summary); !strings.HasPrefix(s, "# Earlier step\n## ") {
		t.Errorf("the summary was not appended on a line of its own:\n%s", s)
	}
	outs := parseOutputs(t, readFile(t, env.output))
	if outs["earlier"] != "1" || outs["score"] != "100" {
		t.Errorf("outputs %v", outs)
	}
}

func TestGitHubActionsUnwritableFile(t *testing.T) {
	env := newActionsEnv(t)
	dir := t.TempDir() // a directory cannot be opened for writing
	getenv := envMap(map[string]string{
		"GITHUB_WORKSPACE":    env.workspace,
		"GITHUB_STEP_SUMMARY": env.summary,
		"GITHUB_OUTPUT":       dir,
	})
	var log bytes.Buffer
	err := githubActions(failingReport(env.submission), getenv, &log)
	if err == nil || !strings.Contains(err.Error(), "step outputs") {
		t.Fatalf("err = %v, want an error about the step outputs", err)
	}
	// The other parts are still done.
	if _, err := os.Stat(env.summary); err != nil {
		t.Errorf("no step summary: %v", err)
	}
	if !strings.Contains(log.String(), "::error file=") {
		t.Errorf("no annotations:\n%s", log.String())
	}

	getenv = envMap(map[string]string{"GITHUB_STEP_SUMMARY": filepath.Join(dir, "missing", "summary.md")})
	if err := githubActions(passingReport(env.submission), getenv, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "step summary") {
		t.Errorf("err = %v, want an error about the step summary", err)
	}
}

func TestGitHubActionsOutputLine(t *testing.T) {
	if got := outputLine("score", "85"); got != "score=85\n" {
		t.Errorf("outputLine = %q", got)
	}
	value := "two\nlines\r\nGRADE_EOF_"
	got := outputLine("text", value)
	if !strings.HasPrefix(got, "text<<GRADE_EOF_") {
		t.Fatalf("multi-line value not in the heredoc form: %q", got)
	}
	outs := parseOutputs(t, got)
	if outs["text"] != strings.ReplaceAll(value, "\r\n", "\n") {
		t.Errorf("round trip: %q", outs["text"])
	}
}

// ---------------------------------------------------------------------------
// The real binary, in a simulated GitHub Actions job
// ---------------------------------------------------------------------------

// gradeBinary builds grade for a test (main_test.go's binary belongs to
// package main_test).
func gradeBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "grade")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestGitHubActionsBinary(t *testing.T) {
	bin := gradeBinary(t)
	sub := filepath.Join(t.TempDir(), "syntax-error")
	if err := fixture.Materialize("syntax-error", sub); err != nil {
		t.Fatal(err)
	}
	files := t.TempDir()
	summary, output := filepath.Join(files, "summary.md"), filepath.Join(files, "output")
	cmd := exec.Command(bin, sub)
	cmd.Env = append(os.Environ(),
		"GITHUB_ACTIONS=true",
		"GITHUB_WORKSPACE="+sub,
		"GITHUB_STEP_SUMMARY="+summary,
		"GITHUB_OUTPUT="+output,
		"NO_COLOR=1",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("grade: %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if strings.Contains(stderr.String(), "GitHub Actions") {
		t.Errorf("stderr: %s", stderr.String())
	}
	log := stdout.String()
	if !strings.Contains(log, "Score 0/100") {
		t.Errorf("no text scorecard in the log:\n%s", log)
	}
	cmds := parseCommands(t, log)
	var found bool
	for _, c := range cmds {
		if c.name == "error" && c.props["file"] == "Dockerfile.multistage" && c.props["title"] == "dockerfile.found" {
			found = true
			if c.props["line"] != "8" || !strings.Contains(c.raw, "::error file=Dockerfile.multistage,line=8,") {
				t.Errorf("annotation %q: the syntax error is on line 8", c.raw)
			}
		}
	}
	if !found {
		t.Errorf("no ::error file=Dockerfile.multistage annotation for dockerfile.found:\n%s", log)
	}

	if s := readFile(t, summary); !strings.Contains(s, "| `dockerfile.found` |") || !strings.Contains(s, "**FAILED**") {
		t.Errorf("step summary:\n%s", s)
	}
	outs := parseOutputs(t, readFile(t, output))
	if outs["score"] != "0" || outs["max_score"] != "100" || outs["passed"] != "false" || outs["gradable"] != "true" {
		t.Errorf("outputs %v", outs)
	}
	res := decodeResult(t, outs["result"])
	if res.Status != "fail" || res.MaxScore != 100 {
		t.Errorf("classroom result status %q max %d", res.Status, res.MaxScore)
	}
	for _, tt := range res.Tests {
		if strings.HasPrefix(tt.Name, "dockerfile.found") && (tt.Status != "fail" || tt.LineNo != 8) {
			t.Errorf("classroom test %+v", tt)
		}
	}
}

// ---------------------------------------------------------------------------
// The shipped workflows
// ---------------------------------------------------------------------------

type workflow struct {
	Name        string            `yaml:"name"`
	On          any               `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]wfJob  `yaml:"jobs"`
}

type wfJob struct {
	Name    string            `yaml:"name"`
	RunsOn  string            `yaml:"runs-on"`
	Timeout int               `yaml:"timeout-minutes"`
	If      string            `yaml:"if"`
	Env     map[string]string `yaml:"env"`
	Steps   []wfStep          `yaml:"steps"`
}

type wfStep struct {
	Name            string            `yaml:"name"`
	ID              string            `yaml:"id"`
	If              string            `yaml:"if"`
	Uses            string            `yaml:"uses"`
	Run             string            `yaml:"run"`
	With            map[string]any    `yaml:"with"`
	Env             map[string]string `yaml:"env"`
	ContinueOnError any               `yaml:"continue-on-error"`
}

func loadWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "github", name))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&wf); err != nil {
		t.Fatalf("%s does not parse: %v", name, err)
	}
	if wf.On == nil {
		t.Errorf("%s has no triggers (on:)", name)
	}
	for id, j := range wf.Jobs {
		if j.RunsOn == "" || len(j.Steps) == 0 {
			t.Errorf("%s: job %s has no runs-on or no steps", name, id)
		}
		for _, s := range j.Steps {
			if (s.Uses == "") == (s.Run == "") {
				t.Errorf("%s: step %q needs exactly one of uses and run", name, s.Name)
			}
		}
	}
	if strings.Count(string(data), "${{") != strings.Count(string(data), "}}") {
		t.Errorf("%s: unbalanced ${{ }} expressions", name)
	}
	return wf
}

// stepIndex returns the index of the first step for which ok is true, or -1.
func stepIndex(steps []wfStep, ok func(wfStep) bool) int {
	return slices.IndexFunc(steps, ok)
}

// checkGradeCommand checks that a workflow's grade command line uses flags
// and formats grade knows.
func checkGradeCommand(t *testing.T, line string) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "grade" {
		t.Fatalf("not a grade command: %q", line)
	}
	var outs targetList
	for i := 1; i+1 < len(f); i++ {
		var err error
		switch f[i] {
		case "--format":
			i++
			err = outs.addFormat(f[i])
		case "--output":
			i++
			err = outs.addOutput(f[i])
		}
		if err != nil {
			t.Errorf("%q: %v", line, err)
		}
	}
	if _, err := outs.targets(); err != nil {
		t.Errorf("%q: %v", line, err)
	}
}

func TestWorkflowGrade(t *testing.T) {
	wf := loadWorkflow(t, "grade.yml")
	if len(wf.Jobs) != 1 {
		t.Fatalf("%d jobs, want 1", len(wf.Jobs))
	}
	var steps []wfStep
	for _, j := range wf.Jobs {
		steps = j.Steps
	}
	checkout := stepIndex(steps, func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/checkout@") })
	setupGo := stepIndex(steps, func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/setup-go@") })
	install := stepIndex(steps, func(s wfStep) bool {
		return strings.Contains(s.Run, "go install ") && strings.Contains(s.Run, "/cmd/grade@")
	})
	run := stepIndex(steps, func(s wfStep) bool {
		return strings.TrimSpace(s.Run) == "grade --format junit --output grade-junit.xml ."
	})
	upload := stepIndex(steps, func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/upload-artifact@") })
	if checkout < 0 || setupGo < 0 || install < 0 || run < 0 || upload < 0 {
		t.Fatalf("steps checkout %d, setup-go %d, go install %d, grade %d, upload %d: one is missing", checkout, setupGo, install, run, upload)
	}
	if !(checkout < install && setupGo < install && install < run && run < upload) {
		t.Errorf("steps out of order: checkout %d, setup-go %d, install %d, grade %d, upload %d", checkout, setupGo, install, run, upload)
	}
	checkGradeCommand(t, steps[run].Run)
	up := steps[upload]
	if fmt.Sprint(up.With["path"]) != "grade-junit.xml" {
		t.Errorf("the upload step uploads %v, want grade-junit.xml", up.With["path"])
	}
	if !strings.Contains(up.If, "!cancelled()") && !strings.Contains(up.If, "always()") {
		t.Errorf("the upload step's if %q skips it when grading failed", up.If)
	}
}

func TestWorkflowClassroom(t *testing.T) {
	wf := loadWorkflow(t, "classroom.yml")
	if wf.Name != "Autograding Tests" {
		t.Errorf("workflow name %q, want Autograding Tests", wf.Name)
	}
	if wf.Permissions["checks"] != "write" {
		t.Errorf("permissions %v: the reporter needs checks: write", wf.Permissions)
	}
	job, ok := wf.Jobs["run-autograding-tests"]
	if !ok {
		t.Fatalf("no job run-autograding-tests: %v", wf.Jobs)
	}
	// The reporter finds the job's check run by the name run-autograding-tests.
	if job.Name != "" && job.Name != "run-autograding-tests" {
		t.Errorf("job name %q: the reporter looks for the check run run-autograding-tests", job.Name)
	}
	reporter := stepIndex(job.Steps, func(s wfStep) bool {
		return s.Uses == "classroom-resources/autograding-grading-reporter@v1"
	})
	if reporter < 0 {
		t.Fatal("no classroom-resources/autograding-grading-reporter@v1 step")
	}
	rs := job.Steps[reporter]
	runners := strings.Split(fmt.Sprint(rs.With["runners"]), ",")
	if len(runners) != 1 {
		t.Fatalf("runners %v, want the grade step alone", runners)
	}
	id := runners[0]
	if !regexp.MustCompile(`^[a-zA-Z0-9]+$`).MatchString(id) {
		t.Errorf("runner id %q: the reporter accepts letters and digits", id)
	}
	gradeStep := stepIndex(job.Steps, func(s wfStep) bool { return s.ID == id })
	if gradeStep < 0 || gradeStep > reporter {
		t.Fatalf("no step with id %q before the reporter", id)
	}
	gs := job.Steps[gradeStep]
	checkGradeCommand(t, strings.TrimSpace(gs.Run))
	// The reporter reads <ID>_RESULTS (the id upper-cased).
	key := strings.ToUpper(id) + "_RESULTS"
	if got, want := rs.Env[key], "${{ steps."+id+".outputs.result }}"; got != want {
		t.Errorf("reporter env %s = %q, want %q (env %v)", key, got, want, rs.Env)
	}
	// grade exits 1 on a failed check: the reporter must still run, and
	// must not run when grade could not grade (exit 2).
	if !strings.Contains(rs.If, "!cancelled()") && !strings.Contains(rs.If, "always()") {
		t.Errorf("reporter if %q: skipped after grade exits 1", rs.If)
	}
	if !strings.Contains(rs.If, "steps."+id+".outputs.gradable == 'true'") {
		t.Errorf("reporter if %q: runs (and posts a score) when grade could not grade", rs.If)
	}
	if gs.ContinueOnError != nil && fmt.Sprint(gs.ContinueOnError) != "false" {
		t.Errorf("the grade step has continue-on-error: an exit 2 would leave the job green")
	}
}

// ---------------------------------------------------------------------------
// Gradescope
// ---------------------------------------------------------------------------

func gradescopeScript(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", "gradescope", name))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable", name)
	}
	return p
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakeGradeHead records the arguments, the engine settings and the files
// of the folder it grades, and finds the --output file.
const fakeGradeHead = `log="$FAKE_LOG"
printf '%s\n' "$@" > "$log.args"
printf 'DOCKER_HOST=%s\nDOCKER_TLS_VERIFY=%s\nDOCKER_CERT_PATH=%s\n' "$DOCKER_HOST" "$DOCKER_TLS_VERIFY" "${DOCKER_CERT_PATH:-}" > "$log.env"
out=""
prev=""
for a in "$@"; do
	[ "$prev" = "--output" ] && out="$a"
	prev="$a"
	dir="$a"
done
ls "$dir" > "$log.files"
`

func TestGradescopeRunAutograder(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := gradescopeScript(t, "run_autograder")

	type run struct {
		results map[string]any
		args    []string
		env     string
		files   []string
		stderr  string
	}
	autograde := func(t *testing.T, fakeBody string, nested bool) run {
		t.Helper()
		tmp := t.TempDir()
		source := filepath.Join(tmp, "source")
		sub := filepath.Join(tmp, "submission")
		results := filepath.Join(tmp, "results") // not created: the script makes it
		work := filepath.Join(tmp, "tmp")
		for _, d := range []string{filepath.Join(source, "docker-certs"), sub, work} {
			os.MkdirAll(d, 0o755)
		}
		os.WriteFile(filepath.Join(source, "docker.env"),
			[]byte("DOCKER_HOST=tcp://grader.example.invalid:2376\nDOCKER_TLS_VERIFY=1\n"), 0o644)
		top := sub
		if nested {
			top = filepath.Join(sub, "starter")
			os.MkdirAll(top, 0o755)
		}
		os.WriteFile(filepath.Join(top, "Dockerfile.multistage"), []byte("FROM scratch\n"), 0o644)
		os.WriteFile(filepath.Join(top, "main.go"), []byte("package main\n"), 0o644)
		fake := filepath.Join(tmp, "bin", "grade")
		writeScript(t, fake, fakeGradeHead+fakeBody)

		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(),
			"SOURCE_DIR="+source,
			"SUBMISSION_DIR="+sub,
			"RESULTS_DIR="+results,
			"PATH="+filepath.Dir(fake)+string(os.PathListSeparator)+os.Getenv("PATH"),
			"TMPDIR="+work,
			"FAKE_LOG="+filepath.Join(tmp, "fake"),
			"DOCKER_HOST=", "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=",
		)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("run_autograder: %v\n%s", err, stderr.String())
		}
		data, err := os.ReadFile(filepath.Join(results, "results.json"))
		if err != nil {
			t.Fatalf("no results.json: %v\n%s", err, stderr.String())
		}
		var r run
		if err := json.Unmarshal(data, &r.results); err != nil {
			t.Fatalf("results.json is not JSON: %v\n%s", err, data)
		}
		r.args = strings.Fields(readFile(t, filepath.Join(tmp, "fake.args")))
		r.env = readFile(t, filepath.Join(tmp, "fake.env"))
		r.files = strings.Fields(readFile(t, filepath.Join(tmp, "fake.files")))
		r.stderr = stderr.String()
		if left, _ := os.ReadDir(work); len(left) != 0 {
			t.Errorf("run_autograder left %v in TMPDIR", left)
		}
		// Always the arguments of the contract.
		i := slices.Index(r.args, "--format")
		if i < 0 || r.args[i+1] != "gradescope" {
			t.Errorf("grade args %v: no --format gradescope", r.args)
		}
		i = slices.Index(r.args, "--output")
		if i < 0 || r.args[i+1] != filepath.Join(results, "results.json") {
			t.Errorf("grade args %v: not --output %s", r.args, filepath.Join(results, "results.json"))
		}
		if !slices.Equal(r.files, []string{"Dockerfile.multistage", "main.go"}) {
			t.Errorf("grade graded a folder holding %v, want the submission's files", r.files)
		}
		want := "DOCKER_HOST=tcp://grader.example.invalid:2376\nDOCKER_TLS_VERIFY=1\nDOCKER_CERT_PATH=" + filepath.Join(source, "docker-certs") + "\n"
		if r.env != want {
			t.Errorf("grade ran with\n%s\nwant\n%s", r.env, want)
		}
		return r
	}

	t.Run("grade writes the results", func(t *testing.T) {
		r := autograde(t, `cat > "$out" <<'JSON'
{"score": 42, "execution_time": 3, "output": "Score 42/100", "tests": [{"name": "image.size", "score": 0, "max_score": 15, "status": "failed"}]}
JSON
exit 1
`, false)
		if r.results["score"] != 42.0 || r.results["output"] != "Score 42/100" {
			t.Errorf("results.json %v is not grade's", r.results)
		}
	})
	t.Run("a nested submission folder", func(t *testing.T) {
		r := autograde(t, `echo '{"score": 100, "tests": []}' > "$out"`+"\n", true)
		if r.results["score"] != 100.0 {
			t.Errorf("results.json %v", r.results)
		}
	})
	for name, body := range map[string]string{
		"grade exits 2 without a report": `printf '%s\n' 'grade: unknown flag "--frobnicate" "quoted" \back\slash' >&2
exit 2
`,
		"grade leaves a truncated report": `printf '{"score": 42, "tests": [' > "$out"
exit 2
`,
	} {
		t.Run(name, func(t *testing.T) {
			r := autograde(t, body, false)
			out, _ := r.results["output"].(string)
			if r.results["score"] != 0.0 || !strings.HasPrefix(out, "NOT GRADED") || !strings.Contains(out, "exited 2") {
				t.Errorf("fallback results.json %v", r.results)
			}
			if tests, ok := r.results["tests"].([]any); !ok || len(tests) != 0 {
				t.Errorf("fallback tests %v, want []", r.results["tests"])
			}
			if strings.Contains(body, "frobnicate") && !strings.Contains(out, `grade: unknown flag "--frobnicate" "quoted" \back\slash`) {
				t.Errorf("the output does not carry grade's stderr: %q", out)
			}
		})
	}
}

func TestGradescopeSetup(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := gradescopeScript(t, "setup.sh")
	tmp := t.TempDir()
	source, bin := filepath.Join(tmp, "source"), filepath.Join(tmp, "usr-local-bin")
	os.MkdirAll(bin, 0o755)
	writeScript(t, filepath.Join(source, "bin", "grade"), "echo \"grade v9.9.9 $*\"\n")
	os.MkdirAll(filepath.Join(source, "docker-certs"), 0o755)
	os.WriteFile(filepath.Join(source, "docker-certs", "key.pem"), []byte("key"), 0o644)
	os.WriteFile(filepath.Join(source, "docker.env"), []byte("DOCKER_HOST=tcp://x:2376\n"), 0o644)

	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "SOURCE_DIR="+source, "BIN_DIR="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
	st, err := os.Stat(filepath.Join(bin, "grade"))
	if err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("grade not installed as an executable: %v", err)
	}
	if !strings.Contains(string(out), "grade v9.9.9 version") {
		t.Errorf("setup.sh does not check the installed grade:\n%s", out)
	}
	if st, _ := os.Stat(filepath.Join(source, "docker-certs", "key.pem")); st.Mode().Perm() != 0o600 {
		t.Errorf("key.pem mode %v, want 0600", st.Mode().Perm())
	}

	// Without the binary in the zip, setup fails and says why.
	os.Remove(filepath.Join(source, "bin", "grade"))
	cmd = exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "SOURCE_DIR="+source, "BIN_DIR="+bin)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "bin/grade is missing") {
		t.Errorf("setup.sh without bin/grade: %v\n%s", err, out)
	}
}
