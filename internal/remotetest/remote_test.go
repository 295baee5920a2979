//go:build linux

package remotetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/session"
	"github.com/gradelab/grade/internal/fixture"
)

// What TestMain starts: the grade binary, a second dockerd with TLS, and an
// OpenSSH server. All of it lives in one temporary folder and goes at the end.
var (
	tmp    string
	bin    string
	daemon *Daemon
	sshd   *SSHD
)

// Limits: the whole package (a cold build of the reference solution in the
// fresh daemon compiles Go), and one grade run.
const (
	packageLimit = 15 * time.Minute
	runLimit     = 8 * time.Minute
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := Requirements(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: the remote-engine tests (internal/remotetest) cannot run here:", err)
		return 1
	}
	var err error
	if tmp, err = os.MkdirTemp("", "grade-remotetest-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var once sync.Once
	teardown := func() {
		once.Do(func() {
			if sshd != nil {
				sshd.Stop()
			}
			if daemon != nil {
				if err := daemon.Stop(); err != nil {
					fmt.Fprintln(os.Stderr, "remotetest: removing the second dockerd:", err)
				}
			}
			os.RemoveAll(tmp)
		})
	}
	defer teardown()
	// Ctrl-C, a kill, or running past the limit still remove the daemon.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "remotetest: %v: removing the second dockerd and sshd\n", s)
		case <-time.After(packageLimit):
			fmt.Fprintf(os.Stderr, "FAIL: remotetest ran past %s: removing the second dockerd and sshd\n", packageLimit)
		}
		teardown()
		os.Exit(1)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	if err := setup(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: remotetest setup:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "remotetest: dockerd %s (storage %s) and sshd on 127.0.0.1:%d ready in %s\n",
		daemon.Host, daemon.Driver, sshd.Port, time.Since(start).Round(time.Second))
	return m.Run()
}

func setup(ctx context.Context) error {
	bin = filepath.Join(tmp, "grade")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/grade")
	build.Dir = fixture.Root()
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/grade: %v\n%s", err, out)
	}
	var err error
	if daemon, err = StartDaemon(ctx, filepath.Join(tmp, "dockerd")); err != nil {
		return fmt.Errorf("second dockerd: %w", err)
	}
	if err := daemon.LoadImages(ctx, "golang:1.21", "alpine:3.18"); err != nil {
		return fmt.Errorf("base images for the second dockerd: %w", err)
	}
	if sshd, err = StartSSHD(ctx, filepath.Join(tmp, "sshd")); err != nil {
		return fmt.Errorf("sshd: %w", err)
	}
	return nil
}

// ---------------------------------------------------------------------------

type result struct {
	code           int
	stdout, stderr string
	report         *grader.Report
}

// grade runs the grade binary with only env choosing the engine, a state
// folder and temporary folder of the test's own, and a JSON report.
func grade(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--format", "json", "--timeout", runLimit.String()}, args...)...)
	cmd.Env = append(CleanEnv(os.Environ()),
		"GRADE_STATE_DIR="+t.TempDir(), "TMPDIR="+tmpDir(t), "NO_COLOR=1")
	if !hasKey(env, "DOCKER_CONFIG") {
		cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+t.TempDir()) // no context of the machine's user
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("grade ran past %s\nstderr: %s", runLimit, r.stderr)
	}
	var rep grader.Report
	if json.Unmarshal(out.Bytes(), &rep) == nil {
		r.report = &rep
	}
	return r
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// tmpDir is the TMPDIR of one grade run, to prove that nothing remains in it.
func tmpDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func solution(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "solution")
	if err := fixture.Materialize("solution", dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func check(r result, id string) grader.Result {
	for _, c := range r.report.Checks {
		if c.ID == id {
			return c
		}
	}
	return grader.Result{}
}

// wantFullScore asserts exit 0 and 100/100 with every check passed, and
// that the server was probed at probeHost.
func wantFullScore(t *testing.T, r result, probeHost string) {
	t.Helper()
	if r.report == nil {
		t.Fatalf("exit %d and no JSON report\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var notPassed []string
	for _, c := range r.report.Checks {
		if c.Status != grader.StatusPass {
			notPassed = append(notPassed, fmt.Sprintf("%s=%s: %s", c.ID, c.Status, c.Message))
		}
	}
	if r.code != 0 || r.report.Score != 100 || !r.report.Passed || len(notPassed) > 0 {
		t.Fatalf("exit %d, score %d, passed %v; want 0, 100, true\n%s\nstderr: %s",
			r.code, r.report.Score, r.report.Passed, strings.Join(notPassed, "\n"), r.stderr)
	}
	if msg := check(r, "runtime.start").Message; !strings.Contains(msg, "http://"+probeHost+":") {
		t.Errorf("runtime.start = %q, want the port probed at %s", msg, probeHost)
	}
	t.Logf("graded 100/100 in %s (%s)", time.Duration(r.report.DurationMS)*time.Millisecond, check(r, "image.build").Message)
}

// wantNotGradable asserts exit 2, a report that is not gradable, and
// stderr containing every one of want.
func wantNotGradable(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code != 2 || r.report == nil || r.report.Gradable {
		t.Fatalf("exit %d, report %v; want exit 2 and gradable=false\nstderr: %s", r.code, r.report != nil, r.stderr)
	}
	if s := check(r, "image.build").Status; s != grader.StatusError {
		t.Errorf("image.build = %s, want error: no other engine may build it", s)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
		}
	}
}

// wantNothingLeft asserts that the run's TMPDIR is empty (the ssh relay's
// socket and folder went with the session) and that no process of the run
// (an ssh of the relay) outlives it.
func wantNothingLeft(t *testing.T, runTmp, marker string) {
	t.Helper()
	if entries, _ := os.ReadDir(runTmp); len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("grade left %v in its TMPDIR", names)
	}
	var left []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		left = processesWith(marker)
		if len(left) == 0 {
			return
		}
	}
	t.Errorf("processes outlive grade: %v", left)
}

// processesWith lists the processes whose command line contains s.
func processesWith(s string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		line := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		if strings.Contains(line, s) && !strings.Contains(line, "remotetest.test") {
			out = append(out, line)
		}
	}
	return out
}

// imageOn reports whether the engine reached with env has an image ref.
func imageOn(t *testing.T, env []string, ref string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
	cmd.Env = append(CleanEnv(os.Environ()), env...)
	return cmd.Run() == nil
}

// ---------------------------------------------------------------------------
// tcp:// with TLS

// TestTLSDockerHost grades through DOCKER_HOST=tcp://127.0.0.1:PORT with
// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH. It keeps the images, so the
// context test after it finds a warm build cache.
func TestTLSDockerHost(t *testing.T) {
	dir := solution(t)
	r := grade(t, daemon.Env(), dir)
	wantFullScore(t, r, "127.0.0.1")
	ref := session.Reference(dir, "multistage")
	if !imageOn(t, daemon.Env(), ref) {
		t.Errorf("%s is not on the TLS daemon: grade built somewhere else", ref)
	}
	if imageOn(t, nil, ref) {
		t.Errorf("%s is on the machine's default engine: grade ignored DOCKER_HOST", ref)
	}
}

// TestTLSDockerContext grades with nothing but DOCKER_CONFIG: its current
// context, made by the docker CLI, names the TLS daemon and its files.
func TestTLSDockerContext(t *testing.T) {
	cfg := t.TempDir()
	c := daemon.Certs.ClientDir
	for _, args := range [][]string{
		{"--config", cfg, "context", "create", "grade-tls", "--docker", fmt.Sprintf("host=%s,ca=%s,cert=%s,key=%s",
			daemon.Host, filepath.Join(c, "ca.pem"), filepath.Join(c, "cert.pem"), filepath.Join(c, "key.pem"))},
		{"--config", cfg, "context", "use", "grade-tls"},
	} {
		cmd := exec.Command("docker", args...)
		cmd.Env = CleanEnv(os.Environ())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	dir := solution(t)
	r := grade(t, []string{"DOCKER_CONFIG=" + cfg}, dir)
	wantFullScore(t, r, "127.0.0.1")
	ref := session.Reference(dir, "multistage")
	if !imageOn(t, daemon.Env(), ref) {
		t.Errorf("%s is not on the context's daemon", ref)
	}
	if imageOn(t, nil, ref) {
		t.Errorf("%s is on the machine's default engine: grade ignored the context", ref)
	}
}

// TestTLSRefused: a TLS daemon reached without its certificates must be an
// environment error (exit 2), never a silent fall back to the default
// socket, which testcontainers-go alone would do.
func TestTLSRefused(t *testing.T) {
	dir := solution(t)
	t.Run("no TLS", func(t *testing.T) {
		r := grade(t, []string{"DOCKER_HOST=" + daemon.Host}, dir)
		wantNotGradable(t, r, daemon.Host, "DOCKER_HOST", "DOCKER_CERT_PATH")
	})
	t.Run("a certificate of another CA", func(t *testing.T) {
		other, err := WriteCerts(filepath.Join(t.TempDir(), "other"))
		if err != nil {
			t.Fatal(err)
		}
		r := grade(t, []string{"DOCKER_HOST=" + daemon.Host, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + other.ClientDir}, dir)
		wantNotGradable(t, r, daemon.Host, "certificate")
	})
	t.Run("an unknown context", func(t *testing.T) {
		r := grade(t, []string{"DOCKER_CONTEXT=no-such-context"}, dir)
		wantNotGradable(t, r, `docker context "no-such-context" does not exist`)
	})
}

// ---------------------------------------------------------------------------
// ssh://

// TestSSH grades through ssh://, which runs `docker system dial-stdio` on
// the ssh server (here this machine, so the machine's own engine). The run
// removes its images (--no-keep): that engine is shared.
func TestSSH(t *testing.T) {
	for _, tt := range []struct{ name, host string }{
		{"user and port in DOCKER_HOST", fmt.Sprintf("ssh://root@127.0.0.1:%d", sshd.Port)},
		{"a Host alias of the ssh configuration", "ssh://" + AliasHost},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := solution(t)
			before := accepted(t)
			env := []string{"DOCKER_HOST=" + tt.host, "GRADE_SSH_COMMAND=" + sshd.SSHCommand()}
			runTmp := tmpDir(t)
			r := grade(t, append(env, "TMPDIR="+runTmp), "--no-keep", dir)
			wantFullScore(t, r, "127.0.0.1")
			if n := accepted(t) - before; n == 0 {
				t.Errorf("sshd accepted no connection: grade did not go through ssh")
			} else {
				t.Logf("%d ssh connections", n)
			}
			if imageOn(t, nil, session.Reference(dir, "multistage")) {
				t.Errorf("--no-keep left the image on the engine")
			}
			wantNothingLeft(t, runTmp, sshd.Config)
		})
	}
}

// TestSSHUnreachable: an ssh:// engine that does not answer is exit 2 with
// ssh's own message.
func TestSSHUnreachable(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	runTmp := tmpDir(t)
	r := grade(t, []string{fmt.Sprintf("DOCKER_HOST=ssh://root@127.0.0.1:%d", port),
		"GRADE_SSH_COMMAND=" + sshd.SSHCommand(), "TMPDIR=" + runTmp}, solution(t))
	wantNotGradable(t, r, "Connection refused", "docker system dial-stdio")
	wantNothingLeft(t, runTmp, sshd.Config)
}

// accepted counts the connections sshd let in.
func accepted(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(sshd.Log)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("Accepted publickey"))
}
