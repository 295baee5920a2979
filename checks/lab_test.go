package checks_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gradelab/grade/checks"
	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/session"
	"github.com/gradelab/grade/internal/enginetest"
	"github.com/gradelab/grade/internal/fixture"
)

// These tests grade every submission of fixtures/submissions with the real
// Docker Engine: real builds, real containers, real HTTP. They share the
// engine's build cache (the builder stages are identical across fixtures),
// and TestMain proves that `grade clean` leaves the engine's images as they
// were before the tests.

var store *session.Store

func TestMain(m *testing.M) {
	stateDir, err := os.MkdirTemp("", "grade-test-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("GRADE_STATE_DIR", stateDir)
	store, _ = session.DefaultStore()

	ctx := context.Background()
	s, err := session.New(ctx, session.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration tests need a Docker Engine:", grader.EnvironmentMessage(err))
		os.Exit(2)
	}
	cli := s.Client()
	for _, base := range []string{"golang:1.21", "alpine:3.18"} {
		if _, err := cli.ImageInspect(ctx, base); err != nil {
			fmt.Fprintf(os.Stderr, "base image %s is missing: run `make images` first\n", base)
			os.Exit(2)
		}
	}
	before, err := enginetest.Images(ctx, cli)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	code := m.Run()

	recorded, _ := store.Images()
	res, err := session.Clean(ctx, cli, store)
	after, _ := enginetest.Images(ctx, cli)
	if err != nil {
		fmt.Fprintln(os.Stderr, "grade clean failed:", err)
		code = 1
	}
	if left, gone := enginetest.CleanedUp(before, after, recorded); len(left) > 0 || len(gone) > 0 {
		fmt.Fprintf(os.Stderr, "after grade clean the engine's images differ from before the tests: %d of grade's left behind %v, %d missing %v (clean removed %d, kept %v)\n",
			len(left), left, len(gone), gone, res.Removed, res.Kept)
		code = 1
	}
	s.Close()
	os.RemoveAll(stateDir)
	os.Exit(code)
}

// want describes the expected grading of one submission: statuses of the
// checks that differ from "pass" (bonus.scratch defaults to skip), and words
// that must appear in a check's message or hint.
type want struct {
	status   map[string]grader.Status
	mentions map[string][]string
	exit     int
}

const (
	pass = grader.StatusPass
	fail = grader.StatusFail
	skip = grader.StatusSkip
	errs = grader.StatusError
)

var allAfterBuild = []string{"image.size", "image.no-toolchain", "image.static-binary", "image.non-root",
	"runtime.start", "runtime.non-root", "runtime.health", "runtime.info", "runtime.echo"}
var allRuntime = []string{"runtime.health", "runtime.info", "runtime.echo"}

func statuses(st grader.Status, ids []string, more map[string]grader.Status) map[string]grader.Status {
	m := map[string]grader.Status{}
	for _, id := range ids {
		m[id] = st
	}
	for k, v := range more {
		m[k] = v
	}
	return m
}

var submissions = map[string]want{
	"solution": {
		status: map[string]grader.Status{"bonus.scratch": pass},
		exit:   0,
	},
	"fat-single-stage": {
		status: map[string]grader.Status{
			"dockerfile.multi-stage": fail, "dockerfile.copy-from": fail, "dockerfile.distinct-bases": fail,
			"dockerfile.non-root": fail, "image.size": fail, "image.no-toolchain": fail,
			"image.static-binary": "", // depends on whether golang:1.21 has a C compiler (real image) or not (stand-in)
			"image.non-root":      fail, "runtime.non-root": fail,
		},
		mentions: map[string][]string{"image.size": {"largest layer"}, "image.no-toolchain": {"/usr/local/go", "/app/main.go"}},
		exit:     1,
	},
	"no-user": {
		status:   map[string]grader.Status{"dockerfile.non-root": fail, "image.non-root": fail, "runtime.non-root": fail},
		mentions: map[string][]string{"image.non-root": {"no USER"}, "runtime.non-root": {"UID 0"}},
		exit:     1,
	},
	"user-root": {
		status: map[string]grader.Status{"dockerfile.non-root": fail, "image.non-root": fail, "runtime.non-root": fail},
		exit:   1,
	},
	"user-unknown": {
		status: statuses(skip, allRuntime, map[string]grader.Status{
			"image.non-root": fail, "runtime.start": fail, "runtime.non-root": skip}),
		mentions: map[string][]string{"image.non-root": {"appuser", "/etc/passwd"}, "runtime.start": {"USER appuser is unknown", "adduser"}},
		exit:     1,
	},
	"dynamic-binary": {
		status:   statuses(skip, allRuntime, map[string]grader.Status{"image.static-binary": fail, "runtime.start": fail, "runtime.non-root": skip}),
		mentions: map[string][]string{"image.static-binary": {"dynamically linked", "CGO_ENABLED=0", "buildmode=pie"}, "runtime.start": {"no such file or directory", "CGO_ENABLED=0"}},
		exit:     1,
	},
	"cmd-not-found": {
		status:   statuses(skip, allRuntime, map[string]grader.Status{"image.static-binary": fail, "runtime.start": fail, "runtime.non-root": skip}),
		mentions: map[string][]string{"runtime.start": {"CMD path not found", "/app/app"}},
		exit:     1,
	},
	"wrong-arch": {
		status:   statuses(skip, allRuntime, map[string]grader.Status{"image.static-binary": fail, "runtime.start": fail, "runtime.non-root": skip}),
		mentions: map[string][]string{"runtime.start": {"exec format error", "arm64"}},
		exit:     1,
	},
	"copy-from-unknown": {
		status: statuses(skip, allAfterBuild, map[string]grader.Status{
			"dockerfile.copy-from": fail, "dockerfile.distinct-bases": "", "image.build": fail}),
		mentions: map[string][]string{"dockerfile.copy-from": {"build", "builder"}, "image.build": {"--from=build", "names no earlier stage", "builder"}},
		exit:     1,
	},
	"copy-from-index": {exit: 0},
	"compile-error": {
		status:   statuses(skip, allAfterBuild, map[string]grader.Status{"image.build": fail}),
		mentions: map[string][]string{"image.build": {"undefinedThing", "go build"}},
		exit:     1,
	},
	"syntax-error": {
		status: statuses(skip, allAfterBuild, map[string]grader.Status{
			"dockerfile.found": fail, "dockerfile.multi-stage": skip, "dockerfile.copy-from": skip,
			"dockerfile.distinct-bases": skip, "dockerfile.non-root": skip, "image.build": fail}),
		mentions: map[string][]string{"dockerfile.found": {"FORM", "line"}},
		exit:     1,
	},
	"missing-dockerfile": {
		status: statuses(skip, allAfterBuild, map[string]grader.Status{
			"dockerfile.found": fail, "dockerfile.multi-stage": skip, "dockerfile.copy-from": skip,
			"dockerfile.distinct-bases": skip, "dockerfile.non-root": skip, "image.build": fail}),
		mentions: map[string][]string{"dockerfile.found": {"Dockerfile.multistage"}},
		exit:     1,
	},
	"bind-localhost": {
		status:   statuses(skip, allRuntime, map[string]grader.Status{"runtime.start": fail}),
		mentions: map[string][]string{"runtime.start": {"127.0.0.1:8080", ":8080"}},
		exit:     1,
	},
	"wrong-port": {
		status:   statuses(skip, allRuntime, map[string]grader.Status{"runtime.start": fail}),
		mentions: map[string][]string{"runtime.start": {"wrong port", "3000", "8080"}},
		exit:     1,
	},
	"crash-on-start": {
		status:   statuses(skip, allRuntime, map[string]grader.Status{"runtime.start": fail, "runtime.non-root": skip}),
		mentions: map[string][]string{"runtime.start": {"exited with code 3", "DATABASE_URL is not set"}},
		exit:     1,
	},
	"hang-health": {
		status:   map[string]grader.Status{"runtime.health": fail},
		mentions: map[string][]string{"runtime.health": {"did not answer within"}},
		exit:     1,
	},
	"same-base": {
		status:   map[string]grader.Status{"dockerfile.distinct-bases": fail, "image.size": fail, "image.no-toolchain": fail},
		mentions: map[string][]string{"dockerfile.distinct-bases": {"golang:1.21"}},
		exit:     1,
	},
	"ships-source": {
		status:   map[string]grader.Status{"image.no-toolchain": fail},
		mentions: map[string][]string{"image.no-toolchain": {"/app/main.go"}},
		exit:     1,
	},
	"endless-build": {
		status:   statuses(skip, allAfterBuild, map[string]grader.Status{"image.build": fail, "dockerfile.non-root": fail}),
		mentions: map[string][]string{"image.build": {"did not finish within", "sleep 3600"}},
		exit:     1,
	},
	"missing-base": {
		status:   statuses(skip, allAfterBuild, map[string]grader.Status{"image.build": errs}),
		mentions: map[string][]string{"image.build": {"alpine:3.99", "make images"}},
		exit:     2,
	},
	"scratch-not-scratch": {
		status:   map[string]grader.Status{"bonus.scratch": fail},
		mentions: map[string][]string{"bonus.scratch": {"not scratch"}},
		exit:     0,
	},
}

func testOptions() grader.Options {
	o := grader.DefaultOptions()
	o.StartTimeout = 10 * time.Second
	o.ProbeTimeout = 2 * time.Second
	o.BuildTimeout = 10 * time.Minute
	o.Store = store
	o.GraderVersion = "test"
	return o
}

func TestEverySubmissionHasExpectations(t *testing.T) {
	names, err := fixture.Names()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, ok := submissions[n]; !ok {
			t.Errorf("fixtures/submissions/%s has no expectations in this test", n)
		}
	}
	if len(names) < 15 {
		t.Errorf("only %d submissions, want at least 15", len(names))
	}
}

func TestSubmissions(t *testing.T) {
	names := make([]string, 0, len(submissions))
	for n := range submissions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		w := submissions[name]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := fixture.Materialize(name, dir); err != nil {
				t.Fatal(err)
			}
			opts := testOptions()
			if name == "endless-build" {
				opts.BuildTimeout = 8 * time.Second
			}
			tempBefore, _ := enginetest.TempFiles()
			rep, err := grader.Grade(context.Background(), checks.Multistage, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]grader.Result{}
			for _, c := range rep.Checks {
				got[c.ID] = c
			}
			for _, c := range checks.Multistage.Checks {
				exp, listed := w.status[c.ID]
				if !listed {
					exp = pass
					if c.Bonus {
						exp = skip
					}
				}
				r, ok := got[c.ID]
				if !ok {
					t.Errorf("%s: missing from the report", c.ID)
					continue
				}
				if exp != "" && r.Status != exp {
					t.Errorf("%s: status %s, want %s\n  message: %s\n  hint: %s", c.ID, r.Status, exp, r.Message, r.Hint)
				}
				if r.Status == fail && r.Hint == "" {
					t.Errorf("%s: failed without a hint (message %q)", c.ID, r.Message)
				}
			}
			for id, words := range w.mentions {
				text := got[id].Message + "\n" + got[id].Hint
				for _, word := range words {
					if !strings.Contains(text, word) {
						t.Errorf("%s: %q not mentioned in\n%s", id, word, text)
					}
				}
			}
			if rep.ExitCode() != w.exit {
				t.Errorf("exit code %d, want %d (score %d/%d, gradable %v)", rep.ExitCode(), w.exit, rep.Score, rep.MaxScore, rep.Gradable)
			}
			if w.exit == 0 && rep.Score != rep.MaxScore {
				t.Errorf("score %d, want %d", rep.Score, rep.MaxScore)
			}
			assertNoContainers(t)
			tempAfter, _ := enginetest.TempFiles()
			if left := enginetest.New(tempBefore, tempAfter); len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

// assertNoContainers fails when any container the grader labelled remains.
func assertNoContainers(t *testing.T) {
	t.Helper()
	cli, done, err := enginetest.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	left, err := enginetest.GraderContainers(context.Background(), cli)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range left {
		t.Errorf("container %s outlived the run", c)
	}
}
