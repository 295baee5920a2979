package main_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/gradelab/grade/grader/batch"
	"github.com/gradelab/grade/grader/session"
	"github.com/gradelab/grade/internal/enginetest"
	"github.com/gradelab/grade/internal/fixture"
)

// The batch tests grade a small class with the real engine: fixtures that
// pass, fail and attack the grader (a build that never ends, a server that
// never answers), a base image that does not exist (not gradable), and git
// repositories made here, one of them graded at the last commit before a
// deadline and one that cannot be cloned.

// batchFolders are the class's submission folders (fixtures). All but
// bind-localhost share the starter's builder stage, which the test builds
// once (kept) before the batches, so their builds are cached.
var batchFolders = []string{
	"bind-localhost", "cmd-not-found", "copy-from-index", "copy-from-unknown", "endless-build",
	"missing-base", "missing-dockerfile", "no-user", "solution", "syntax-error", "user-root",
}

const deadline = "2026-01-15T00:00:00Z"

type class struct {
	dir     string // the folder of submission folders
	roster  string // the --repos file
	cache   string // --cache
	commits map[string]string
}

// gitIn runs git in dir with fixed identity and the given dates.
func gitIn(t *testing.T, dir, date string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Student", "-c", "user.email=student@example.com", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// repo makes a git repository whose commits are the given fixtures, one
// commit each, at the given dates.
func repo(t *testing.T, root, name string, commits ...[2]string) (dir string, shas []string) {
	t.Helper()
	dir = filepath.Join(root, name+".git-src")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, commits[0][1], "init", "-q")
	for _, c := range commits {
		// Replace the work tree with the fixture.
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != ".git" {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
		if err := fixture.Materialize(c[0], dir); err != nil {
			t.Fatal(err)
		}
		gitIn(t, dir, c[1], "add", "-A")
		gitIn(t, dir, c[1], "commit", "-q", "-m", c[0])
		shas = append(shas, gitIn(t, dir, c[1], "rev-parse", "HEAD"))
	}
	return dir, shas
}

func makeClass(t *testing.T) class {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the batch tests need git (apt-get install git)")
	}
	root := t.TempDir()
	c := class{dir: filepath.Join(root, "class"), cache: filepath.Join(root, "cache"), commits: map[string]string{}}
	for _, name := range batchFolders {
		if err := fixture.Materialize(name, filepath.Join(c.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// carol: the solution before the deadline, a broken USER after it.
	carol, shas := repo(t, root, "carol",
		[2]string{"solution", "2026-01-10T12:00:00Z"},
		[2]string{"no-user", "2026-01-20T12:00:00Z"})
	c.commits["carol"] = shas[0]
	// dave: one commit, before the deadline.
	dave, shas := repo(t, root, "dave", [2]string{"user-root", "2026-01-12T08:30:00Z"})
	c.commits["dave"] = shas[0]
	c.roster = filepath.Join(root, "roster.csv")
	roster := fmt.Sprintf("# Lab 2 repositories\nname,url,ref\ncarol,file://%s,main\n\ndave,file://%s\nghost,file://%s/ghost.git\n",
		carol, dave, root)
	if err := os.WriteFile(c.roster, []byte(roster), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// warmCache grades the solution and bind-localhost once, keeping their
// images (TestMain's `grade clean` removes them): the batches' children
// then find their builder stages cached, and, since they did not create
// them, leave them in place with --no-keep.
func warmCache(t *testing.T) {
	t.Helper()
	for _, name := range []string{"solution", "bind-localhost"} {
		r := grade(t, nil, "--start-timeout", "5s", "--format", "json", "--output", filepath.Join(t.TempDir(), "r.json"), submission(t, name))
		if r.code == 2 {
			t.Fatalf("warming the build cache with %s: exit 2\n%s", name, r.stderr)
		}
	}
}

func (c class) args(out string, extra ...string) []string {
	args := []string{"batch", "-j", "2", "--build-timeout", "120s", "--start-timeout", "15s", "--progress", "lines",
		"--repos", c.roster, "--before", deadline, "--cache", c.cache, "--out", out}
	return append(append(args, extra...), c.dir)
}

// gradebook reads gradebook.csv with encoding/csv: the header and the
// rows by name.
func gradebook(t *testing.T, out string) ([]string, map[string]map[string]string, [][]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "gradebook.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("gradebook.csv is not valid CSV: %v", err)
	}
	if len(rows) == 0 {
		t.Fatal("gradebook.csv is empty")
	}
	byName := map[string]map[string]string{}
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, h := range rows[0] {
			m[h] = r[i]
		}
		byName[r[0]] = m
	}
	return rows[0], byName, rows[1:]
}

// withoutTiming drops the timing columns from a gradebook's rows.
func withoutTiming(header []string, rows [][]string) []string {
	var out []string
	for _, r := range rows {
		var cells []string
		for i, h := range header {
			if h != "started_at" && h != "duration_ms" {
				cells = append(cells, r[i])
			}
		}
		out = append(out, strings.Join(cells, ","))
	}
	return out
}

// tcSession is the testcontainers session id that the children of the
// process pid put on their containers (testcontainers-go derives it from
// the parent's pid and start time), so the test can tell its batch's
// containers from those of other programs on a shared engine.
func tcSession(t *testing.T, pid int) string {
	t.Helper()
	p, err := process.NewProcess(int32(pid))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := p.CreateTime()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("testcontainers-go:%d:%d", pid, ct)))
	return hex.EncodeToString(sum[:])
}

// assertNoContainers checks that the batch left no container: none with
// label lab.grade that the batch's children made (their testcontainers
// session), and none new since before that lacks a session label (the
// grader's filesystem exports), once those of other programs sharing the
// engine had time to go.
func assertNoContainers(t *testing.T, before map[string]bool, session string) {
	t.Helper()
	ctx := context.Background()
	cli, done, err := enginetest.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	deadline := time.Now().Add(90 * time.Second)
	for {
		list, err := cli.ContainerList(ctx, client.ContainerListOptions{
			All: true, Filters: make(client.Filters).Add("label", "lab.grade"),
		})
		if err != nil {
			t.Fatal(err)
		}
		var mine, unknown []string
		for _, c := range list.Items {
			s, ok := c.Labels["org.testcontainers.sessionId"]
			switch {
			case ok && s == session:
				mine = append(mine, fmt.Sprintf("%.12s (%s)", c.ID, c.State))
			case !ok && !before[c.ID]:
				unknown = append(unknown, fmt.Sprintf("%.12s (%s)", c.ID, c.State))
			}
		}
		if len(mine) > 0 {
			t.Errorf("the batch left containers: %v", mine)
			return
		}
		if len(unknown) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("grader containers left: %v", unknown)
			return
		}
		time.Sleep(time.Second)
	}
}

func graderContainerIDs(t *testing.T) map[string]bool {
	t.Helper()
	ctx := context.Background()
	cli, done, err := enginetest.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", session.LabelGrader),
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, c := range list.Items {
		ids[c.ID] = true
	}
	return ids
}

// runBatch runs grade with args and checks the containers afterwards.
func runBatch(t *testing.T, args ...string) result {
	t.Helper()
	before := graderContainerIDs(t)
	cmd := exec.Command(gradeBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sess := tcSession(t, cmd.Process.Pid)
	err := cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	assertNoContainers(t, before, sess)
	return result{code, out.String(), errb.String()}
}

func TestBatch(t *testing.T) {
	c := makeClass(t)
	warmCache(t)
	names := append(append([]string{}, batchFolders...), "carol", "dave", "ghost")
	slices.Sort(names)

	// One uninterrupted run: the reference for resume and for merge.
	ref := filepath.Join(t.TempDir(), "out")
	var refHeader []string
	var refRows [][]string
	t.Run("one run", func(t *testing.T) {
		start := time.Now()
		r := runBatch(t, c.args(ref)...)
		t.Logf("graded %d submissions in %s", len(names), time.Since(start).Round(time.Second))
		if r.code != 1 {
			t.Fatalf("exit %d, want 1 (missing-base and ghost cannot be graded)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		header, rows, raw := gradebook(t, ref)
		refHeader, refRows = header, raw
		wantHeader := []string{"name", "source", "commit", "score", "max", "bonus", "passed", "gradable", "image_size_bytes"}
		if !slices.Equal(header[:len(wantHeader)], wantHeader) {
			t.Errorf("header %v", header)
		}
		for _, col := range []string{"dockerfile.found", "image.build", "runtime.start", "bonus.scratch", "error"} {
			if !slices.Contains(header, col) {
				t.Errorf("no column %s in %v", col, header)
			}
		}
		var got []string
		for _, row := range raw {
			got = append(got, row[0])
		}
		if !slices.Equal(got, names) {
			t.Errorf("rows %v\nwant %v (one per submission, sorted by name)", got, names)
		}
		want := map[string]map[string]string{
			"solution":           {"score": "100", "max": "100", "bonus": "10", "passed": "true", "gradable": "true"},
			"copy-from-index":    {"passed": "true", "gradable": "true"},
			"no-user":            {"score": "85", "passed": "false", "gradable": "true", "dockerfile.non-root": "fail"},
			"user-root":          {"passed": "false", "gradable": "true", "runtime.non-root": "fail"},
			"cmd-not-found":      {"passed": "false", "runtime.start": "fail"},
			"copy-from-unknown":  {"passed": "false", "image.build": "fail"},
			"syntax-error":       {"score": "0", "dockerfile.found": "fail", "image.build": "fail"},
			"missing-dockerfile": {"score": "0", "dockerfile.found": "fail"},
			// The hostile ones are failures of the student, within the limits.
			"endless-build":  {"passed": "false", "gradable": "true", "image.build": "fail", "image_size_bytes": ""},
			"bind-localhost": {"passed": "false", "gradable": "true", "runtime.start": "fail"},
			// Not gradable: no score, the reason, after a retry.
			"missing-base": {"score": "", "passed": "", "gradable": "false", "image.build": "error"},
			"ghost":        {"score": "", "gradable": "false", "dockerfile.found": ""},
			// carol is graded at the last commit before the deadline.
			"carol": {"commit": c.commits["carol"], "score": "100", "passed": "true", "gradable": "true"},
			"dave":  {"commit": c.commits["dave"], "passed": "false", "gradable": "true"},
		}
		for name, cells := range want {
			for col, v := range cells {
				if got := rows[name][col]; got != v {
					t.Errorf("%s: %s = %q, want %q (error: %q)", name, col, got, v, rows[name]["error"])
				}
			}
		}
		if e := rows["missing-base"]["error"]; !strings.Contains(e, "alpine:3.99") {
			t.Errorf("missing-base: error %q does not name the missing image", e)
		}
		if e := rows["ghost"]["error"]; !strings.Contains(e, "ghost.git") {
			t.Errorf("ghost: error %q does not say which repository could not be fetched", e)
		}
		if s := rows["carol"]["source"]; !strings.HasPrefix(s, "file://") {
			t.Errorf("carol: source %q, want the repository URL", s)
		}

		// results.jsonl: one contract report per line; retries recorded.
		es, err := batch.ReadResults(filepath.Join(ref, "results.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != len(names) {
			t.Fatalf("results.jsonl has %d entries, want %d", len(es), len(names))
		}
		data, _ := os.ReadFile(filepath.Join(ref, "results.jsonl"))
		if n := bytes.Count(data, []byte("\n")); n != len(names) {
			t.Errorf("results.jsonl has %d lines, want %d", n, len(names))
		}
		for _, e := range es {
			switch e.Name {
			case "ghost":
				if e.Report != nil || e.Gradable() || e.Error == "" {
					t.Errorf("ghost: %+v", e)
				}
			case "missing-base":
				if e.Attempts != 2 || e.Gradable() || e.Report == nil {
					t.Errorf("missing-base: attempts %d gradable %v; want retried once, then recorded", e.Attempts, e.Gradable())
				}
			default:
				if e.Report == nil || e.Report.SchemaVersion != 1 || e.Attempts != 1 {
					t.Errorf("%s: report %v attempts %d", e.Name, e.Report != nil, e.Attempts)
				}
			}
		}
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join(ref, "feedback", n+".md"))
			if err != nil || len(b) == 0 {
				t.Errorf("feedback for %s: %v", n, err)
			}
		}
		if b, err := os.ReadFile(filepath.Join(ref, "report.html")); err != nil || !bytes.Contains(b, []byte("<html")) {
			t.Errorf("report.html: %v", err)
		}
		// Plain progress lines off a terminal, and a summary.
		for _, s := range []string{"] solution: 100/100 +10 bonus (", "] ghost: NOT GRADED — ", fmt.Sprintf("[%d/%d] ", len(names), len(names))} {
			if !strings.Contains(r.stderr, s) {
				t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
			}
		}
		if !strings.Contains(r.stdout, "graded 14 submission(s): 3 passed, 9 failed, 2 not graded") {
			t.Errorf("summary: %s", r.stdout)
		}
		// A merge of the one run writes the same files, byte for byte.
		again := filepath.Join(t.TempDir(), "again")
		if m := grade(t, nil, "merge", "--out", again, ref); m.code != 0 {
			t.Fatalf("merge: exit %d\n%s", m.code, m.stderr)
		}
		assertSameOutputs(t, ref, again, true)
	})
	if refRows == nil {
		t.FailNow()
	}

	t.Run("resume after Ctrl-C", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		before := graderContainerIDs(t)
		cmd := exec.Command(gradeBin, c.args(out)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sess := tcSession(t, cmd.Process.Pid)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// Poll results.jsonl until three results are in.
		lines := func() int {
			b, _ := os.ReadFile(filepath.Join(out, "results.jsonl"))
			return bytes.Count(b, []byte("\n"))
		}
		limit := time.Now().Add(5 * time.Minute)
		for lines() < 3 {
			select {
			case err := <-exited:
				t.Fatalf("the batch ended before it was interrupted: %v\n%s", err, stderr.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(limit) {
				cmd.Process.Kill()
				t.Fatal("no result within 5 minutes")
			}
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("after Ctrl-C: %v, want exit 2\n%s", err, stderr.String())
			}
		case <-time.After(3 * time.Minute):
			cmd.Process.Kill()
			t.Fatal("the batch did not stop after Ctrl-C")
		}
		assertNoContainers(t, before, sess)
		if !strings.Contains(stderr.String(), "--resume") {
			t.Errorf("stderr does not say how to go on:\n%s", stderr.String())
		}
		_, partial, _ := gradebook(t, out)
		done := lines()
		if len(partial) < 3 || len(partial) != done || done >= len(names) {
			t.Fatalf("after Ctrl-C: %d gradebook rows, %d results; want the same number, at least 3 and fewer than %d", len(partial), done, len(names))
		}
		t.Logf("interrupted after %d of %d", done, len(names))

		r := runBatch(t, c.args(out, "--resume")...)
		if r.code != 1 {
			t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
		}
		resumed := strings.Count(r.stderr, "(resumed)")
		gradable := 0
		for _, row := range partial {
			if row["gradable"] == "true" {
				gradable++ // reused; the ungradable ones are graded again
			}
		}
		if resumed != gradable {
			t.Errorf("%d results reused, want the %d gradable ones of the interrupted run:\n%s", resumed, gradable, r.stderr)
		}
		header, _, rows := gradebook(t, out)
		if !slices.Equal(header, refHeader) {
			t.Fatalf("header %v\nwant %v", header, refHeader)
		}
		if got, want := withoutTiming(header, rows), withoutTiming(refHeader, refRows); !slices.Equal(got, want) {
			t.Errorf("after --resume the gradebook differs from one uninterrupted run:\n%s\n--- want\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("shards and merge", func(t *testing.T) {
		dir := t.TempDir()
		s1, s2, merged := filepath.Join(dir, "s1"), filepath.Join(dir, "s2"), filepath.Join(dir, "merged")
		r1 := runBatch(t, c.args(s1, "--shard", "1/2")...)
		// The second shard spreads over two engines (the same daemon, spelled
		// two ways): every child gets its engine as DOCKER_HOST.
		host := os.Getenv("DOCKER_HOST")
		if host == "" {
			host = "unix:///var/run/docker.sock"
		}
		alias := strings.Replace(host, "/docker.sock", "/./docker.sock", 1)
		r2 := runBatch(t, c.args(s2, "--shard", "2/2", "--engine", host+"=1", "--engine", alias+"=1")...)
		for i, r := range []result{r1, r2} {
			if r.code == 2 {
				t.Fatalf("shard %d/2: exit 2\n%s", i+1, r.stderr)
			}
		}
		_, rows1, _ := gradebook(t, s1)
		_, rows2, _ := gradebook(t, s2)
		if len(rows1) != 7 || len(rows2) != 7 {
			t.Errorf("shards of %d and %d rows, want 7 and 7", len(rows1), len(rows2))
		}
		for n := range rows1 {
			if _, ok := rows2[n]; ok {
				t.Errorf("%s is in both shards", n)
			}
		}
		es, _ := batch.ReadResults(filepath.Join(s2, "results.jsonl"))
		used := map[string]int{}
		for _, e := range es {
			if e.Report != nil {
				used[e.Engine]++
			}
		}
		if used[host] == 0 || used[alias] == 0 {
			t.Errorf("shard 2 used the engines %v, want both %s and %s", used, host, alias)
		}

		if m := grade(t, nil, "merge", "--out", merged, s1, s2); m.code != 0 {
			t.Fatalf("merge: exit %d\n%s", m.code, m.stderr)
		}
		header, _, rows := gradebook(t, merged)
		if !slices.Equal(header, refHeader) {
			t.Fatalf("header %v\nwant %v", header, refHeader)
		}
		if got, want := withoutTiming(header, rows), withoutTiming(refHeader, refRows); !slices.Equal(got, want) {
			t.Errorf("the merged gradebook differs from one run:\n%s\n--- want\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		assertSameOutputs(t, ref, merged, false)
		m, err := batch.ReadManifest(merged)
		if err != nil || m.Shard != "" {
			t.Errorf("merged manifest %+v, %v", m, err)
		}
	})
}

// assertSameOutputs compares two output folders: the same files; with
// exact, the same bytes.
func assertSameOutputs(t *testing.T, a, b string, exact bool) {
	t.Helper()
	list := func(root string) map[string][]byte {
		out := map[string][]byte{}
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(root, p)
				out[rel], _ = os.ReadFile(p)
			}
			return nil
		})
		return out
	}
	fa, fb := list(a), list(b)
	var na, nb []string
	for n := range fa {
		na = append(na, n)
	}
	for n := range fb {
		nb = append(nb, n)
	}
	slices.Sort(na)
	slices.Sort(nb)
	if !slices.Equal(na, nb) {
		t.Errorf("files differ:\n%v\n%v", na, nb)
		return
	}
	if !exact {
		return
	}
	for n, da := range fa {
		if !bytes.Equal(da, fb[n]) {
			t.Errorf("%s differs between %s and %s", n, a, b)
		}
	}
}

func TestBatchUsageErrors(t *testing.T) {
	dir := t.TempDir()
	roster := filepath.Join(dir, "roster.csv")
	os.WriteFile(roster, []byte("alice,file:///x\nalice,file:///y\n"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	for name, args := range map[string][]string{
		"nothing to grade":  {"batch"},
		"bad -j":            {"batch", "-j", "0", dir},
		"bad shard":         {"batch", "--shard", "3/2", dir},
		"bad engine":        {"batch", "--engine", "localhost:2375", dir},
		"bad before":        {"batch", "--repos", roster, "--before", "yesterday", dir},
		"before w/o repos":  {"batch", "--before", deadline, dir},
		"duplicate roster":  {"batch", "--repos", roster},
		"missing path":      {"batch", filepath.Join(dir, "nope")},
		"empty folder":      {"batch", empty},
		"unknown flag":      {"batch", "--frobnicate", dir},
		"unknown check":     {"batch", "--only", "image.nope", dir},
		"merge nothing":     {"merge"},
		"merge not a batch": {"merge", empty},
	} {
		t.Run(name, func(t *testing.T) {
			r := grade(t, nil, args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if strings.TrimSpace(r.stderr) == "" || !strings.HasPrefix(r.stderr, "grade ") {
				t.Errorf("stderr does not explain: %q", r.stderr)
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		r := grade(t, nil, "batch", "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "grade batch [flags] PATH...") || !strings.Contains(r.stdout, "-resume") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}
