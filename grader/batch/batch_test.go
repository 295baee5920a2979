package batch

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gradelab/grade/grader"
)

// These tests cover the parts of a batch that need no Docker Engine: the
// roster, discovery, shards, fingerprints, the result lines, the gradebook,
// merge, and the scheduler with a fake grader.

func TestRosterParse(t *testing.T) {
	in := `# class of 2026
name,url,ref
alice, https://example.com/alice/lab2.git
bob,file:///srv/git/bob.git,main

"carol, jr",ssh://git@example.com/carol.git, v1.0  
# the end
`
	got, err := ParseRoster(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Repo{
		{Name: "alice", URL: "https://example.com/alice/lab2.git"},
		{Name: "bob", URL: "file:///srv/git/bob.git", Ref: "main"},
		{Name: "carol, jr", URL: "ssh://git@example.com/carol.git", Ref: "v1.0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestRosterErrors(t *testing.T) {
	for name, in := range map[string]string{
		"one field":      "alice\n",
		"four fields":    "alice,u,r,x\n",
		"no url":         "alice,\n",
		"duplicate":      "alice,u1\nbob,u2\nalice,u3\n",
		"slash in name":  "a/b,u\n",
		"dot name":       "..,u\n",
		"option url":     "alice,--upload-pack=evil\n",
		"option ref":     "alice,u,--output=x\n",
		"bad quote":      "alice,\"u\n",
		"control char":   "al\x01ice,u\n",
		"leading dot":    ".hidden,u\n",
		"backslash name": `a\b,u` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := ParseRoster(strings.NewReader(in)); err == nil {
				t.Errorf("no error; got %+v", got)
			}
		})
	}
	t.Run("error names the line", func(t *testing.T) {
		_, err := ParseRoster(strings.NewReader("# c\nalice,u\n\nbob\n"))
		if err == nil || !strings.Contains(err.Error(), "line 4") {
			t.Errorf("err = %v, want it to name line 4", err)
		}
	})
	t.Run("empty roster", func(t *testing.T) {
		got, err := ParseRoster(strings.NewReader("# nobody yet\n\n"))
		if err != nil || len(got) != 0 {
			t.Errorf("got %v, %v", got, err)
		}
	})
}

func TestShardSelect(t *testing.T) {
	var subs []Submission
	for _, n := range []string{"g", "c", "a", "f", "b", "e", "d"} {
		subs = append(subs, Submission{Name: n})
	}
	names := func(ss []Submission) string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return strings.Join(out, "")
	}
	for spec, want := range map[string]string{"1/1": "abcdefg", "1/2": "aceg", "2/2": "bdf", "1/3": "adg", "2/3": "be", "3/3": "cf"} {
		sh, err := ParseShard(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(sh.Select(subs)); got != want {
			t.Errorf("shard %s = %s, want %s", spec, got, want)
		}
	}
	// Every submission in exactly one shard, whatever the input order.
	for n := 1; n <= 5; n++ {
		seen := map[string]int{}
		for k := 1; k <= n; k++ {
			for _, s := range (Shard{K: k, N: n}).Select(subs) {
				seen[s.Name]++
			}
		}
		if len(seen) != len(subs) {
			t.Errorf("N=%d: %d names covered, want %d", n, len(seen), len(subs))
		}
		for name, c := range seen {
			if c != 1 {
				t.Errorf("N=%d: %s in %d shards", n, name, c)
			}
		}
	}
	if got := names((Shard{}).Select(subs)); got != "abcdefg" {
		t.Errorf("no shard = %s", got)
	}
	for _, bad := range []string{"", "0/2", "3/2", "1/0", "a/b", "1", "1/2/3", "-1/2"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
}

func TestBatchEngineParse(t *testing.T) {
	for in, want := range map[string]Engine{
		"unix:///var/run/docker.sock":   {Host: "unix:///var/run/docker.sock", Slots: 3},
		"tcp://10.0.0.5:2376=4":         {Host: "tcp://10.0.0.5:2376", Slots: 4},
		"ssh://grader@build-2=1":        {Host: "ssh://grader@build-2", Slots: 1},
		"tcp://h:2375?x=y=2":            {Host: "tcp://h:2375?x=y", Slots: 2},
		"unix:///run/user/1000/d.sock=": {},
	} {
		got, err := ParseEngine(in, 3)
		if want.Host == "" {
			if err == nil {
				t.Errorf("%q accepted: %+v", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseEngine(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "=2", "localhost:2375", "tcp://h=0", "tcp://h=-1", "tcp://h=x"} {
		if _, err := ParseEngine(bad, 1); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBatchFingerprint(t *testing.T) {
	base := map[string]string{"build_timeout": "5m0s", "only": "", "config": "abc"}
	fp := Fingerprint(base)
	if !strings.HasPrefix(fp, "sha256:") {
		t.Errorf("fingerprint %q", fp)
	}
	same := map[string]string{"config": "abc", "only": "", "build_timeout": "5m0s"}
	if Fingerprint(same) != fp {
		t.Error("the fingerprint depends on map order")
	}
	for k := range base {
		changed := map[string]string{}
		for kk, v := range base {
			changed[kk] = v
		}
		changed[k] += "x"
		if Fingerprint(changed) == fp {
			t.Errorf("changing %s does not change the fingerprint", k)
		}
	}
	// No value can imitate a key boundary.
	a := Fingerprint(map[string]string{"a": "1\nb=2"})
	b := Fingerprint(map[string]string{"a": "1", "b": "2"})
	if a == b {
		t.Error("ambiguous encoding")
	}
	if Fingerprint(map[string]string{"x": ""}) == Fingerprint(map[string]string{}) {
		t.Error("an added setting does not change the fingerprint")
	}
}

func TestBatchHashDir(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string, mode os.FileMode) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	write("main.go", "package main", 0o644)
	write("Dockerfile.multistage", "FROM x", 0o644)
	write("sub/a.txt", "a", 0o644)
	h0, err := HashDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := HashDir(dir)
	if again != h0 {
		t.Fatal("not deterministic")
	}
	// .git does not count.
	write(".git/HEAD", "ref: refs/heads/main", 0o644)
	if h, _ := HashDir(dir); h != h0 {
		t.Error(".git changed the hash")
	}
	changes := []func(){
		func() { write("main.go", "package main // changed", 0o644) },
		func() { os.Chmod(filepath.Join(dir, "main.go"), 0o755) },
		func() { write("sub/b.txt", "", 0o644) },
		func() { os.Rename(filepath.Join(dir, "sub/a.txt"), filepath.Join(dir, "sub/c.txt")) },
		func() { os.Symlink("main.go", filepath.Join(dir, "link")) },
		func() { os.Mkdir(filepath.Join(dir, "empty"), 0o755) },
	}
	prev := h0
	for i, change := range changes {
		change()
		h, err := HashDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if h == prev {
			t.Errorf("change %d did not change the hash", i)
		}
		prev = h
	}
	// Same content elsewhere: same hash.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "f"), []byte("x"), 0o644)
	third := t.TempDir()
	os.WriteFile(filepath.Join(third, "f"), []byte("x"), 0o644)
	h1, _ := HashDir(other)
	h2, _ := HashDir(third)
	if h1 != h2 {
		t.Error("the hash depends on where the folder is")
	}
}

func TestBatchDiscover(t *testing.T) {
	root := t.TempDir()
	class := filepath.Join(root, "class")
	for _, d := range []string{"bob", "alice", ".hidden", "empty"} {
		os.MkdirAll(filepath.Join(class, d), 0o755)
	}
	os.WriteFile(filepath.Join(class, "alice", "Dockerfile.multistage"), nil, 0o644)
	os.WriteFile(filepath.Join(class, "bob", "main.go"), nil, 0o644)
	os.WriteFile(filepath.Join(class, "notes.txt"), nil, 0o644)
	os.MkdirAll(filepath.Join(class, "grade-out", "feedback"), 0o755) // the batch's own output
	single := filepath.Join(root, "zoe")
	os.MkdirAll(filepath.Join(single, "static"), 0o755)
	os.WriteFile(filepath.Join(single, "go.mod"), nil, 0o644)

	subs, err := Discover([]string{class, single}, filepath.Join(class, "grade-out"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := Combine(subs, []Repo{{Name: "carol", URL: "file:///x"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range all {
		got = append(got, s.Name)
		if s.Repo == nil && s.Dir != s.Source {
			t.Errorf("%s: dir %s, source %s", s.Name, s.Dir, s.Source)
		}
	}
	if want := []string{"alice", "bob", "carol", "empty", "zoe"}; !slices.Equal(got, want) {
		t.Errorf("submissions %v, want %v (an empty folder is a submission; hidden ones and files are not; a submission's own sub-folders are not)", got, want)
	}

	if _, err := Combine(subs, []Repo{{Name: "alice", URL: "u"}}); err == nil || !strings.Contains(err.Error(), "alice") {
		t.Errorf("a duplicate name: %v", err)
	}
	if _, err := Discover([]string{filepath.Join(root, "nope")}); err == nil {
		t.Error("a missing PATH was accepted")
	}
	if _, err := Discover([]string{filepath.Join(class, "notes.txt")}); err == nil {
		t.Error("a file PATH was accepted")
	}
	if _, err := Discover([]string{filepath.Join(class, "empty")}); err == nil {
		t.Error("an empty folder with no sub-folders was accepted as a folder of submissions")
	}
}

// report makes a finished report with the given statuses (in lab order of
// the ids given).
func testReport(statuses map[string]grader.Status) *grader.Report {
	lab := testLab()
	r := &grader.Report{SchemaVersion: grader.SchemaVersion, Lab: lab.ID, LabTitle: lab.Title, GraderVersion: "test",
		StartedAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), DurationMS: 1234, SizeLimit: 20_000_000}
	for _, c := range lab.Checks {
		st, ok := statuses[c.ID]
		if !ok {
			continue
		}
		r.Checks = append(r.Checks, grader.Result{ID: c.ID, Title: c.Title, Required: c.Required(), Status: st, MaxScore: c.Points})
	}
	r.Finish(lab)
	return r
}

func testLab() *grader.Lab {
	return &grader.Lab{ID: "multistage", Title: "Lab 2: Multi-Stage Build Migration",
		Checkpoints: []grader.Checkpoint{{N: 1, Title: "Multi-stage builds use multiple FROM statements"}},
		Checks: []*grader.Check{
			{ID: "dockerfile.found", Title: "Dockerfile found", Points: 5},
			{ID: "image.build", Title: "Image builds", Points: 10, Checkpoint: 1},
			{ID: "image.size", Title: "Small image", Points: 15},
			{ID: "bonus.scratch", Title: "scratch", Points: 10, Bonus: true},
		}}
}

func testEntries() []Entry {
	pass := testReport(map[string]grader.Status{"dockerfile.found": "pass", "image.build": "pass", "image.size": "pass", "bonus.scratch": "pass"})
	pass.Image = &grader.ImageSummary{ID: "sha256:1", SizeBytes: 7_000_000}
	fail := testReport(map[string]grader.Status{"dockerfile.found": "pass", "image.build": "pass", "image.size": "fail", "bonus.scratch": "skip"})
	fail.Image = &grader.ImageSummary{ID: "sha256:2", SizeBytes: 270_000_000}
	broken := testReport(map[string]grader.Status{"dockerfile.found": "pass", "image.build": "error", "image.size": "skip"})
	broken.Checks[1].Message = "base image alpine:3.99 is not available\nmore"
	return []Entry{
		{Name: "zoe", Source: "/class/zoe", Report: fail, ContentHash: "sha256:z", Grader: "g", Settings: "s", Attempts: 1},
		{Name: "alice", Source: "/class/alice", Report: pass, ContentHash: "sha256:a", Grader: "g", Settings: "s", Attempts: 1},
		{Name: "ghost", Source: "file:///nope.git", Error: "=cannot fetch file:///nope.git: does not appear to be a git repository", Grader: "g", Settings: "s"},
		{Name: "bob", Source: "https://example.com/bob.git", Commit: "0123abcd", Report: broken, ContentHash: "git:0123abcd", Grader: "g", Settings: "s", Attempts: 2},
	}
}

func TestBatchGradebookColumns(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteGradebook(&buf, testLab(), testEntries()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("the gradebook is not valid CSV: %v\n%s", err, buf.String())
	}
	wantHeader := []string{"name", "source", "commit", "score", "max", "bonus", "passed", "gradable", "image_size_bytes",
		"dockerfile.found", "image.build", "image.size", "bonus.scratch", "error", "started_at", "duration_ms"}
	if !slices.Equal(rows[0], wantHeader) {
		t.Errorf("header %v\nwant %v", rows[0], wantHeader)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	byName := map[string][]string{}
	var order []string
	for _, r := range rows[1:] {
		if len(r) != len(wantHeader) {
			t.Errorf("row %v has %d cells", r, len(r))
		}
		byName[r[0]] = r
		order = append(order, r[0])
	}
	if !slices.Equal(order, []string{"alice", "bob", "ghost", "zoe"}) {
		t.Errorf("rows in order %v, want sorted by name", order)
	}
	check := func(name, column, want string) {
		t.Helper()
		if got := byName[name][col[column]]; got != want {
			t.Errorf("%s %s = %q, want %q", name, column, got, want)
		}
	}
	check("alice", "score", "30")
	check("alice", "max", "30")
	check("alice", "bonus", "10")
	check("alice", "passed", "true")
	check("alice", "gradable", "true")
	check("alice", "image_size_bytes", "7000000")
	check("alice", "bonus.scratch", "pass")
	check("alice", "error", "")
	check("alice", "started_at", "2026-03-01T10:00:00Z")
	check("alice", "duration_ms", "1234")
	check("zoe", "score", "15")
	check("zoe", "passed", "false")
	check("zoe", "image.size", "fail")
	// Not gradable: no score (never a silent 0), the reason, the statuses.
	check("bob", "commit", "0123abcd")
	check("bob", "score", "")
	check("bob", "passed", "")
	check("bob", "gradable", "false")
	check("bob", "image.build", "error")
	check("bob", "error", "image.build: base image alpine:3.99 is not available")
	check("ghost", "gradable", "false")
	check("ghost", "dockerfile.found", "")
	check("ghost", "started_at", "")
	// A reason that a spreadsheet would run as a formula is defused.
	check("ghost", "error", "'=cannot fetch file:///nope.git: does not appear to be a git repository")
}

func TestBatchResultLines(t *testing.T) {
	for _, e := range testEntries() {
		line, err := MarshalLine(&e)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsRune(line, '\n') {
			t.Errorf("%s: the line holds a newline", e.Name)
		}
		back, err := UnmarshalLine(line)
		if err != nil {
			t.Fatalf("%s: %v\n%s", e.Name, err, line)
		}
		if !reflect.DeepEqual(back, e) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", e.Name, back, e)
		}
		// The line is the contract's report, with the batch's fields added.
		if e.Report != nil {
			for _, key := range []string{`"schema_version":1`, `"checks":[`, `"name":"` + e.Name + `"`, `"gradable":`} {
				if !bytes.Contains(line, []byte(key)) {
					t.Errorf("%s: no %s in %s", e.Name, key, line)
				}
			}
		} else {
			for _, key := range []string{`"name":"ghost"`, `"source":"file:///nope.git"`, `"error":"=cannot fetch`, `"gradable":false`} {
				if !bytes.Contains(line, []byte(key)) {
					t.Errorf("minimal object: no %s in %s", key, line)
				}
			}
		}
	}
}

func TestResumeReadResults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ResultsFile)
	es := testEntries()
	for i := range es {
		if err := AppendResult(dir, &es[i]); err != nil {
			t.Fatal(err)
		}
	}
	// A later line for the same name wins (a resumed run appends).
	newer := es[1]
	newer.Attempts = 7
	AppendResult(dir, &newer)
	// A line cut short by a kill is ignored.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"name":"half","source":"x","schema_version":1,"sco`)
	f.Close()
	got, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got {
		names = append(names, e.Name)
		if e.Name == "alice" && e.Attempts != 7 {
			t.Errorf("alice: the first line won")
		}
	}
	if !slices.Equal(names, []string{"alice", "bob", "ghost", "zoe"}) {
		t.Errorf("names %v", names)
	}
	// A bad line in the middle is an error, not silently dropped.
	os.WriteFile(path, []byte("{\"name\":\"a\"}\nnot json\n{\"name\":\"b\"}\n"), 0o644)
	if _, err := ReadResults(path); err == nil {
		t.Error("a corrupt line in the middle was accepted")
	}
	if es, err := ReadResults(filepath.Join(dir, "none.jsonl")); err != nil || es != nil {
		t.Errorf("a missing file: %v, %v", es, err)
	}
}

func TestMergeEqualsOneRun(t *testing.T) {
	lab := testLab()
	m := Manifest{Grader: "g", Settings: "s"}
	all := testEntries()
	one := t.TempDir()
	if err := WriteOutputs(one, lab, all, m); err != nil {
		t.Fatal(err)
	}
	var subs []Submission
	byName := map[string]Entry{}
	for _, e := range all {
		subs = append(subs, Submission{Name: e.Name})
		byName[e.Name] = e
	}
	var shards []string
	for k := 1; k <= 3; k++ {
		sh := Shard{K: k, N: 3}
		var es []Entry
		for _, s := range sh.Select(subs) {
			es = append(es, byName[s.Name])
		}
		dir := t.TempDir()
		sm := m
		sm.Shard = sh.String()
		if err := WriteOutputs(dir, lab, es, sm); err != nil {
			t.Fatal(err)
		}
		shards = append(shards, dir)
	}
	entries, mm, err := Merge(shards)
	if err != nil {
		t.Fatal(err)
	}
	merged := t.TempDir()
	if err := WriteOutputs(merged, lab, entries, mm); err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, one, merged)

	t.Run("shards of different settings", func(t *testing.T) {
		other := t.TempDir()
		WriteOutputs(other, lab, nil, Manifest{Grader: "g", Settings: "other"})
		if _, _, err := Merge([]string{shards[0], other}); err == nil || !strings.Contains(err.Error(), "settings") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a name in two shards", func(t *testing.T) {
		if _, _, err := Merge([]string{shards[0], shards[0]}); err == nil || !strings.Contains(err.Error(), "both") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("not a batch output", func(t *testing.T) {
		if _, _, err := Merge([]string{t.TempDir()}); err == nil {
			t.Error("no error")
		}
	})
}

// assertSameTree compares two output folders file by file.
func assertSameTree(t *testing.T, a, b string) {
	t.Helper()
	files := func(root string) map[string]string {
		out := map[string]string{}
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(root, p)
				data, _ := os.ReadFile(p)
				out[rel] = string(data)
			}
			return nil
		})
		return out
	}
	fa, fb := files(a), files(b)
	for name, da := range fa {
		db, ok := fb[name]
		switch {
		case !ok:
			t.Errorf("%s only in %s", name, a)
		case da != db:
			t.Errorf("%s differs:\n%s\n---\n%s", name, da, db)
		}
	}
	for name := range fb {
		if _, ok := fa[name]; !ok {
			t.Errorf("%s only in %s", name, b)
		}
	}
}

// fakeGrader grades by the name of the folder: "fail-*" fails a check,
// "flaky-*" is not gradable on the first attempt, "broken-*" never is,
// "slow-*" waits until cancelled.
type fakeGrader struct {
	mu       sync.Mutex
	calls    map[string]int
	engines  map[string][]string
	running  atomic.Int32
	maxSeen  atomic.Int32
	started  chan string
	finished atomic.Int32
}

func (f *fakeGrader) grade(ctx context.Context, dir string, eng Engine) (*grader.Report, error) {
	name := filepath.Base(dir)
	f.mu.Lock()
	if f.calls == nil {
		f.calls, f.engines = map[string]int{}, map[string][]string{}
	}
	f.calls[name]++
	n := f.calls[name]
	f.engines[name] = append(f.engines[name], eng.Host)
	f.mu.Unlock()
	cur := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		m := f.maxSeen.Load()
		if cur <= m || f.maxSeen.CompareAndSwap(m, cur) {
			break
		}
	}
	if f.started != nil {
		f.started <- name
	}
	defer f.finished.Add(1)
	all := map[string]grader.Status{"dockerfile.found": "pass", "image.build": "pass", "image.size": "pass"}
	switch {
	case strings.HasPrefix(name, "slow-"):
		<-ctx.Done()
		return nil, ErrInterrupted
	case strings.HasPrefix(name, "fail-"):
		all["image.size"] = "fail"
	case strings.HasPrefix(name, "flaky-") && n == 1, strings.HasPrefix(name, "broken-"):
		all["image.build"] = "error"
	case strings.HasPrefix(name, "crash-"):
		return nil, errors.New("grade was killed (signal: segmentation fault)")
	}
	time.Sleep(5 * time.Millisecond)
	return testReport(all), nil
}

func folders(t *testing.T, names ...string) []Submission {
	root := t.TempDir()
	var out []Submission
	for _, n := range names {
		d := filepath.Join(root, n)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "main.go"), []byte("package main // "+n), 0o644)
		out = append(out, Submission{Name: n, Source: d, Dir: d})
	}
	return out
}

func TestBatchRunRetriesAndRecords(t *testing.T) {
	f := &fakeGrader{}
	out := t.TempDir()
	subs := folders(t, "alice", "fail-bob", "flaky-carol", "broken-dave", "crash-eve", "frank", "gina")
	subs = append(subs, Submission{Name: "ghost", Source: "file:///nope", Repo: &Repo{Name: "ghost", URL: "file:///nope"}})
	var progress []Progress
	res, err := Run(context.Background(), Options{
		Out: out, Submissions: subs, Lab: testLab(),
		Engines: []Engine{{Host: "unix:///a.sock", Slots: 2}, {Host: "tcp://b:2375", Slots: 1}},
		Grade:   f.grade,
		Fetch: func(ctx context.Context, r Repo) (Checkout, error) {
			return Checkout{}, errors.New("cannot fetch " + r.URL)
		},
		Manifest: Manifest{Grader: "g", Settings: "s"},
		Finished: func(p Progress) { progress = append(progress, p) },
	})
	if err != nil || res.Interrupted {
		t.Fatalf("err %v, interrupted %v", err, res.Interrupted)
	}
	if len(res.Entries) != len(subs) || len(progress) != len(subs) {
		t.Fatalf("%d entries, %d progress calls; want %d", len(res.Entries), len(progress), len(subs))
	}
	if got := f.maxSeen.Load(); got > 3 {
		t.Errorf("%d gradings at once, want at most 3 (2+1 slots)", got)
	}
	by := map[string]Entry{}
	for _, e := range res.Entries {
		by[e.Name] = e
	}
	if e := by["flaky-carol"]; !e.Gradable() || e.Attempts != 2 || e.Error != "" {
		t.Errorf("flaky: gradable %v attempts %d error %q; want graded on the retry", e.Gradable(), e.Attempts, e.Error)
	}
	if engs := f.engines["flaky-carol"]; len(engs) != 2 || engs[0] == engs[1] {
		t.Logf("flaky retried on %v (another engine was not free)", engs)
	}
	if e := by["broken-dave"]; e.Gradable() || e.Attempts != 2 || !strings.Contains(e.Error, "image.build") {
		t.Errorf("broken: gradable %v attempts %d error %q; want recorded not gradable after 2 attempts", e.Gradable(), e.Attempts, e.Error)
	}
	if e := by["crash-eve"]; e.Gradable() || e.Report != nil || !strings.Contains(e.Error, "killed") {
		t.Errorf("crash: %+v", e)
	}
	if f.calls["crash-eve"] != 2 || f.calls["alice"] != 1 || f.calls["fail-bob"] != 1 {
		t.Errorf("calls %v: a failing student is graded once, an ungradable one twice", f.calls)
	}
	if e := by["ghost"]; e.Gradable() || !strings.Contains(e.Error, "cannot fetch") {
		t.Errorf("ghost: %+v", e)
	}
	if e := by["fail-bob"]; !e.Gradable() || e.Report.Passed {
		t.Errorf("fail-bob: %+v", e)
	}
	// Everything is on disk, one line per entry, in name order.
	es, err := ReadResults(filepath.Join(out, ResultsFile))
	if err != nil || len(es) != len(subs) {
		t.Fatalf("results.jsonl: %d entries, %v", len(es), err)
	}
	data, _ := os.ReadFile(filepath.Join(out, ResultsFile))
	if n := bytes.Count(data, []byte("\n")); n != len(subs) {
		t.Errorf("results.jsonl has %d lines, want %d (rewritten in order at the end)", n, len(subs))
	}
	for _, s := range subs {
		if _, err := os.Stat(filepath.Join(out, FeedbackDir, s.Name+".md")); err != nil {
			t.Errorf("no feedback for %s", s.Name)
		}
	}
	for _, f := range []string{GradebookFile, HTMLFile, ManifestFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(out, ".*tmp*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestBatchRunSpreadsOverEngines(t *testing.T) {
	f := &fakeGrader{}
	var names []string
	for i := 0; i < 12; i++ {
		names = append(names, fmt.Sprintf("s%02d", i))
	}
	_, err := Run(context.Background(), Options{
		Out: t.TempDir(), Submissions: folders(t, names...), Lab: testLab(),
		Engines: []Engine{{Host: "unix:///a.sock", Slots: 2}, {Host: "tcp://b:2375", Slots: 2}},
		Grade:   f.grade,
	})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, engs := range f.engines {
		for _, e := range engs {
			count[e]++
		}
	}
	if count["unix:///a.sock"] == 0 || count["tcp://b:2375"] == 0 {
		t.Errorf("engines used %v, want both", count)
	}
}

func TestResumeSkipsWhatIsDone(t *testing.T) {
	out := t.TempDir()
	subs := folders(t, "a", "b", "broken-c", "d", "slow-e", "slow-f")
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeGrader{started: make(chan string, 100)}
	opts := Options{
		Out: out, Submissions: subs, Lab: testLab(), Grade: f.grade,
		Engines:  []Engine{{Slots: 2}},
		Manifest: Manifest{Grader: "g", Settings: "s"},
		// One preparer: the submissions reach the graders in name order.
		FetchSlots: 1,
	}
	// Interrupt once both slow ones are running: everything else is done.
	go func() {
		seen := 0
		for name := range f.started {
			if strings.HasPrefix(name, "slow-") {
				if seen++; seen == 2 {
					cancel()
					return
				}
			}
		}
	}()
	res, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || len(res.Entries) != 4 {
		t.Fatalf("interrupted %v with %d entries, want true with 4", res.Interrupted, len(res.Entries))
	}
	es, _ := ReadResults(filepath.Join(out, ResultsFile))
	if len(es) != 4 {
		t.Fatalf("results.jsonl has %d entries after the interruption, want 4", len(es))
	}

	// Resume: a, b, d are reused; broken-c (not gradable) is graded again;
	// the slow ones are graded now (quickly, this time).
	f2 := &fakeGrader{}
	opts.Grade = func(ctx context.Context, dir string, eng Engine) (*grader.Report, error) {
		if strings.HasPrefix(filepath.Base(dir), "slow-") {
			return testReport(map[string]grader.Status{"dockerfile.found": "pass"}), nil
		}
		return f2.grade(ctx, dir, eng)
	}
	opts.Resume = true
	var resumed []string
	opts.Finished = func(p Progress) {
		if p.Resumed {
			resumed = append(resumed, p.Entry.Name)
		}
	}
	res, err = Run(context.Background(), opts)
	if err != nil || res.Interrupted || len(res.Entries) != 6 {
		t.Fatalf("resume: %v, interrupted %v, %d entries", err, res.Interrupted, len(res.Entries))
	}
	slices.Sort(resumed)
	if !slices.Equal(resumed, []string{"a", "b", "d"}) {
		t.Errorf("resumed %v, want a b d", resumed)
	}
	if f2.calls["broken-c"] != 2 || f2.calls["a"] != 0 {
		t.Errorf("calls on resume %v", f2.calls)
	}

	// A change of content, grader or settings grades again.
	os.WriteFile(filepath.Join(subs[0].Dir, "main.go"), []byte("changed"), 0o644)
	f3 := &fakeGrader{}
	opts.Grade = f3.grade
	opts.Finished = nil
	opts.Submissions = subs[:2]
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if f3.calls["a"] != 1 || f3.calls["b"] != 0 {
		t.Errorf("after changing a: calls %v, want a graded again and b reused", f3.calls)
	}
	f4 := &fakeGrader{}
	opts.Grade = f4.grade
	opts.Manifest.Settings = "s2"
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if f4.calls["a"] != 1 || f4.calls["b"] != 1 {
		t.Errorf("after changing the settings: calls %v, want both graded again", f4.calls)
	}
	// Only this run's submissions stay in the outputs.
	es, _ = ReadResults(filepath.Join(out, ResultsFile))
	fb, _ := os.ReadDir(filepath.Join(out, FeedbackDir))
	if len(es) != 2 || len(fb) != 2 {
		t.Errorf("%d results and %d feedback files, want 2 and 2", len(es), len(fb))
	}
}

func TestBatchFeedbackWithoutReport(t *testing.T) {
	var buf bytes.Buffer
	e := Entry{Name: "ghost", Error: "cannot fetch x"}
	if err := Feedback(&buf, testLab(), &e); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "NOT GRADED") || !strings.Contains(buf.String(), "cannot fetch x") {
		t.Errorf("feedback:\n%s", buf.String())
	}
}
