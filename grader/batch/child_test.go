package batch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeGrade is a stand-in for the grade binary: it acts by the name of the
// submission folder (its last argument).
const fakeGrade = `#!/bin/sh
out=$4
for a; do dir=$a; done
report='{"schema_version":1,"lab":"multistage","score":%d,"max_score":100,"passed":%s,"gradable":%s,"checks":[]}'
case $(basename "$dir") in
pass)       printf "$report" 100 true true >"$out"; exit 0 ;;
fail)       printf "$report" 40 false true >"$out"; exit 1 ;;
ungradable) printf "$report" 5 false false >"$out"; echo "grade: could not grade: Docker" >&2; exit 2 ;;
noreport)   echo "grade: the Docker Engine does not answer — start Docker" >&2; exit 2 ;;
garbage)    echo "{not json" >"$out"; exit 0 ;;
crash)      echo "panic: oops" >&2; kill -SEGV $$ ;;
args)       printf '%s\n' "$@" >"$dir/args"; env >"$dir/env"; printf "$report" 1 true true >"$out"; exit 0 ;;
hang)       trap 'echo interrupted >"$dir/signal"; exit 2' INT; : >"$dir/ready"; sleep 30 >/dev/null 2>&1 & wait; exit 0 ;;
esac
exit 3
`

func TestBatchChild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "grade")
	if err := os.WriteFile(bin, []byte(fakeGrade), 0o755); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := func(name string) string {
		d := filepath.Join(root, name)
		os.MkdirAll(d, 0o755)
		return d
	}
	c := &Child{Exe: bin, Args: []string{"--build-timeout=10s"}, Env: []string{"PATH=" + os.Getenv("PATH"), "GITHUB_ACTIONS=true", "DOCKER_HOST=unix:///old.sock", "KEEP=1"}}
	ctx := context.Background()
	eng := Engine{Host: "tcp://10.1.2.3:2375", Slots: 1}

	if r, err := c.Grade(ctx, dir("pass"), eng); err != nil || !r.Gradable || r.Score != 100 {
		t.Errorf("exit 0: %+v, %v", r, err)
	}
	if r, err := c.Grade(ctx, dir("fail"), eng); err != nil || !r.Gradable || r.Passed {
		t.Errorf("exit 1: %+v, %v", r, err)
	}
	if r, err := c.Grade(ctx, dir("ungradable"), eng); err != nil || r == nil || r.Gradable {
		t.Errorf("exit 2 with a report: %+v, %v; want the report", r, err)
	}
	if _, err := c.Grade(ctx, dir("noreport"), eng); err == nil || !strings.Contains(err.Error(), "Docker Engine does not answer") {
		t.Errorf("exit 2 without a report: %v; want grade's own message", err)
	}
	if _, err := c.Grade(ctx, dir("garbage"), eng); err == nil {
		t.Error("an unreadable report was accepted")
	}
	if _, err := c.Grade(ctx, dir("crash"), eng); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("a crash: %v", err)
	}
	if _, err := c.Grade(ctx, dir("unknown"), eng); err == nil || !strings.Contains(err.Error(), "exited 3") {
		t.Errorf("exit 3: %v", err)
	}

	d := dir("args")
	if _, err := c.Grade(ctx, d, eng); err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(filepath.Join(d, "args"))
	got := strings.Fields(string(args))
	if len(got) < 6 || !slices.Equal(got[:2], []string{"--format", "json"}) || got[2] != "--output" ||
		!slices.Contains(got, "--no-keep") || !slices.Contains(got, "--build-timeout=10s") || got[len(got)-1] != d || got[len(got)-2] != "--" {
		t.Errorf("child args %q", got)
	}
	env, _ := os.ReadFile(filepath.Join(d, "env"))
	for _, want := range []string{"DOCKER_HOST=tcp://10.1.2.3:2375", "KEEP=1"} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("child env lacks %s:\n%s", want, env)
		}
	}
	for _, bad := range []string{"GITHUB_ACTIONS=", "unix:///old.sock"} {
		if strings.Contains(string(env), bad) {
			t.Errorf("child env has %s:\n%s", bad, env)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "grade-batch-*", "report.json")); len(left) > 0 {
		t.Logf("report files in the temp folder (maybe another run's): %v", left)
	}

	t.Run("cancel interrupts the child", func(t *testing.T) {
		d := dir("hang")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := c.Grade(ctx, d, eng); done <- err }()
		// Wait until the child has set its trap: the condition, polled.
		for deadline := time.Now().Add(10 * time.Second); ; {
			if _, err := os.Stat(filepath.Join(d, "ready")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the child did not start")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, ErrInterrupted) {
				t.Errorf("err = %v, want ErrInterrupted", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the child was not interrupted")
		}
		if b, _ := os.ReadFile(filepath.Join(d, "signal")); strings.TrimSpace(string(b)) != "interrupted" {
			t.Errorf("the child did not get SIGINT (it removes its containers on SIGINT)")
		}
	})
}
