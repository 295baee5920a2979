//go:build linux

package imagetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gradelab/grade/internal/fixture"
)

const (
	// imageRepo is where the test tags the image it builds (removed at the end).
	imageRepo = "grade-test/grade"
	// cacheRepo tags the builder stages' last images (<cacheRepo>:<stage>),
	// so the next run finds them as build cache and they are never dangling.
	// GRADE_IMAGETEST_CACHE=off removes them at the end instead.
	cacheRepo = "grade-test/grade-cache"

	// A cold build compiles grade and all its dependencies: minutes on two
	// busy cores. GRADE_IMAGETEST_BUILD_TIMEOUT overrides it.
	defaultBuildTimeout = 30 * time.Minute
	runTimeout          = 5 * time.Minute
)

// report is the part of grade's JSON report the test reads.
type report struct {
	Score      int  `json:"score"`
	MaxScore   int  `json:"max_score"`
	BonusScore int  `json:"bonus_score"`
	Passed     bool `json:"passed"`
	Gradable   bool `json:"gradable"`
	Checks     []struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"checks"`
}

func (r *report) check(id string) (status, message string) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c.Status, c.Message
		}
	}
	return "", ""
}

// TestGradeImage builds grade's image and grades the reference solution
// (exit 0, 100 points) and failing submissions (exit 1) with it.
func TestGradeImage(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatalf("the docker CLI is needed to build and run grade's image: %v", err)
	}
	root := fixture.Root()
	sock := engineSocket(t)
	gid := socketGroup(t, sock)
	goVersion := goModVersion(t, filepath.Join(root, "go.mod"))
	if def := dockerfileGoVersion(t, filepath.Join(root, "Dockerfile")); def != goVersion {
		t.Errorf("Dockerfile: ARG GO_VERSION=%s, but go.mod asks for Go %s: update the default so that a plain `docker build .` uses it", def, goVersion)
	}
	t.Logf("engine socket %s (group %d); Go %s", sock, gid, goVersion)

	ensureBaseImage(t, root, "golang:"+goVersion)

	id := randomHex(6)
	tag := imageRepo + ":" + id
	buildImage(t, root, tag, goVersion, "imagetest-"+id)

	// The image's own settings are the ones the README documents.
	cfg := dockerOut(t, "image", "inspect", "--format", "{{.Config.User}}|{{json .Config.Entrypoint}}|{{.Size}}|{{len .RootFS.Layers}}", tag)
	parts := strings.Split(cfg, "|")
	if len(parts) != 4 || parts[0] != "65534:65534" || parts[1] != `["/usr/local/bin/grade"]` {
		t.Errorf("image config: user|entrypoint|size|layers = %s; want user 65534:65534 and entrypoint /usr/local/bin/grade", cfg)
	}
	t.Logf("image %s: %s bytes in %s layers", tag, parts[2], parts[3])
	if out := dockerOut(t, "run", "--rm", "--network", "none", tag, "version"); out != "grade imagetest-"+id {
		t.Errorf("grade version in the image = %q, want %q", out, "grade imagetest-"+id)
	}

	base := t.TempDir()
	run := func(t *testing.T, name string, extra []string, args ...string) (*report, int) {
		t.Helper()
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(dir, 0o755); err != nil { // readable by uid 65534
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
			if err := fixture.Materialize(name, dir); err != nil {
				t.Fatal(err)
			}
		}
		return gradeInContainer(t, tag, sock, gid, dir, extra, args...)
	}

	t.Run("solution", func(t *testing.T) {
		r, code := run(t, "solution", nil)
		if code != 0 || r.Score != 100 || !r.Passed || !r.Gradable {
			t.Fatalf("reference solution: exit %d, score %d/%d, passed %v, gradable %v; want exit 0 and 100/100\n%s",
				code, r.Score, r.MaxScore, r.Passed, r.Gradable, failedChecks(r))
		}
		// The probes reached the container's published port.
		for _, id := range []string{"runtime.start", "runtime.health", "runtime.info", "runtime.echo", "runtime.non-root", "bonus.scratch"} {
			if st, msg := r.check(id); st != "pass" {
				t.Errorf("%s: %s (%s), want pass", id, st, msg)
			}
		}
		if r.BonusScore != 10 {
			t.Errorf("bonus_score %d, want 10", r.BonusScore)
		}
	})

	t.Run("no-user", func(t *testing.T) {
		r, code := run(t, "no-user", nil)
		if code != 1 || !r.Gradable || r.Passed {
			t.Fatalf("no-user: exit %d, passed %v, gradable %v; want exit 1\n%s", code, r.Passed, r.Gradable, failedChecks(r))
		}
		if st, _ := r.check("dockerfile.non-root"); st != "fail" {
			t.Errorf("dockerfile.non-root: %s, want fail", st)
		}
		if st, msg := r.check("runtime.non-root"); st != "fail" || !strings.Contains(msg, "UID 0") {
			t.Errorf("runtime.non-root: %s (%s), want fail with UID 0", st, msg)
		}
	})

	// The /proc/<pid>/net/tcp diagnostics need the host's PID namespace:
	// without --pid host, grade says plainly that it could not read them.
	t.Run("bind-localhost", func(t *testing.T) {
		r, code := run(t, "bind-localhost", nil, "--start-timeout", "5s")
		st, msg := r.check("runtime.start")
		if code != 1 || st != "fail" || !strings.Contains(msg, "could not be read") {
			t.Fatalf("bind-localhost: exit %d, runtime.start %s (%s); want exit 1, fail, \"could not be read\"", code, st, msg)
		}
	})
	t.Run("bind-localhost-pid-host", func(t *testing.T) {
		r, code := run(t, "bind-localhost", []string{"--pid", "host"}, "--start-timeout", "5s")
		st, msg := r.check("runtime.start")
		if code != 1 || st != "fail" || !strings.Contains(msg, "127.0.0.1:8080") {
			t.Fatalf("bind-localhost with --pid host: exit %d, runtime.start %s (%s); want exit 1, fail, naming 127.0.0.1:8080", code, st, msg)
		}
	})
}

// gradeInContainer runs `docker run --rm` of the grade image on dir the way
// the README documents it, and returns the JSON report and exit code.
func gradeInContainer(t *testing.T, image, sock string, gid int, dir string, extra []string, gradeArgs ...string) (*report, int) {
	t.Helper()
	name := "grade-imagetest-" + randomHex(6)
	sub := "/work/" + filepath.Base(dir)
	args := []string{"run", "--rm", "--name", name,
		"--network", "host",
		"--group-add", fmt.Sprint(gid),
		"-v", sock + ":/var/run/docker.sock",
		"-v", dir + ":" + sub + ":ro",
	}
	args = append(args, extra...)
	args = append(args, image, "--no-keep", "--color", "never", "--format", "json", "--timeout", "4m")
	args = append(args, gradeArgs...)
	args = append(args, sub)

	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	// If the CLI is killed (timeout), the container would go on: stop it
	// (grade removes its own containers on SIGTERM), then remove it.
	defer func() {
		if exec.Command("docker", "container", "inspect", name).Run() == nil {
			_ = exec.Command("docker", "stop", "-t", "30", name).Run()
			_ = exec.Command("docker", "rm", "-f", name).Run()
		}
	}()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("docker run of the grade image did not finish within %s\nstderr: %s", runTimeout, stderr.String())
	}
	t.Logf("docker %s → exit %d in %s", strings.Join(args, " "), code, time.Since(start).Round(100*time.Millisecond))
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("exit %d, no JSON report on stdout (%v)\nstdout: %s\nstderr: %s", code, err, stdout.String(), stderr.String())
	}
	if code == 2 || !r.Gradable {
		t.Fatalf("grade in its container could not grade (exit %d):\n%s\nstderr: %s", code, failedChecks(&r), stderr.String())
	}
	return &r, code
}

func failedChecks(r *report) string {
	var b strings.Builder
	for _, c := range r.Checks {
		if c.Status != "pass" && c.Status != "skip" {
			fmt.Fprintf(&b, "  %s %s: %s\n", c.Status, c.ID, c.Message)
		}
	}
	return b.String()
}

// engineSocket is the engine's Unix socket, which the test mounts into the
// grade container.
func engineSocket(t *testing.T) string {
	t.Helper()
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		p, ok := strings.CutPrefix(h, "unix://")
		if !ok {
			t.Fatalf("grade's image test mounts the engine's Unix socket into the container; DOCKER_HOST=%s is not a unix:// socket", h)
		}
		sock = p
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("grade's image test needs the engine's Unix socket at %s: %v", sock, err)
	}
	return sock
}

// socketGroup is the group owning the socket: the grade container joins it
// (--group-add) to use the socket as the non-root user 65534.
func socketGroup(t *testing.T, sock string) int {
	t.Helper()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("cannot read the group of %s", sock)
	}
	if fi.Mode().Perm()&0o060 != 0o060 && fi.Mode().Perm()&0o006 != 0o006 {
		t.Fatalf("%s has mode %v: neither its group nor others may use it, so a non-root grade container cannot", sock, fi.Mode().Perm())
	}
	return int(st.Gid)
}

var (
	toolchainRE = regexp.MustCompile(`(?m)^toolchain\s+go(\d+\.\d+(?:\.\d+)?)\s*$`)
	goRE        = regexp.MustCompile(`(?m)^go\s+(\d+\.\d+(?:\.\d+)?)\s*$`)
	argRE       = regexp.MustCompile(`(?m)^ARG\s+GO_VERSION=(\S+)\s*$`)
)

// goModVersion is the Go release grade is built with, read like
// fixtures/baseimages/build.sh reads it: the toolchain directive, else the
// go directive ("1.26" meaning 1.26.0).
func goModVersion(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := toolchainRE.FindSubmatch(b)
	if m == nil {
		m = goRE.FindSubmatch(b)
	}
	if m == nil {
		t.Fatalf("%s: no go directive", path)
	}
	v := string(m[1])
	if strings.Count(v, ".") == 1 {
		v += ".0"
	}
	return v
}

func dockerfileGoVersion(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("grade's Dockerfile: %v", err)
	}
	m := argRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no `ARG GO_VERSION=…` line", path)
	}
	return string(m[1])
}

// ensureBaseImage makes sure the builder's base image exists: present,
// pulled, or the offline stand-in built by fixtures/baseimages/build.sh.
func ensureBaseImage(t *testing.T, root, image string) {
	t.Helper()
	if exec.Command("docker", "image", "inspect", image).Run() == nil {
		return
	}
	t.Logf("%s is missing: running fixtures/baseimages/build.sh golang-grader", image)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "fixtures", "baseimages", "build.sh"), "golang-grader")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("grade's image builds FROM %s, which is missing and could not be made: bash fixtures/baseimages/build.sh golang-grader: %v\n%s", image, err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
	if exec.Command("docker", "image", "inspect", image).Run() != nil {
		t.Fatalf("build.sh golang-grader succeeded, but %s is still missing", image)
	}
}

// buildImage builds the top-level Dockerfile as tag with the classic builder
// (the CLI here has no buildx) and removes tag at the end. The builder
// stages' last images are tagged <cacheRepo>:<stage>: they are the build
// cache of the next run, and an untagged one would be left dangling.
func buildImage(t *testing.T, root, tag, goVersion, version string) {
	t.Helper()
	timeout := defaultBuildTimeout
	if s := os.Getenv("GRADE_IMAGETEST_BUILD_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("GRADE_IMAGETEST_BUILD_TIMEOUT: %v", err)
		}
		timeout = d
	}
	if dl, ok := t.Deadline(); ok && time.Until(dl)-3*time.Minute < timeout {
		timeout = time.Until(dl) - 3*time.Minute
		if timeout <= 0 {
			t.Fatalf("no time left to build grade's image before the test deadline: run go test with -timeout 30m or more")
		}
	}
	oldCache := cacheTags()

	args := []string{"build", "--force-rm", "--pull=false",
		"--build-arg", "GO_VERSION=" + goVersion,
		"--build-arg", "VERSION=" + version,
		"-f", filepath.Join(root, "Dockerfile"),
		"-t", tag, root}
	var out []byte
	var err error
	start := time.Now()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		cmd := exec.CommandContext(ctx, "docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		cmd.WaitDelay = 10 * time.Second
		out, err = cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("grade's image did not build within %s (a cold build compiles grade and its dependencies; set GRADE_IMAGETEST_BUILD_TIMEOUT or go test -timeout to allow more): DOCKER_BUILDKIT=0 docker %s\n%s",
				timeout, strings.Join(args, " "), tail(out, 40))
		}
		// A concurrent image removal on a shared engine can pull a layer
		// from under the classic builder; once is worth a retry.
		if err != nil && attempt == 1 && bytes.Contains(out, []byte("layer does not exist")) {
			t.Logf("build failed with an engine race (%s); retrying once", lastLine(out))
			continue
		}
		break
	}
	// Also on failure: what was built stays as cache, and is never dangling.
	tagStages(t, out, oldCache)
	if err != nil {
		t.Fatalf("grade's image could not be built: DOCKER_BUILDKIT=0 docker %s: %v\n%s", strings.Join(args, " "), err, tail(out, 60))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "rmi", tag).CombinedOutput(); err != nil {
			t.Errorf("remove %s: %v: %s", tag, err, out)
		}
		if strings.EqualFold(os.Getenv("GRADE_IMAGETEST_CACHE"), "off") {
			for stage := range cacheTags() {
				_ = exec.Command("docker", "rmi", cacheRepo+":"+stage).Run()
			}
		}
	})
	cached := bytes.Count(out, []byte("Using cache"))
	t.Logf("built %s in %s (%d steps from cache)", tag, time.Since(start).Round(100*time.Millisecond), cached)
}

var (
	stepFromRE  = regexp.MustCompile(`(?i)^Step \d+/\d+ : FROM \S+(?:\s+AS\s+(\S+))?\s*$`)
	stepImageRE = regexp.MustCompile(`^ ---> ([0-9a-f]{12})\s*$`)
)

// stageImages reads the classic builder's log: the last image of each named
// stage that another FROM follows (the builder stages) and, when the log
// ends in the middle of a stage (a failed build), that stage's name ("" for
// an unnamed one) and last image.
func stageImages(log []byte) (stages map[string]string, cutStage, cutImage string) {
	stages = map[string]string{}
	stage, last, inStage := "", "", false
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := stepFromRE.FindStringSubmatch(line); m != nil {
			if stage != "" && last != "" {
				stages[stage] = last
			}
			stage, last, inStage = m[1], "", true
			continue
		}
		if m := stepImageRE.FindStringSubmatch(line); m != nil {
			last = m[1]
		}
		if strings.HasPrefix(line, "Successfully built ") {
			inStage = false
		}
	}
	if inStage && last != "" {
		return stages, stage, last
	}
	return stages, "", ""
}

// tagStages tags the builder stages' images <cacheRepo>:<stage>, then
// removes the images those tags named before, now untagged (no force: an
// image something still uses stays).
func tagStages(t *testing.T, log []byte, old map[string]string) {
	t.Helper()
	now := map[string]string{}
	stages, cutStage, cutImage := stageImages(log)
	switch {
	case cutImage != "" && cutStage != "":
		stages[cutStage] = cutImage // a failed builder stage: what it built is still cache
	case cutImage != "":
		// The final stage failed: its partial image would dangle.
		_ = exec.Command("docker", "rmi", cutImage).Run()
	}
	for stage, id := range stages {
		if err := exec.Command("docker", "tag", id, cacheRepo+":"+stage).Run(); err != nil {
			t.Logf("tag builder stage %s (%s): %v", stage, id, err)
			continue
		}
		now[stage] = fullID(id)
	}
	var stale []string
	for stage, id := range old {
		if now[stage] != id {
			stale = append(stale, id)
		}
	}
	// Two passes: an old stage image may be the parent of another one.
	for pass := 0; pass < 2 && len(stale) > 0; pass++ {
		var again []string
		for _, id := range stale {
			if exec.Command("docker", "rmi", id).Run() != nil && exec.Command("docker", "image", "inspect", id).Run() == nil {
				again = append(again, id)
			}
		}
		stale = again
	}
	if len(stale) > 0 {
		t.Logf("earlier builder-stage images still in use, kept: %s", strings.Join(stale, " "))
	}
}

// cacheTags maps each <cacheRepo>:<stage> tag to its image id.
func cacheTags() map[string]string {
	out := map[string]string{}
	b, err := exec.Command("docker", "images", "--no-trunc", "--format", "{{.Tag}} {{.ID}}", cacheRepo).Output()
	if err != nil {
		return out
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if tag, id, ok := strings.Cut(line, " "); ok {
			out[tag] = id
		}
	}
	return out
}

func fullID(id string) string {
	b, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", id).Output()
	if err != nil {
		return id
	}
	return strings.TrimSpace(string(b))
}

func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func lastLine(b []byte) string {
	s := strings.TrimRight(string(b), "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestStageImages reads the builder stages' images from a classic-builder
// log, also when the build stops in the middle of a stage.
func TestStageImages(t *testing.T) {
	log := `Step 1/9 : ARG GO_VERSION=1.26.8
Step 2/9 : FROM golang:${GO_VERSION} AS modules
 ---> f799e3ebca0d
Step 3/9 : RUN go build std
 ---> Using cache
 ---> 5378890ed4c5
Step 4/9 : FROM modules AS deps
 ---> 5378890ed4c5
Step 5/9 : RUN go list > /deps.txt
 ---> Running in 3c3a1c3bad01
Removing intermediate container 3c3a1c3bad01
 ---> 731f4f165985
Step 6/9 : FROM modules AS build
 ---> 5378890ed4c5
Step 7/9 : COPY --from=deps /deps.txt /deps.txt
 ---> 5ca57d91934a
Step 8/9 : RUN go build ./cmd/grade
 ---> Running in 52e50289d034
`
	stages, cutStage, cutImage := stageImages([]byte(log + "The command '/bin/sh -c go build ./cmd/grade' returned a non-zero code: 1\n"))
	if stages["modules"] != "5378890ed4c5" || stages["deps"] != "731f4f165985" || len(stages) != 2 {
		t.Errorf("stages = %v", stages)
	}
	if cutStage != "build" || cutImage != "5ca57d91934a" {
		t.Errorf("cut = %q %q, want build 5ca57d91934a", cutStage, cutImage)
	}
	done := log + " ---> e723225478bf\nStep 9/9 : FROM scratch\n ---> \nStep 10/9 : COPY --from=build /out/grade /grade\n ---> 2008b2126d30\nSuccessfully built 2008b2126d30\n"
	stages, cutStage, cutImage = stageImages([]byte(done))
	if stages["build"] != "e723225478bf" || len(stages) != 3 || cutStage != "" || cutImage != "" {
		t.Errorf("stages = %v, cut = %q %q", stages, cutStage, cutImage)
	}
}
