package batch

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Repo is one line of a --repos roster: a student's git repository.
type Repo struct {
	Name string // unique name in the batch (the feedback file is NAME.md)
	URL  string // anything `git fetch` accepts: https://, ssh://, file://, a path
	Ref  string // branch, tag or commit to grade; "" for the remote's HEAD
}

// ParseRoster reads a roster: one `name,url[,ref]` record per line, in CSV
// (quote a field that holds a comma). Lines starting with # and blank lines
// are skipped, and so is a first line `name,url[,ref]` (a header).
// Names must be valid (see ValidName) and unique.
func ParseRoster(r io.Reader) ([]Repo, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var out []Repo
	seen := map[string]int{}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		if first && strings.EqualFold(rec[0], "name") && len(rec) >= 2 && strings.EqualFold(rec[1], "url") {
			continue
		}
		if len(rec) < 2 || len(rec) > 3 {
			return nil, fmt.Errorf("line %d: want name,url[,ref], got %d field(s)", line, len(rec))
		}
		repo := Repo{Name: rec[0], URL: rec[1]}
		if len(rec) == 3 {
			repo.Ref = rec[2]
		}
		if err := ValidName(repo.Name); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if repo.URL == "" {
			return nil, fmt.Errorf("line %d: %s has no url", line, repo.Name)
		}
		if strings.HasPrefix(repo.URL, "-") || strings.HasPrefix(repo.Ref, "-") {
			return nil, fmt.Errorf("line %d: a url or ref cannot start with '-'", line)
		}
		if prev, ok := seen[repo.Name]; ok {
			return nil, fmt.Errorf("line %d: the name %s is already used on line %d", line, repo.Name, prev)
		}
		seen[repo.Name] = line
		out = append(out, repo)
	}
	return out, nil
}

// ValidName reports whether name can name a submission: it becomes a file
// name (feedback/NAME.md), so it must be non-empty, not start with a dot,
// and hold no path separator or control character.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("name %q starts with a dot", name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("name %q holds a path separator", name)
	case len(name) > 200:
		return fmt.Errorf("name %q is longer than 200 bytes", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("name %q holds a control character", name)
		}
	}
	return nil
}
