package batch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Submission is one thing to grade.
type Submission struct {
	Name   string // unique in the batch
	Source string // the folder, or the repository's URL
	Dir    string // the folder to grade; for a repository, set once fetched
	Repo   *Repo  // the repository, nil for a folder
}

// markers are the files that make a folder a submission.
var markers = []string{"Dockerfile.multistage", "Dockerfile", "Dockerfile.scratch", "main.go", "go.mod"}

// IsSubmission reports whether dir holds one of the files of a submission
// (Dockerfile.multistage, Dockerfile, Dockerfile.scratch, main.go, go.mod).
func IsSubmission(dir string) bool {
	for _, m := range markers {
		if _, err := os.Lstat(filepath.Join(dir, m)); err == nil {
			return true
		}
	}
	return false
}

// Discover turns PATH arguments into submissions: a PATH that is a
// submission (IsSubmission) is one; otherwise each of its sub-folders
// (hidden ones aside) is one, whatever it holds, so an empty submission is
// graded (and fails) rather than forgotten. A submission is named after its
// folder. Folders in exclude (the batch's own output and cache folders,
// which may sit among the submissions) are never submissions.
func Discover(paths []string, exclude ...string) ([]Submission, error) {
	skip := map[string]bool{}
	for _, e := range exclude {
		if abs, err := filepath.Abs(e); err == nil {
			skip[abs] = true
		}
	}
	var out []Submission
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(abs)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s does not exist", p)
			}
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s is a file, not a folder", p)
		}
		if IsSubmission(abs) {
			out = append(out, Submission{Name: filepath.Base(abs), Source: abs, Dir: abs})
			continue
		}
		ents, err := os.ReadDir(abs)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			sub := filepath.Join(abs, e.Name())
			if st, err := os.Stat(sub); err != nil || !st.IsDir() || skip[sub] {
				continue
			}
			out = append(out, Submission{Name: e.Name(), Source: sub, Dir: sub})
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s is neither a submission (no %s) nor a folder of submissions", p, strings.Join(markers, ", "))
		}
	}
	return out, nil
}

// Combine adds the roster's repositories to the folders, sorts everything
// by name, and checks that names are valid and unique.
func Combine(folders []Submission, repos []Repo) ([]Submission, error) {
	all := append([]Submission(nil), folders...)
	for i := range repos {
		r := repos[i]
		all = append(all, Submission{Name: r.Name, Source: r.URL, Repo: &r})
	}
	SortSubmissions(all)
	for i, s := range all {
		if err := ValidName(s.Name); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Source, err)
		}
		if i > 0 && all[i-1].Name == s.Name {
			return nil, fmt.Errorf("two submissions are named %s: %s and %s (names must be unique)", s.Name, all[i-1].Source, s.Source)
		}
	}
	return all, nil
}

// SortSubmissions sorts by name (byte order), the batch's one ordering.
func SortSubmissions(s []Submission) {
	sort.SliceStable(s, func(i, j int) bool { return s[i].Name < s[j].Name })
}
