package session

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Filesystem is an image's flattened root filesystem: every path as a
// container would see it, with file contents read on demand from a
// temporary export that the session removes at Close.
type Filesystem struct {
	file    *os.File
	entries map[string]*Entry
}

// Entry is one path of a Filesystem.
type Entry struct {
	Path     string // absolute, cleaned: "/usr/local/go/bin/go"
	Type     byte   // tar type flag: tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, …
	Mode     fs.FileMode
	Size     int64
	Linkname string // target of a symlink or hard link
	UID, GID int
	offset   int64
}

// IsRegular reports whether the entry is a regular file (or a hard link to one).
func (e *Entry) IsRegular() bool { return e.Type == tar.TypeReg || e.Type == tar.TypeLink }

// Filesystem exports the image's filesystem through a container that is
// created for that purpose and never started (its command is never run).
func (s *Session) Filesystem(ctx context.Context, img *Image) (*Filesystem, error) {
	created, err := s.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:      img.ID,
			Entrypoint: []string{"/grade-export-never-runs"},
			Cmd:        []string{},
			Labels:     map[string]string{LabelGrader: "1", LabelRun: s.runID},
		},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		return nil, Environment(fmt.Errorf("create a container to read the image: %w", err), hintDocker)
	}
	s.trackContainer(created.ID)
	defer s.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, client.ContainerRemoveOptions{Force: true})

	rc, err := s.cli.ContainerExport(ctx, created.ID, client.ContainerExportOptions{})
	if err != nil {
		return nil, Environment(fmt.Errorf("export the image's filesystem: %w", err), hintDocker)
	}
	defer rc.Close()
	f, err := s.tempFile("grade-fs-*.tar")
	if err != nil {
		return nil, Environment(fmt.Errorf("temporary file: %w", err), "")
	}
	if _, err := io.Copy(f, rc); err != nil {
		return nil, Environment(fmt.Errorf("export the image's filesystem: %w", err), hintDocker)
	}
	s.mu.Lock()
	s.open = append(s.open, &Filesystem{file: f})
	s.mu.Unlock()
	fsys, err := indexTar(f)
	if err != nil {
		return nil, Environment(fmt.Errorf("read the image's filesystem: %w", err), "")
	}
	return fsys, nil
}

// OpenFilesystem indexes a flat root-filesystem tar file (the format of
// `docker export`). The file stays open for reading contents; Close it with
// the returned Filesystem's Close.
func OpenFilesystem(tarPath string) (*Filesystem, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return nil, err
	}
	fsys, err := indexTar(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return fsys, nil
}

// Close releases the file behind the filesystem (the session removes it).
func (f *Filesystem) Close() error { return f.file.Close() }

// countingReader tells how far a tar reader has read, so each entry's data
// offset in the file is known.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// indexTar indexes a flat (export) tar file. archive/tar reads exactly the
// header blocks in Next, so the count after Next is the data's offset.
func indexTar(f *os.File) (*Filesystem, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	cr := &countingReader{r: f}
	tr := tar.NewReader(cr)
	fsys := &Filesystem{file: f, entries: map[string]*Entry{}}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		p := cleanPath(h.Name)
		e := &Entry{
			Path: p, Type: h.Typeflag, Mode: h.FileInfo().Mode(), Size: h.Size,
			UID: h.Uid, GID: h.Gid, offset: cr.n,
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			e.Linkname = h.Linkname
		case tar.TypeLink:
			e.Linkname = cleanPath(h.Linkname)
		}
		fsys.entries[p] = e
	}
	// A tar may omit folders that hold entries; they exist all the same.
	for p := range fsys.entries {
		for d := path.Dir(p); d != "/" && fsys.entries[d] == nil; d = path.Dir(d) {
			fsys.entries[d] = &Entry{Path: d, Type: tar.TypeDir, Mode: fs.ModeDir | 0o755}
		}
	}
	fsys.entries["/"] = &Entry{Path: "/", Type: tar.TypeDir, Mode: fs.ModeDir | 0o755}
	return fsys, nil
}

func cleanPath(name string) string { return path.Clean("/" + strings.TrimPrefix(name, "./")) }

// Lstat returns the entry at p without following a final symlink.
func (f *Filesystem) Lstat(p string) (*Entry, bool) {
	e, ok := f.entries[cleanPath(p)]
	return e, ok
}

// ErrNotFound is returned for paths that do not exist in the image.
var ErrNotFound = errors.New("no such file or directory")

// Resolve follows symlinks (in every component, relative to the image's
// root, never outside it) and hard links, and returns the final entry with
// the path it was found at.
func (f *Filesystem) Resolve(p string) (*Entry, error) {
	return f.resolve(cleanPath(p), 0)
}

func (f *Filesystem) resolve(p string, depth int) (*Entry, error) {
	if depth > 40 {
		return nil, fmt.Errorf("%s: too many levels of symbolic links", p)
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for i, part := range parts {
		if part == "" {
			continue
		}
		next := path.Join(cur, part)
		e, ok := f.entries[next]
		if !ok {
			return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		if e.Type == tar.TypeSymlink {
			target := e.Linkname
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			rest := path.Join(append([]string{target}, parts[i+1:]...)...)
			return f.resolve(cleanPath(rest), depth+1)
		}
		cur = next
	}
	e := f.entries[cur]
	if e.Type == tar.TypeLink {
		t, ok := f.entries[e.Linkname]
		if !ok {
			return nil, fmt.Errorf("%s: hard link to missing %s", p, e.Linkname)
		}
		return &Entry{Path: cur, Type: tar.TypeReg, Mode: t.Mode, Size: t.Size, UID: t.UID, GID: t.GID, offset: t.offset}, nil
	}
	return e, nil
}

// Open returns the contents of the regular file at p (symlinks followed).
func (f *Filesystem) Open(p string) (*io.SectionReader, *Entry, error) {
	e, err := f.Resolve(p)
	if err != nil {
		return nil, nil, err
	}
	if !e.IsRegular() {
		return nil, e, fmt.Errorf("%s is not a regular file", p)
	}
	return io.NewSectionReader(f.file, e.offset, e.Size), e, nil
}

// ReadFile returns the contents of the file at p, at most max bytes.
func (f *Filesystem) ReadFile(p string, max int64) ([]byte, error) {
	r, _, err := f.Open(p)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, max))
}

// Walk calls fn for every entry in path order; fn returning false stops it.
func (f *Filesystem) Walk(fn func(*Entry) bool) {
	paths := make([]string, 0, len(f.entries))
	for p := range f.entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !fn(f.entries[p]) {
			return
		}
	}
}

// Len is the number of entries.
func (f *Filesystem) Len() int { return len(f.entries) }
