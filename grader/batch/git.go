package batch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Fetcher brings repositories into a cache folder with the git CLI.
type Fetcher struct {
	// Cache is the folder that holds one working copy per repository.
	Cache string
	// Before, when set, grades the last commit made before it (committer
	// date) instead of the tip.
	Before time.Time
	// Timeout bounds one repository's fetch and checkout.
	Timeout time.Duration
	// Git is the git binary ("git" when empty).
	Git string
}

// Checkout is a fetched repository ready to grade.
type Checkout struct {
	Dir    string // the working copy
	Commit string // the checked-out commit
}

// depths are the history depths fetched in turn while looking for the
// last commit before the deadline; 0 is the whole history.
var depths = []int{1, 50, 1000, 0}

// Fetch brings r's ref (its remote HEAD when empty) into the cache and
// checks out the commit to grade. The working copy is reused by later
// batches (only what is new is fetched). A shallow fetch is used where
// possible; with Before, the history is deepened until a commit before the
// deadline is found or the whole history was searched.
func (f *Fetcher) Fetch(ctx context.Context, r Repo) (Checkout, error) {
	if f.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.Timeout)
		defer cancel()
	}
	sum := sha256.Sum256([]byte(r.URL))
	dir := filepath.Join(f.Cache, r.Name+"-"+hex.EncodeToString(sum[:4]))
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		if err := os.MkdirAll(f.Cache, 0o755); err != nil {
			return Checkout{}, err
		}
		if _, err := f.git(ctx, "", "init", "-q", dir); err != nil {
			return Checkout{}, err
		}
	}
	ref := r.Ref
	if ref == "" {
		ref = "HEAD"
	}
	var commit string
	for i, depth := range depths {
		if f.Before.IsZero() && i > 0 {
			break
		}
		args := []string{"fetch", "--quiet", "--no-tags"}
		if depth > 0 {
			args = append(args, "--depth", strconv.Itoa(depth))
		} else if f.shallow(ctx, dir) {
			args = append(args, "--unshallow")
		}
		args = append(args, "--", r.URL, ref)
		if _, err := f.git(ctx, dir, args...); err != nil {
			return Checkout{}, fmt.Errorf("cannot fetch %s (%s): %w", r.URL, ref, err)
		}
		if f.Before.IsZero() {
			out, err := f.git(ctx, dir, "rev-parse", "--verify", "FETCH_HEAD^{commit}")
			if err != nil {
				return Checkout{}, err
			}
			commit = out
			break
		}
		out, err := f.git(ctx, dir, "rev-list", "-n", "1", "--before="+strconv.FormatInt(f.Before.Unix(), 10), "FETCH_HEAD")
		if err != nil {
			return Checkout{}, err
		}
		if out != "" {
			commit = out
			break
		}
		if !f.shallow(ctx, dir) {
			break // the whole history is here and nothing is old enough
		}
	}
	if commit == "" {
		return Checkout{}, fmt.Errorf("%s (%s) has no commit before the deadline %s", r.URL, ref, f.Before.Format(time.RFC3339))
	}
	if _, err := f.git(ctx, dir, "checkout", "-q", "--force", "--detach", commit); err != nil {
		return Checkout{}, err
	}
	if _, err := f.git(ctx, dir, "clean", "-q", "-ffdx"); err != nil {
		return Checkout{}, err
	}
	return Checkout{Dir: dir, Commit: commit}, nil
}

func (f *Fetcher) shallow(ctx context.Context, dir string) bool {
	out, err := f.git(ctx, dir, "rev-parse", "--is-shallow-repository")
	return err == nil && out == "true"
}

// git runs one git command without a terminal or a credential prompt and
// returns its trimmed stdout; an error carries the end of its stderr.
// Cancelling ctx interrupts git (SIGINT), so it removes its lock files.
func (f *Fetcher) git(ctx context.Context, dir string, args ...string) (string, error) {
	bin := f.Git
	if bin == "" {
		bin = "git"
	}
	sub := args[0]
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_CONFIG_NOSYSTEM=1")
	if os.Getenv("GIT_SSH_COMMAND") == "" {
		cmd.Env = append(cmd.Env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return "", fmt.Errorf("git %s did not finish within %s", sub, f.Timeout)
			}
			return "", ctx.Err()
		}
		msg := gitMessage(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", errors.New(msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// gitMessage picks what git said went wrong: its first "fatal:" or
// "error:" line, else its last line.
func gitMessage(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "fatal: ") || strings.HasPrefix(l, "error: ") {
			return l
		}
	}
	return lastLines(stderr, 1)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, " "))
}
