package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/session"
	"github.com/gradelab/grade/internal/enginetest"
	"github.com/gradelab/grade/internal/fixture"
)

// These tests run the real grade binary, as a student or a CI job would.

var gradeBin string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "grade-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	gradeBin = filepath.Join(tmp, "grade")
	build := exec.Command("go", "build", "-o", gradeBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build grade:", err)
		os.Exit(2)
	}
	// Every image these tests build is recorded here, and `grade clean`
	// at the end must bring the engine back to where it was.
	os.Setenv("GRADE_STATE_DIR", filepath.Join(tmp, "state"))
	ctx := context.Background()
	cli, done, err := enginetest.Client(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "these tests need a Docker Engine:", grader.EnvironmentMessage(err))
		os.Exit(2)
	}
	before, err := enginetest.Images(ctx, cli)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	code := m.Run()

	var recorded []string
	if st, err := session.DefaultStore(); err == nil {
		recorded, _ = st.Images()
	}
	out, err := exec.Command(gradeBin, "clean").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "grade clean failed: %v\n%s", err, out)
		code = 1
	}
	after, _ := enginetest.Images(ctx, cli)
	if extra, gone := enginetest.CleanedUp(before, after, recorded); len(extra)+len(gone) > 0 {
		fmt.Fprintf(os.Stderr, "after `grade clean` (%s) the engine's images differ: left %v, missing %v\n",
			strings.TrimSpace(string(out)), extra, gone)
		code = 1
	}
	done()
	os.RemoveAll(tmp)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// grade runs the binary with args and extra environment variables.
func grade(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(gradeBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func submission(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := fixture.Materialize(name, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(empty, "file.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	for name, args := range map[string][]string{
		"missing folder":  {filepath.Join(empty, "nope")},
		"a file":          {file},
		"two folders":     {empty, empty},
		"unknown format":  {"--format", "yaml", empty},
		"unknown flag":    {"--frobnicate", empty},
		"bad color":       {"--color", "sometimes", empty},
		"outputs>formats": {"--output", filepath.Join(empty, "a"), "--output", filepath.Join(empty, "b"), empty},
	} {
		t.Run(name, func(t *testing.T) {
			r := grade(t, nil, args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", r.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("a usage error printed a report: %q", r.stdout)
			}
			if !strings.Contains(r.stderr, "grade") || strings.TrimSpace(r.stderr) == "" {
				t.Errorf("stderr does not explain: %q", r.stderr)
			}
		})
	}
}

func TestDockerUnreachableExit2(t *testing.T) {
	dir := submission(t, "solution")
	r := grade(t, []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "--format", "json", dir)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	var rep grader.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("no JSON report: %v\n%s", err, r.stdout)
	}
	if rep.Gradable || rep.Passed {
		t.Errorf("gradable=%v passed=%v, want false/false", rep.Gradable, rep.Passed)
	}
	byID := map[string]grader.Result{}
	for _, c := range rep.Checks {
		byID[c.ID] = c
	}
	if byID["dockerfile.found"].Status != grader.StatusPass {
		t.Errorf("the static checks still run without Docker; dockerfile.found = %s", byID["dockerfile.found"].Status)
	}
	if s := byID["image.build"].Status; s != grader.StatusError {
		t.Errorf("image.build = %s, want error", s)
	}
	if !strings.Contains(r.stderr, "Docker") {
		t.Errorf("stderr should say Docker is unreachable: %q", r.stderr)
	}
}

func TestExitCodesAndFormats(t *testing.T) {
	sol := submission(t, "solution")
	t.Run("solution passes: exit 0, JSON and text agree", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "report.json")
		r := grade(t, []string{"NO_COLOR="}, "--format", "json", "--output", out, "--color", "always", sol)
		if r.code != 0 {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		var rep grader.Report
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Score != 100 || rep.MaxScore != 100 || rep.BonusScore != 10 || !rep.Passed || !rep.Gradable {
			t.Errorf("score %d/%d +%d passed=%v gradable=%v, want 100/100 +10", rep.Score, rep.MaxScore, rep.BonusScore, rep.Passed, rep.Gradable)
		}
		if rep.Image == nil || rep.Image.SizeBytes <= 0 || rep.Image.SizeBytes > 20_000_000 {
			t.Errorf("image summary %+v", rep.Image)
		}
		// With every format sent to a file, the text scorecard goes to stdout.
		if !strings.Contains(r.stdout, "Score 100/100") {
			t.Errorf("no text scorecard on stdout:\n%s", r.stdout)
		}
		// NO_COLOR is set (even empty): no color, even with --color always.
		if strings.Contains(r.stdout, "\x1b[") {
			t.Error("colors printed although NO_COLOR is set")
		}
	})
	t.Run("--color always colors without a terminal", func(t *testing.T) {
		r := grade(t, nil, "--color", "always", sol)
		if os.Getenv("NO_COLOR") == "" && !strings.Contains(r.stdout, "\x1b[") {
			t.Errorf("no color with --color always:\n%s", r.stdout)
		}
		r = grade(t, nil, sol)
		if strings.Contains(r.stdout, "\x1b[") {
			t.Error("colors printed to a pipe")
		}
	})
	t.Run("a student failure: exit 1", func(t *testing.T) {
		r := grade(t, nil, submission(t, "no-user"))
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "USER") || !strings.Contains(r.stdout, "hint:") {
			t.Errorf("the scorecard does not explain the missing USER:\n%s", r.stdout)
		}
	})
	t.Run("a missing base image: exit 2, not a student failure", func(t *testing.T) {
		r := grade(t, nil, submission(t, "missing-base"))
		if r.code != 2 {
			t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "alpine:3.99") {
			t.Errorf("stderr does not name the missing image: %q", r.stderr)
		}
	})
}

func TestNoKeepRemovesTheRunsImages(t *testing.T) {
	dir := submission(t, "no-user")
	r := grade(t, nil, "--no-keep", dir)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	cli, done, err := enginetest.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	ref := session.Reference(dir, "multistage")
	if _, err := cli.ImageInspect(context.Background(), ref); err == nil {
		t.Errorf("--no-keep left %s behind", ref)
	}
}

// TestInterruptCleansUp sends Ctrl-C while the student's container runs
// (it never answers, so the grader is waiting for it) and checks that the
// grader exits promptly with 2 and leaves no container behind.
func TestInterruptCleansUp(t *testing.T) {
	dir := submission(t, "bind-localhost")
	ctx := context.Background()
	cli, done, err := enginetest.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer done()

	cmd := exec.Command(gradeBin, "--start-timeout", "10m", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Wait until the grader's container is running: the condition, polled.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		list, err := cli.ContainerList(ctx, client.ContainerListOptions{
			Filters: make(client.Filters).Add("label", session.LabelGrader).Add("status", "running"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) > 0 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("grade exited before its container ran: %v\n%s", err, stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the container never ran")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("after Ctrl-C: %v, want exit status 2", err)
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("grade did not stop after Ctrl-C")
	}
	left, err := enginetest.GraderContainers(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("containers left after Ctrl-C: %v", left)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say it was interrupted: %q", stderr.String())
	}
}

// TestInstructorSettings: --config changes the score; settings files placed
// in the submission (where students could loosen them) change nothing.
func TestInstructorSettings(t *testing.T) {
	dir := submission(t, "no-user")
	loose := "required: [dockerfile.found]\nsize_limit: 2000000000\n"
	for _, name := range []string{"grade.yaml", ".grade.yaml", "grade.json", "config.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(loose), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	score := func(args ...string) (grader.Report, int) {
		t.Helper()
		r := grade(t, nil, append(args, "--format", "json", dir)...)
		var rep grader.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v\n%s\n%s", err, r.stdout, r.stderr)
		}
		return rep, r.code
	}
	rep, code := score()
	if code != 1 || rep.Passed || rep.MaxScore != 100 {
		t.Errorf("with settings files in the submission: exit %d, passed %v, max %d; want 1, false, 100 (they must be ignored)", code, rep.Passed, rep.MaxScore)
	}
	cfg := filepath.Join(t.TempDir(), "instructor.yaml")
	os.WriteFile(cfg, []byte("points: {image.size: 30}\nrequired: [dockerfile.found, image.build, image.size]\n"), 0o644)
	rep, code = score("--config", cfg)
	if code != 0 || !rep.Passed || rep.MaxScore != 45 || rep.Score != 45 {
		t.Errorf("with --config: exit %d, passed %v, score %d/%d; want 0, true, 45/45", code, rep.Passed, rep.Score, rep.MaxScore)
	}
	rep, _ = score("--only", "dockerfile.found,dockerfile.non-root")
	if len(rep.Checks) != 2 {
		t.Errorf("--only ran %d checks, want 2", len(rep.Checks))
	}
}
