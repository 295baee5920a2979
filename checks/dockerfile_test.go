package checks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/dockerfile"
)

const dfName = "Dockerfile.multistage"

// dfText returns a Dockerfile text: a testdata/dockerfile/<name>.Dockerfile
// when in has no newline, else in itself.
func dfText(t *testing.T, in string) []byte {
	t.Helper()
	if strings.Contains(in, "\n") {
		return []byte(in)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "dockerfile", in+".Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t *testing.T, in string) *dockerfile.File {
	t.Helper()
	f, err := dockerfile.Parse(dfName, dfText(t, in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

type dfCase struct {
	name   string
	in     string // testdata name or Dockerfile text
	status grader.Status
	line   int
	msg    []string // substrings of Message
	hint   []string // substrings of Hint (failures)
}

func runDFCases(t *testing.T, judge func(*dockerfile.File) grader.Outcome, cases []dfCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := judge(mustParse(t, tc.in))
			assertOutcome(t, o, tc)
		})
	}
}

func assertOutcome(t *testing.T, o grader.Outcome, tc dfCase) {
	t.Helper()
	if o.Status != tc.status {
		t.Errorf("status %s, want %s\nmessage: %s\nhint: %s", o.Status, tc.status, o.Message, o.Hint)
	}
	if o.Line != tc.line {
		t.Errorf("line %d, want %d (message: %s)", o.Line, tc.line, o.Message)
	}
	if o.File != dfName {
		t.Errorf("file %q, want %q", o.File, dfName)
	}
	for _, s := range tc.msg {
		if !strings.Contains(o.Message, s) {
			t.Errorf("message %q does not mention %q", o.Message, s)
		}
	}
	for _, s := range tc.hint {
		if !strings.Contains(o.Hint, s) {
			t.Errorf("hint %q does not mention %q", o.Hint, s)
		}
	}
	switch {
	case o.Message == "":
		t.Error("empty message")
	case o.Status == grader.StatusFail && o.Hint == "":
		t.Error("failure without a hint")
	case o.Status == grader.StatusPass && o.Hint != "":
		t.Errorf("pass with a hint %q", o.Hint)
	}
}

func TestDockerfileChecksMetadata(t *testing.T) {
	want := []struct {
		id                 string
		checkpoint, points int
	}{
		{"dockerfile.found", 0, 5},
		{"dockerfile.multi-stage", 1, 10},
		{"dockerfile.copy-from", 3, 10},
		{"dockerfile.distinct-bases", 5, 5},
		{"dockerfile.non-root", 0, 5},
	}
	if len(Dockerfile) != len(want) {
		t.Fatalf("%d checks, want %d", len(Dockerfile), len(want))
	}
	for i, w := range want {
		c := Dockerfile[i]
		if c.ID != w.id || c.Checkpoint != w.checkpoint || c.Points != w.points || c.Bonus {
			t.Errorf("check %d = %s cp %d pts %d bonus %v, want %s cp %d pts %d", i, c.ID, c.Checkpoint, c.Points, c.Bonus, w.id, w.checkpoint, w.points)
		}
		if c.Title == "" || c.Doc == "" || c.Run == nil {
			t.Errorf("%s: missing Title, Doc or Run", c.ID)
		}
		if len(c.Requires) != 1 || c.Requires[0] != grader.ArtifactDockerfile {
			t.Errorf("%s: Requires = %v", c.ID, c.Requires)
		}
		if owns := c.Owns == grader.ArtifactDockerfile; owns != (i == 0) {
			t.Errorf("%s: Owns = %v", c.ID, c.Owns)
		}
	}
}

func TestJudgeFound(t *testing.T) {
	const good = "FROM golang:1.21 AS builder\nFROM alpine:3.18\nCOPY --from=builder /app/server .\n"
	write := func(t *testing.T, p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := t.TempDir()
	write(t, filepath.Join(outside, "secret"), good)
	for _, tc := range []struct {
		dfCase
		setup func(t *testing.T, dir string)
	}{
		{dfCase{name: "solution", status: grader.StatusPass,
			msg: []string{dfName, "2 stages", "builder (golang:1.21, line 2)", "stage 1 (alpine:3.18, line 13)"}},
			func(t *testing.T, dir string) {
				data, err := os.ReadFile(filepath.Join("testdata", "dockerfile", "solution.Dockerfile"))
				if err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(dir, dfName), string(data))
			}},
		{dfCase{name: "missing", status: grader.StatusFail,
			msg: []string{dfName, "not found"}, hint: []string{"Create Dockerfile.multistage next to Dockerfile", "FROM golang:1.21 AS builder"}},
			func(t *testing.T, dir string) { write(t, filepath.Join(dir, "Dockerfile"), "FROM golang:1.21\n") }},
		{dfCase{name: "misnamed", status: grader.StatusFail,
			msg: []string{"not found", `"dockerfile.multi-stage.txt"`}, hint: []string{`Rename "dockerfile.multi-stage.txt" to Dockerfile.multistage`}},
			func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "Dockerfile"), "FROM golang:1.21\n")
				write(t, filepath.Join(dir, "dockerfile.multi-stage.txt"), good)
			}},
		{dfCase{name: "symlink outside", status: grader.StatusFail,
			msg: []string{"outside the submission folder"}, hint: []string{"regular file inside the submission folder"}},
			func(t *testing.T, dir string) {
				if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, dfName)); err != nil {
					t.Skip(err)
				}
			}},
		{dfCase{name: "dangling symlink", status: grader.StatusFail,
			msg: []string{"symlink to gone", "does not exist"}, hint: []string{"Create"}},
			func(t *testing.T, dir string) {
				if err := os.Symlink("gone", filepath.Join(dir, dfName)); err != nil {
					t.Skip(err)
				}
			}},
		{dfCase{name: "directory", status: grader.StatusFail, msg: []string{"is a directory"}, hint: []string{"regular text file"}},
			func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, dfName), 0o755); err != nil {
					t.Fatal(err)
				}
			}},
		{dfCase{name: "unknown instruction", status: grader.StatusFail, line: 3,
			msg: []string{"does not parse", "line 3", "unknown instruction: FORM (did you mean FROM?)"}, hint: []string{"line 3", "did you mean FROM?"}},
			func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, dfName), "FROM golang:1.21 AS builder\n\nFORM alpine:3.18\n")
			}},
		{dfCase{name: "empty", status: grader.StatusFail, msg: []string{"empty"}, hint: []string{"FROM golang:1.21 AS builder"}},
			func(t *testing.T, dir string) { write(t, filepath.Join(dir, dfName), "\n# nothing yet\n") }},
		{dfCase{name: "no FROM", status: grader.StatusFail, line: 1, msg: []string{"no FROM"}, hint: []string{"FROM golang:1.21 AS builder"}},
			func(t *testing.T, dir string) { write(t, filepath.Join(dir, dfName), "ARG GO_VERSION=1.21\n") }},
		{dfCase{name: "instruction before FROM", status: grader.StatusFail, line: 1, msg: []string{"WORKDIR before the first FROM"}, hint: []string{"put `FROM golang:1.21 AS builder` first"}},
			func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, dfName), "WORKDIR /app\nFROM golang:1.21\n")
			}},
		{dfCase{name: "ADD --from", status: grader.StatusFail, line: 3, msg: []string{"unknown flag: --from"}, hint: []string{"ADD has no --from", "COPY --from=builder"}},
			func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, dfName), "FROM golang:1.21 AS builder\nFROM alpine:3.18\nADD --from=builder /app/server .\n")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			f, err := dockerfile.Load(dir, dfName)
			var siblings []string
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				siblings = append(siblings, e.Name())
			}
			o := judgeFound(dfName, f, err, siblings)
			assertOutcome(t, o, tc.dfCase)
		})
	}
}

func TestJudgeMultiStage(t *testing.T) {
	runDFCases(t, judgeMultiStage, []dfCase{
		{name: "solution", in: "solution", status: grader.StatusPass, line: 13,
			msg: []string{"2 stages", "builder (golang:1.21, line 2)", "stage 1 (alpine:3.18, line 13)"}},
		{name: "scratch", in: "scratch", status: grader.StatusPass, line: 13, msg: []string{"stage 1 (scratch, line 13)"}},
		{name: "starter single stage", in: "starter", status: grader.StatusFail, line: 2,
			msg: []string{"1 stage", "stage 0 (golang:1.21, line 2)", "single FROM"}, hint: []string{"Add a second stage", "FROM alpine:3.18", "COPY --from=builder /app/server ."}},
		{name: "lowercase three stages", in: "from golang:1.21 as deps\nfrom deps as builder\nfrom alpine:3.18 as final\n", status: grader.StatusPass, line: 3,
			msg: []string{"3 stages", "deps (golang:1.21, line 1)", "builder (FROM deps → golang:1.21, line 2)", "final (alpine:3.18, line 3)"}},
		{name: "commented second FROM", in: "FROM golang:1.21 AS builder\n# FROM alpine:3.18\nRUN go build -o server .\n", status: grader.StatusFail, line: 1,
			msg: []string{"1 stage", "builder (golang:1.21, line 1)"}},
		{name: "ARG-expanded", in: "ARG GO=1.21\nFROM golang:${GO} AS builder\nFROM alpine:3.18\n", status: grader.StatusPass, line: 3,
			msg: []string{"builder (golang:1.21, line 2)"}},
	})
}

func TestJudgeCopyFrom(t *testing.T) {
	runDFCases(t, judgeCopyFrom, []dfCase{
		{name: "solution", in: "solution", status: grader.StatusPass, line: 17,
			msg: []string{"copies from builder (golang:1.21, line 2)", "COPY --from=builder /app/server .", "line 17"}},
		{name: "scratch", in: "scratch", status: grader.StatusPass, line: 15, msg: []string{"COPY --from=builder /app/server /server"}},
		{name: "by index", in: "FROM golang:1.21\nRUN go build -o /server .\nFROM alpine:3.18\nCOPY --from=0 /server /server\n", status: grader.StatusPass, line: 4,
			msg: []string{"copies from stage 0", "--from=0"}},
		{name: "name case-insensitive", in: "FROM golang:1.21 AS Builder\nFROM alpine:3.18\nCOPY --from=BUILDER /app/server .\n", status: grader.StatusPass, line: 3,
			msg: []string{"builder"}},
		{name: "inherited through FROM stage", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18 AS runtime\nCOPY --from=builder /app/server .\nFROM runtime\nUSER 1000\n", status: grader.StatusPass, line: 3,
			msg: []string{"built FROM runtime", "copies from builder"}},
		{name: "image then stage", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18\nCOPY --from=nginx:alpine /etc/nginx /etc/nginx\nCOPY --from=builder /app/server .\n", status: grader.StatusPass, line: 4},
		{name: "single stage", in: "starter", status: grader.StatusFail, line: 2,
			msg: []string{"only one stage"}, hint: []string{"Add a second stage"}},
		{name: "unknown name (typo)", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18\nCOPY --from=buidler /app/server .\n", status: grader.StatusFail, line: 3,
			msg: []string{`no stage is named "buidler"`, "builder (index 0, line 1)", "did you mean builder?"}, hint: []string{"--from=builder"}},
		{name: "unknown name, unnamed stages", in: "FROM golang:1.21\nFROM alpine:3.18\nCOPY --from=build /app/server .\n", status: grader.StatusFail, line: 3,
			msg: []string{`no stage is named "build"`, "stage 0 (index 0, line 1)"}, hint: []string{"FROM golang:1.21 AS builder"}},
		{name: "index of own stage", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18\nCOPY --from=1 /app/server .\n", status: grader.StatusFail, line: 3,
			msg: []string{"stage 1 is this stage itself", "builder (index 0, line 1)"}, hint: []string{"--from=0"}},
		{name: "index out of range", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18\nCOPY --from=5 /app/server .\n", status: grader.StatusFail, line: 3,
			msg: []string{"there is no stage 5", "0 to 1"}},
		{name: "later stage by name", in: "FROM alpine:3.18 AS runtime\nCOPY --from=builder /app/server .\nFROM golang:1.21 AS builder\nFROM runtime\n", status: grader.StatusFail, line: 2,
			msg: []string{"builder (line 3) comes after this stage"}, hint: []string{"Define the builder stage first"}},
		{name: "image reference", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18\nCOPY --from=golang:1.21 /usr/local/go/bin/go /go\n", status: grader.StatusFail, line: 3,
			msg: []string{"golang:1.21 is an image, not a stage"}, hint: []string{"COPY --from=builder /app/server ."}},
		{name: "variable", in: "ARG S=builder\nFROM golang:1.21 AS builder\nFROM alpine:3.18\nCOPY --from=$S /app/server .\n", status: grader.StatusFail, line: 4,
			msg: []string{"does not expand variables"}, hint: []string{"COPY --from=builder /app/server ."}},
		{name: "only in non-final stage", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18 AS packer\nCOPY --from=builder /app/server .\nFROM alpine:3.18\nCMD [\"./server\"]\n", status: grader.StatusFail, line: 3,
			msg: []string{"is in packer, not in the final stage (stage 2, line 4)"}, hint: []string{"Only the final stage becomes the image"}},
		{name: "no COPY --from", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18\nCOPY . .\n", status: grader.StatusFail, line: 2,
			msg: []string{"has no COPY --from", "builder (golang:1.21, line 1)"}, hint: []string{"COPY --from=builder /app/server ."}},
	})
}

func TestJudgeDistinctBases(t *testing.T) {
	runDFCases(t, judgeDistinctBases, []dfCase{
		{name: "solution", in: "solution", status: grader.StatusPass, line: 13,
			msg: []string{"starts from alpine:3.18 (line 13)", "the builder, builder (the stage it copies from), from golang:1.21 (line 2)"}},
		{name: "scratch", in: "scratch", status: grader.StatusPass, line: 13, msg: []string{"scratch"}},
		{name: "same image", in: "FROM golang:1.21 AS builder\nFROM golang:1.21\nCOPY --from=builder /app/server .\n", status: grader.StatusFail, line: 2,
			msg: []string{"both start from golang:1.21"}, hint: []string{"FROM alpine:3.18", "FROM scratch"}},
		{name: "same image normalised", in: "FROM golang:1.21 AS builder\nFROM docker.io/library/golang:1.21\nCOPY --from=builder /app/server .\n", status: grader.StatusFail, line: 2,
			msg: []string{"both start from golang:1.21"}},
		{name: "implicit latest", in: "FROM alpine AS builder\nFROM alpine:latest\nCOPY --from=builder /x /x\n", status: grader.StatusFail, line: 2,
			msg: []string{"alpine:latest"}},
		{name: "different tags differ", in: "FROM golang:1.21 AS builder\nFROM golang:1.21-alpine\nCOPY --from=builder /app/server .\n", status: grader.StatusPass, line: 2},
		{name: "ARG-expanded same", in: "ARG IMG=golang:1.21\nFROM ${IMG} AS builder\nFROM $IMG\nCOPY --from=builder /app/server .\n", status: grader.StatusFail, line: 3,
			msg: []string{"FROM $IMG", "FROM ${IMG}"}},
		{name: "ARG-expanded different", in: "ARG GO=1.21\nARG ALPINE=3.18\nFROM golang:${GO} AS builder\nFROM alpine:${ALPINE}\nCOPY --from=builder /app/server .\n", status: grader.StatusPass, line: 4,
			msg: []string{"alpine:3.18 (FROM alpine:${ALPINE}, line 4)"}},
		{name: "final FROM builder inherits", in: "FROM golang:1.21 AS builder\nRUN go build -o /server .\nFROM builder\nCMD [\"/server\"]\n", status: grader.StatusFail, line: 3,
			msg: []string{"FROM builder, inherited", "inherits its whole image"}},
		{name: "final FROM runtime base", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18 AS base\nFROM base\nCOPY --from=builder /app/server .\n", status: grader.StatusPass, line: 3,
			msg: []string{"alpine:3.18 (FROM base, inherited, line 3)"}},
		{name: "builder is the copied-from stage, not the first", in: "FROM alpine:3.18 AS certs\nFROM golang:1.21 AS builder\nFROM golang:1.21\nCOPY --from=builder /app/server .\n", status: grader.StatusFail, line: 3,
			msg: []string{"the builder, builder (the stage it copies from)"}},
		{name: "no copy: first stage", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18\n", status: grader.StatusPass, line: 2,
			msg: []string{"(the first stage)"}},
		{name: "single stage", in: "starter", status: grader.StatusFail, line: 2, msg: []string{"only one stage"}},
	})
}

func TestJudgeNonRoot(t *testing.T) {
	runDFCases(t, judgeNonRoot, []dfCase{
		{name: "solution", in: "solution", status: grader.StatusPass, line: 20, msg: []string{`runs as "appuser" (USER on line 20)`}},
		{name: "scratch numeric", in: "scratch", status: grader.StatusPass, line: 18, msg: []string{`"65534:65534"`}},
		{name: "missing USER", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18\nCOPY --from=builder /app/server .\nCMD [\"./server\"]\n", status: grader.StatusFail, line: 4,
			msg: []string{"sets no USER", "runs as root"}, hint: []string{"RUN adduser -D -u 1000 appuser", "USER appuser"}},
		{name: "USER only in builder", in: "FROM golang:1.21 AS builder\nUSER gopher\nFROM alpine:3.18\nCOPY --from=builder /app/server .\n", status: grader.StatusFail, line: 4,
			msg: []string{"sets no USER", "USER gopher on line 2 is in builder"}},
		{name: "USER root", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18\nUSER root\n", status: grader.StatusFail, line: 3,
			msg: []string{"runs as root", `"root" (USER on line 3)`}, hint: []string{"USER appuser"}},
		{name: "USER 0", in: "FROM alpine:3.18\nUSER 0\n", status: grader.StatusFail, line: 2, msg: []string{"runs as root"}},
		{name: "USER 0:0", in: "FROM alpine:3.18\nUSER 0:0\n", status: grader.StatusFail, line: 2, msg: []string{`"0:0"`}},
		{name: "USER root:root", in: "FROM alpine:3.18\nUSER root:root\n", status: grader.StatusFail, line: 2, msg: []string{`"root:root"`}},
		{name: "last USER wins", in: "FROM alpine:3.18\nUSER appuser\nRUN true\nUSER root\n", status: grader.StatusFail, line: 4},
		{name: "back to non-root", in: "FROM alpine:3.18\nUSER root\nRUN apk add curl\nUSER appuser\n", status: grader.StatusPass, line: 4},
		{name: "ARG UID", in: "FROM golang:1.21 AS builder\nFROM alpine:3.18\nARG UID=1000\nRUN adduser -D -u ${UID} appuser\nUSER ${UID}\n", status: grader.StatusPass, line: 5,
			msg: []string{`"1000" (USER ${UID} on line 5)`}},
		{name: "ARG expands to root", in: "FROM alpine:3.18\nARG UID=0\nUSER $UID\n", status: grader.StatusFail, line: 3,
			msg: []string{`"0" (USER $UID on line 3)`}},
		{name: "global ARG not re-declared", in: "ARG UID=1000\nFROM alpine:3.18\nUSER ${UID}\n", status: grader.StatusFail, line: 3,
			msg: []string{"expands to an empty user", "re-declared"}, hint: []string{"ARG UID=1000"}},
		{name: "global ARG re-declared", in: "ARG UID=1000\nFROM alpine:3.18\nARG UID\nUSER ${UID}\n", status: grader.StatusPass, line: 4},
		{name: "ENV user", in: "FROM alpine:3.18\nENV APP_USER=app\nUSER $APP_USER\n", status: grader.StatusPass, line: 3, msg: []string{`"app"`}},
		{name: "inherited from stage", in: "FROM alpine:3.18 AS base\nRUN adduser -D appuser\nUSER appuser\nFROM golang:1.21 AS builder\nFROM base\nCOPY --from=builder /app/server .\n", status: grader.StatusPass, line: 3,
			msg: []string{"inherited from base"}},
		{name: "inherited root overridden", in: "FROM alpine:3.18 AS base\nUSER root\nFROM base\nUSER 1000:1000\n", status: grader.StatusPass, line: 4},
		{name: "inherited root", in: "FROM alpine:3.18 AS base\nUSER root\nFROM base\nCMD [\"x\"]\n", status: grader.StatusFail, line: 2, msg: []string{"inherited from base"}},
		{name: "scratch with a name", in: "FROM golang:1.21 AS builder\nFROM scratch\nCOPY --from=builder /app/server /server\nUSER appuser\n", status: grader.StatusPass, line: 4,
			msg: []string{"scratch has no /etc/passwd"}},
		{name: "root group only", in: "FROM alpine:3.18\nUSER 1000:0\n", status: grader.StatusPass, line: 2},
		{name: "lowercase user instruction", in: "from alpine:3.18\nuser nobody\n", status: grader.StatusPass, line: 2, msg: []string{`"nobody"`}},
	})
}

func TestMisnamed(t *testing.T) {
	got := misnamed(dfName, []string{"Dockerfile", "Dockerfile.scratch", "main.go", "Dockerfile.MultiStage", "multistage.Dockerfile", "Dockerfile-multistage.txt", "notes.md"})
	want := []string{"Dockerfile.MultiStage", "multistage.Dockerfile", "Dockerfile-multistage.txt"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("misnamed = %q, want %q", got, want)
	}
}
