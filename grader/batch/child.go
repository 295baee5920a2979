package batch

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
	"sync"
	"time"

	"github.com/gradelab/grade/grader"
)

// Child grades one submission by running the grade binary on it, as
//
//	grade --format json --output TMP/report.json --no-keep [Args...] DIR
//
// with DOCKER_HOST set to the engine's host. One process per submission:
// testcontainers-go settles on one Docker host per process, and a child
// contains a crash or a leak of the grader to one submission.
type Child struct {
	// Exe is the grade binary (os.Executable()).
	Exe string
	// Args are the instructor's flags, passed on to every child.
	Args []string
	// Env is the children's environment (os.Environ() when nil).
	Env []string
	// Limit bounds a child's run: past it the child is interrupted (and
	// killed 90 s later). Set it above the child's own --timeout, which
	// normally ends the run first with a report.
	Limit time.Duration

	mu      sync.Mutex
	running map[*os.Process]bool
}

// ErrInterrupted is returned for a child stopped by the batch's Ctrl-C.
var ErrInterrupted = errors.New("interrupted")

// Grade runs a child on dir with the engine eng. It returns the child's
// report for exits 0 and 1, and for exit 2 when the child wrote one (then
// gradable is false); otherwise an error that says what happened.
// Cancelling ctx interrupts the child (SIGINT): it removes its containers
// and exits; Grade waits for that.
func (c *Child) Grade(ctx context.Context, dir string, eng Engine) (*grader.Report, error) {
	tmp, err := os.MkdirTemp("", "grade-batch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "report.json")
	args := append([]string{"--format", "json", "--output", out, "--no-keep"}, c.Args...)
	args = append(args, "--", dir)

	runCtx := ctx
	if c.Limit > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.Limit)
		defer cancel()
	}
	cmd := exec.CommandContext(runCtx, c.Exe, args...)
	cmd.Env = childEnv(c.Env, eng)
	cmd.Dir = tmp
	var stderr tailBuffer
	cmd.Stdout = nil // the text scorecard: not needed
	cmd.Stderr = &stderr
	// Its own process group: a Ctrl-C at the terminal reaches only the
	// batch, which forwards exactly one SIGINT (a second one would make the
	// child quit at once, before removing its containers).
	cmd.SysProcAttr = newProcessGroup()
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 90 * time.Second

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start grade: %w", err)
	}
	c.track(cmd.Process, true)
	err = cmd.Wait()
	c.track(cmd.Process, false)

	code := cmd.ProcessState.ExitCode()
	rep, rerr := readReport(out)
	switch {
	case ctx.Err() != nil:
		if rep != nil && rep.Gradable && (code == 0 || code == 1) {
			return rep, nil // it finished just before the Ctrl-C
		}
		return nil, ErrInterrupted
	case runCtx.Err() != nil:
		return nil, fmt.Errorf("grade did not finish within %s and was stopped", c.Limit)
	case (code == 0 || code == 1) && rerr == nil:
		return rep, nil
	case code == 2 && rerr == nil:
		return rep, nil
	case code == 2:
		return nil, fmt.Errorf("grade could not grade: %s", stderr.LastLine())
	case code < 0:
		return nil, fmt.Errorf("grade was killed (%v): %s", err, stderr.LastLine())
	case rerr != nil && (code == 0 || code == 1):
		return nil, fmt.Errorf("grade exited %d without a readable report: %v", code, rerr)
	}
	return nil, fmt.Errorf("grade exited %d: %s", code, stderr.LastLine())
}

// Interrupt sends SIGINT to every running child: after the first one
// (through ctx) a second makes them quit at once.
func (c *Child) Interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := range c.running {
		_ = p.Signal(os.Interrupt)
	}
}

func (c *Child) track(p *os.Process, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running == nil {
		c.running = map[*os.Process]bool{}
	}
	if on {
		c.running[p] = true
	} else {
		delete(c.running, p)
	}
}

// childEnv is the batch's environment for a child on eng: DOCKER_HOST set
// to the engine (settings that would point elsewhere removed), and without
// GITHUB_ACTIONS, so children do not write the job's step summary and
// outputs: the batch is one job, not one per submission.
func childEnv(base []string, eng Engine) []string {
	if base == nil {
		base = os.Environ()
	}
	drop := map[string]bool{"GITHUB_ACTIONS": true}
	if eng.Host != "" {
		drop["DOCKER_HOST"] = true
		drop["DOCKER_CONTEXT"] = true
		drop["TESTCONTAINERS_HOST_OVERRIDE"] = true
		drop["TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE"] = true
	}
	out := make([]string, 0, len(base)+2)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	if eng.Host != "" {
		out = append(out, "DOCKER_HOST="+eng.Host)
	}
	return append(out, "NO_COLOR=1")
}

func readReport(path string) (*grader.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r grader.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if r.SchemaVersion != grader.SchemaVersion {
		return nil, fmt.Errorf("report schema_version %d", r.SchemaVersion)
	}
	return &r, nil
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8<<10 {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-8<<10:]...)
	}
	return len(p), nil
}

// LastLine is the last non-empty line, without the "grade: " prefix.
func (t *tailBuffer) LastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := bytes.Split(bytes.TrimSpace(t.buf), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(string(lines[i])); l != "" {
			return strings.TrimPrefix(l, "grade: ")
		}
	}
	return "no message"
}
