package batch

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitRepo makes a repository with one commit per date, each changing
// file.txt to the commit's number; it returns the commits, oldest first.
func gitRepo(t *testing.T, dates ...string) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("this test needs git")
	}
	dir := t.TempDir()
	run := func(date string, args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.name=s", "-c", "user.email=s@example.com", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run(dates[0], "init", "-q")
	var shas []string
	for i, d := range dates {
		os.WriteFile(filepath.Join(dir, "file.txt"), []byte{byte('0' + i)}, 0o644)
		run(d, "add", "-A")
		run(d, "commit", "-q", "-m", "c")
		shas = append(shas, run(d, "rev-parse", "HEAD"))
	}
	return dir, shas
}

func TestBatchGitFetch(t *testing.T) {
	var dates []string
	for day := 1; day <= 60; day++ { // more commits than the second depth
		dates = append(dates, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(day)*6*time.Hour).Format(time.RFC3339))
	}
	src, shas := gitRepo(t, dates...)
	url := "file://" + src
	cache := t.TempDir()
	ctx := context.Background()

	f := &Fetcher{Cache: cache, Timeout: time.Minute}
	co, err := f.Fetch(ctx, Repo{Name: "alice", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if co.Commit != shas[len(shas)-1] {
		t.Errorf("without --before: commit %s, want the tip %s", co.Commit, shas[len(shas)-1])
	}
	if b, _ := os.ReadFile(filepath.Join(co.Dir, "file.txt")); string(b) != string(rune('0'+len(shas)-1)) {
		t.Errorf("the work tree is not at the tip: %q", b)
	}

	// The deadline falls on the 3rd commit's day: the history is deepened
	// until it is found (the tip is 57 commits later).
	deadline, _ := time.Parse(time.RFC3339, dates[2])
	f.Before = deadline.Add(time.Minute)
	co, err = f.Fetch(ctx, Repo{Name: "alice", URL: url, Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if co.Commit != shas[2] {
		t.Errorf("--before: commit %s, want %s (the last before the deadline)", co.Commit, shas[2])
	}
	if b, _ := os.ReadFile(filepath.Join(co.Dir, "file.txt")); string(b) != "2" {
		t.Errorf("the work tree is not at the graded commit: %q", b)
	}

	// Nothing before the deadline: an error that says so.
	f.Before = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := f.Fetch(ctx, Repo{Name: "alice", URL: url}); err == nil || !strings.Contains(err.Error(), "no commit before") {
		t.Errorf("err = %v", err)
	}

	// A repository that does not exist: git's own reason.
	f.Before = time.Time{}
	_, err = f.Fetch(ctx, Repo{Name: "ghost", URL: "file://" + filepath.Join(cache, "nope.git")})
	if err == nil || !strings.Contains(err.Error(), "nope.git") || !strings.Contains(err.Error(), "does not appear to be a git repository") {
		t.Errorf("err = %v", err)
	}
	// A ref that does not exist.
	if _, err := f.Fetch(ctx, Repo{Name: "alice", URL: url, Ref: "no-such-branch"}); err == nil || !strings.Contains(err.Error(), "no-such-branch") {
		t.Errorf("err = %v", err)
	}
}
