package dockerfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxSize is the largest Dockerfile Load reads (1 MiB).
const MaxSize = 1 << 20

// Errors Load wraps, for errors.Is.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("file too large")
)

// OutsideError is returned by Load when the Dockerfile's real path (after
// following symlinks) lies outside the submission folder.
type OutsideError struct {
	Name   string // as asked, e.g. "Dockerfile.multistage"
	Target string // where it leads
}

func (e *OutsideError) Error() string {
	if e.Target == e.Name {
		return fmt.Sprintf("%s lies outside the submission folder; refusing to read it", e.Name)
	}
	return fmt.Sprintf("%s is a symlink to %s, outside the submission folder; refusing to read it", e.Name, e.Target)
}

// missingError is an absent Dockerfile; errors.Is(err, fs.ErrNotExist) holds.
type missingError struct{ msg string }

func (e *missingError) Error() string        { return e.msg }
func (e *missingError) Is(target error) bool { return target == fs.ErrNotExist }

// Load reads and parses the Dockerfile name inside dir. It refuses a file
// whose real path leaves dir (*OutsideError), wraps fs.ErrNotExist when the
// file is absent, and refuses directories and other non-regular files
// (ErrNotRegular) and files larger than MaxSize (ErrTooLarge). Syntax errors
// are *ParseError.
func Load(dir, name string) (*File, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root, err = filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("submission folder: %w", err)
	}
	if filepath.IsAbs(name) || !filepath.IsLocal(filepath.FromSlash(name)) {
		return nil, &OutsideError{Name: name, Target: name}
	}
	p := filepath.Join(root, filepath.FromSlash(name))
	li, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &missingError{name + " not found in the submission folder"}
		}
		return nil, err
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && li.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			if t := absTarget(filepath.Dir(p), target); !within(root, t) {
				return nil, &OutsideError{Name: name, Target: target}
			}
			return nil, &missingError{fmt.Sprintf("%s is a symlink to %s, which does not exist", name, target)}
		}
		return nil, err
	}
	if !within(root, real) {
		return nil, &OutsideError{Name: name, Target: real}
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, err
	}
	switch {
	case fi.IsDir():
		return nil, fmt.Errorf("%s is a directory: %w", name, ErrNotRegular)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s: %w", name, ErrNotRegular)
	case fi.Size() > MaxSize:
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed: %w", name, fi.Size(), MaxSize, ErrTooLarge)
	}
	fh, err := os.Open(real)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s is more than %d bytes: %w", name, MaxSize, ErrTooLarge)
	}
	return Parse(name, data)
}

func absTarget(dir, target string) string {
	if filepath.IsAbs(target) {
		return filepath.Clean(target)
	}
	return filepath.Join(dir, target)
}

// within reports whether p is root or lies below it (both cleaned, absolute).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))
}
