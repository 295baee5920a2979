package session

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// tarEntry is one entry of a test tar; see dirE, fileE, symE, linkE.
type tarEntry struct {
	hdr  tar.Header
	body string
}

func dirE(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

func fileE(name, body string, mode int64) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))}, body: body}
}

func symE(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}

func linkE(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o755}}
}

// writeTestTar writes entries as a tar file in a temporary folder.
func writeTestTar(t *testing.T, entries []tarEntry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rootfs.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %s: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatalf("tar body %s: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// openTestFS builds a tar of entries and opens it as a Filesystem.
func openTestFS(t *testing.T, entries []tarEntry) *Filesystem {
	t.Helper()
	fsys, err := OpenFilesystem(writeTestTar(t, entries))
	if err != nil {
		t.Fatalf("OpenFilesystem: %v", err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

var (
	longName = "app/" + strings.Repeat("n", 130) + ".txt"      // one component > 100 chars: needs PAX
	bigBody  = strings.Repeat("0123456789abcdef", 80) + "tail" // 1284 bytes: several blocks, odd size
)

// rootfsEntries is a small image in `docker export` style (relative names,
// directories with a trailing slash) with every kind of link.
func rootfsEntries() []tarEntry {
	long := fileE(longName, "long-named content", 0o644)
	long.hdr.Format = tar.FormatPAX
	long.hdr.PAXRecords = map[string]string{"comment": "written by the unit test"}
	owned := fileE("home/appuser/.profile", "export PS1='$ '\n", 0o600)
	owned.hdr.Uid, owned.hdr.Gid = 1000, 1001
	return []tarEntry{
		dirE("bin/"),
		fileE("bin/busybox", "BUSYBOX-ELF", 0o755),
		symE("bin/sh", "busybox"),  // relative, final component
		symE("bin/sh2", "/bin/sh"), // absolute to relative chain
		dirE("etc/"),
		fileE("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nappuser:x:1000:1000::/home/appuser:/bin/sh\n", 0o644),
		fileE("etc/empty", "", 0o644),
		dirE("usr/"),
		dirE("usr/lib/"),
		dirE("usr/lib/real/"),
		fileE("usr/lib/real/data.txt", "DATA", 0o644),
		symE("lib", "usr/lib"),          // relative, intermediate component (merged /usr)
		symE("abs", "/usr/lib/real"),    // absolute, intermediate component
		symE("usr/lib/up", "../../etc"), // relative with ..
		dirE("app/"),
		fileE("app/server", "SERVER-BINARY-CONTENT", 0o755),
		linkE("app/server.hard", "app/server"),
		linkE("app/missing.hard", "app/gone"),
		symE("app/run", "./server"),
		symE("app/passwd", "../etc/passwd"),
		long,
		fileE("app/after-long", "right after the PAX entry", 0o644),
		fileE("app/big", bigBody, 0o644),
		fileE("app/small", "s", 0o644),
		symE("escape", "../../../../etc/passwd"),
		symE("escape-abs", "/../../../etc"),
		symE("escape-dir", "../../.."),
		symE("app/deep-escape", "../../../../../../bin/busybox"),
		symE("loop1", "loop2"),
		symE("loop2", "loop1"),
		symE("self", "self"),
		symE("dangling", "/nowhere"),
		dirE("home/"),
		dirE("home/appuser/"),
		owned,
		dirE("./dot/"),
		fileE("./dot/slash", "dot-slash", 0o644),
	}
}

func TestUnitFilesystemHasPAXEntry(t *testing.T) {
	raw, err := os.ReadFile(writeTestTar(t, rootfsEntries()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(" path="+longName+"\n")) {
		t.Fatal("the test tar holds no PAX path record: the PAX cases test nothing")
	}
}

func TestUnitFilesystemLstat(t *testing.T) {
	fsys := openTestFS(t, rootfsEntries())
	tests := []struct {
		path     string
		ok       bool
		typ      byte
		linkname string
		size     int64
	}{
		{path: "/", ok: true, typ: tar.TypeDir},
		{path: "/bin", ok: true, typ: tar.TypeDir},
		{path: "/bin/", ok: true, typ: tar.TypeDir},
		{path: "bin/busybox", ok: true, typ: tar.TypeReg, size: 11},
		{path: "/bin/sh", ok: true, typ: tar.TypeSymlink, linkname: "busybox"},
		{path: "/bin/../bin/./sh", ok: true, typ: tar.TypeSymlink, linkname: "busybox"},
		{path: "/lib", ok: true, typ: tar.TypeSymlink, linkname: "usr/lib"},
		{path: "/app/server.hard", ok: true, typ: tar.TypeLink, linkname: "/app/server"},
		{path: "/" + longName, ok: true, typ: tar.TypeReg, size: 18},
		{path: "/dot/slash", ok: true, typ: tar.TypeReg, size: 9},
		{path: "/etc/empty", ok: true, typ: tar.TypeReg},
		{path: "/lib/real/data.txt"}, // Lstat does not follow symlinks
		{path: "/nope"},
		{path: "/etc/passwd/x"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			e, ok := fsys.Lstat(tt.path)
			if ok != tt.ok {
				t.Fatalf("Lstat(%q) ok = %v, want %v", tt.path, ok, tt.ok)
			}
			if !ok {
				return
			}
			if e.Type != tt.typ || e.Linkname != tt.linkname || e.Size != tt.size {
				t.Errorf("Lstat(%q) = type %q link %q size %d; want type %q link %q size %d",
					tt.path, e.Type, e.Linkname, e.Size, tt.typ, tt.linkname, tt.size)
			}
			if !strings.HasPrefix(e.Path, "/") || e.Path != filepath.Clean(e.Path) {
				t.Errorf("entry path %q is not absolute and clean", e.Path)
			}
		})
	}

	t.Run("modes and owners", func(t *testing.T) {
		e, _ := fsys.Lstat("/bin/busybox")
		if e.Mode.Perm() != 0o755 || !e.Mode.IsRegular() || !e.IsRegular() {
			t.Errorf("/bin/busybox mode %v", e.Mode)
		}
		d, _ := fsys.Lstat("/usr/lib")
		if !d.Mode.IsDir() || d.IsRegular() {
			t.Errorf("/usr/lib mode %v", d.Mode)
		}
		s, _ := fsys.Lstat("/bin/sh")
		if s.Mode&fs.ModeSymlink == 0 || s.IsRegular() {
			t.Errorf("/bin/sh mode %v", s.Mode)
		}
		h, _ := fsys.Lstat("/app/server.hard")
		if !h.IsRegular() {
			t.Error("a hard link is not IsRegular")
		}
		o, _ := fsys.Lstat("/home/appuser/.profile")
		if o.UID != 1000 || o.GID != 1001 || o.Mode.Perm() != 0o600 {
			t.Errorf(".profile uid %d gid %d mode %v", o.UID, o.GID, o.Mode)
		}
	})
}

func TestUnitFilesystemResolve(t *testing.T) {
	fsys := openTestFS(t, rootfsEntries())
	tests := []struct {
		name     string
		path     string
		wantPath string // the path of the entry found
		wantType byte
		wantBody string // content when regular
	}{
		{"plain file", "/etc/passwd", "/etc/passwd", tar.TypeReg, "root:x:0:0:root:/root:/bin/sh\nappuser:x:1000:1000::/home/appuser:/bin/sh\n"},
		{"relative name", "etc/passwd", "/etc/passwd", tar.TypeReg, ""},
		{"directory", "/usr/lib", "/usr/lib", tar.TypeDir, ""},
		{"root", "/", "/", tar.TypeDir, ""},
		{"relative symlink, final", "/bin/sh", "/bin/busybox", tar.TypeReg, "BUSYBOX-ELF"},
		{"absolute then relative symlink", "/bin/sh2", "/bin/busybox", tar.TypeReg, "BUSYBOX-ELF"},
		{"./ symlink", "/app/run", "/app/server", tar.TypeReg, "SERVER-BINARY-CONTENT"},
		{"relative symlink, intermediate", "/lib/real/data.txt", "/usr/lib/real/data.txt", tar.TypeReg, "DATA"},
		{"absolute symlink, intermediate", "/abs/data.txt", "/usr/lib/real/data.txt", tar.TypeReg, "DATA"},
		{"symlink to a directory, final", "/lib", "/usr/lib", tar.TypeDir, ""},
		{"symlink with .. , intermediate", "/usr/lib/up/passwd", "/etc/passwd", tar.TypeReg, ""},
		{"two symlinks, intermediate", "/lib/up/passwd", "/etc/passwd", tar.TypeReg, ""},
		{"symlink with .., final", "/app/passwd", "/etc/passwd", tar.TypeReg, ""},
		{".. in the path", "/app/../etc/passwd", "/etc/passwd", tar.TypeReg, ""},
		{".. above the root", "/../../etc/passwd", "/etc/passwd", tar.TypeReg, ""},
		{"escape through ..", "/escape", "/etc/passwd", tar.TypeReg, ""},
		{"escape through an absolute ..", "/escape-abs/passwd", "/etc/passwd", tar.TypeReg, ""},
		{"escape to root, intermediate", "/escape-dir/etc/passwd", "/etc/passwd", tar.TypeReg, ""},
		{"escape to root, final", "/escape-dir", "/", tar.TypeDir, ""},
		{"escape from a subfolder", "/app/deep-escape", "/bin/busybox", tar.TypeReg, "BUSYBOX-ELF"},
		{"hard link", "/app/server.hard", "/app/server.hard", tar.TypeReg, "SERVER-BINARY-CONTENT"},
		{"long PAX name", "/" + longName, "/" + longName, tar.TypeReg, "long-named content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := fsys.Resolve(tt.path)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.path, err)
			}
			if e.Path != tt.wantPath || e.Type != tt.wantType {
				t.Errorf("Resolve(%q) = %s (type %q), want %s (type %q)", tt.path, e.Path, e.Type, tt.wantPath, tt.wantType)
			}
			if tt.wantBody != "" {
				got, err := fsys.ReadFile(tt.path, 1<<20)
				if err != nil {
					t.Fatalf("ReadFile(%q): %v", tt.path, err)
				}
				if string(got) != tt.wantBody {
					t.Errorf("ReadFile(%q) = %q, want %q", tt.path, got, tt.wantBody)
				}
				if e.Size != int64(len(tt.wantBody)) {
					t.Errorf("Resolve(%q).Size = %d, want %d", tt.path, e.Size, len(tt.wantBody))
				}
			}
		})
	}
}

func TestUnitFilesystemResolveErrors(t *testing.T) {
	fsys := openTestFS(t, rootfsEntries())
	tests := []struct {
		name     string
		path     string
		notFound bool   // the error wraps ErrNotFound
		mention  string // the error mentions this
	}{
		{"missing file", "/nope", true, "/nope"},
		{"missing in a folder", "/app/nope", true, ""},
		{"missing folder", "/nope/x", true, ""},
		{"through a regular file", "/etc/passwd/x", true, ""},
		{"missing behind an intermediate symlink", "/lib/nope", true, ""},
		{"dangling symlink", "/dangling", true, ""},
		{"through a dangling symlink", "/dangling/x", true, ""},
		{"symlink loop", "/loop1", false, "too many levels of symbolic links"},
		{"self loop", "/self/x", false, "too many levels of symbolic links"},
		{"hard link to a missing file", "/app/missing.hard", false, "/app/gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := fsys.Resolve(tt.path)
			if err == nil {
				t.Fatalf("Resolve(%q) = %+v, want an error", tt.path, e)
			}
			if got := errors.Is(err, ErrNotFound); got != tt.notFound {
				t.Errorf("Resolve(%q) error %q: errors.Is(ErrNotFound) = %v, want %v", tt.path, err, got, tt.notFound)
			}
			if tt.mention != "" && !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("Resolve(%q) error %q does not mention %q", tt.path, err, tt.mention)
			}
			if _, _, oerr := fsys.Open(tt.path); oerr == nil {
				t.Errorf("Open(%q) succeeded", tt.path)
			} else if errors.Is(oerr, ErrNotFound) != tt.notFound {
				t.Errorf("Open(%q) error %q: errors.Is(ErrNotFound) = %v, want %v", tt.path, oerr, !tt.notFound, tt.notFound)
			}
			if _, rerr := fsys.ReadFile(tt.path, 10); rerr == nil {
				t.Errorf("ReadFile(%q) succeeded", tt.path)
			}
		})
	}
}

func TestUnitFilesystemOpen(t *testing.T) {
	fsys := openTestFS(t, rootfsEntries())
	files := map[string]string{
		"/bin/busybox":           "BUSYBOX-ELF",
		"/etc/empty":             "",
		"/usr/lib/real/data.txt": "DATA",
		"/app/server":            "SERVER-BINARY-CONTENT",
		"/" + longName:           "long-named content",
		"/app/after-long":        "right after the PAX entry",
		"/app/big":               bigBody,
		"/app/small":             "s",
		"/dot/slash":             "dot-slash",
		"/home/appuser/.profile": "export PS1='$ '\n",
	}
	for p, want := range files {
		t.Run(p, func(t *testing.T) {
			r, e, err := fsys.Open(p)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if r.Size() != int64(len(want)) || e.Size != int64(len(want)) {
				t.Errorf("size = %d / %d, want %d", r.Size(), e.Size, len(want))
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("content = %q, want %q", got, want)
			}
			// ReadAt at an offset inside the file.
			if len(want) > 3 {
				buf := make([]byte, 3)
				if _, err := r.ReadAt(buf, int64(len(want)-3)); err != nil && err != io.EOF {
					t.Fatal(err)
				}
				if string(buf) != want[len(want)-3:] {
					t.Errorf("ReadAt(end-3) = %q, want %q", buf, want[len(want)-3:])
				}
			}
			// Reading past the end stops at the file's end, not the tar's.
			if _, err := r.ReadAt(make([]byte, 1), int64(len(want))); err != io.EOF {
				t.Errorf("ReadAt(size) error = %v, want io.EOF", err)
			}
		})
	}

	t.Run("ReadFile limits", func(t *testing.T) {
		got, err := fsys.ReadFile("/app/big", 16)
		if err != nil || string(got) != "0123456789abcdef" {
			t.Errorf("ReadFile(big, 16) = %q, %v", got, err)
		}
		got, err = fsys.ReadFile("/app/small", 0)
		if err != nil || len(got) != 0 {
			t.Errorf("ReadFile(small, 0) = %q, %v", got, err)
		}
	})
	t.Run("through symlinks and hard links", func(t *testing.T) {
		for _, p := range []string{"/app/run", "/app/server.hard"} {
			got, err := fsys.ReadFile(p, 1<<20)
			if err != nil || string(got) != "SERVER-BINARY-CONTENT" {
				t.Errorf("ReadFile(%s) = %q, %v", p, got, err)
			}
		}
	})
	t.Run("directories are not files", func(t *testing.T) {
		for _, p := range []string{"/", "/app", "/lib", "/escape-dir"} {
			_, e, err := fsys.Open(p)
			if err == nil {
				t.Errorf("Open(%s) succeeded", p)
			}
			if e == nil || e.Type != tar.TypeDir {
				t.Errorf("Open(%s) entry = %+v, want the directory", p, e)
			}
		}
	})
}

func TestUnitFilesystemGNULongName(t *testing.T) {
	// GNU long names use an extra 'L' entry before the real header.
	long := fileE("opt/"+strings.Repeat("g", 150), "gnu long", 0o644)
	long.hdr.Format = tar.FormatGNU
	fsys := openTestFS(t, []tarEntry{
		dirE("opt/"),
		fileE("opt/before", "before", 0o644),
		long,
		fileE("opt/after", "after", 0o644),
	})
	for p, want := range map[string]string{
		"/opt/before":                      "before",
		"/opt/" + strings.Repeat("g", 150): "gnu long",
		"/opt/after":                       "after",
	} {
		got, err := fsys.ReadFile(p, 1<<20)
		if err != nil || string(got) != want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", p, got, err, want)
		}
	}
}

func TestUnitFilesystemWalk(t *testing.T) {
	entries := rootfsEntries()
	fsys := openTestFS(t, entries)

	var seen []string
	fsys.Walk(func(e *Entry) bool {
		seen = append(seen, e.Path)
		return true
	})
	if len(seen) != fsys.Len() {
		t.Errorf("Walk visited %d entries, Len = %d", len(seen), fsys.Len())
	}
	// Every tar entry and the root, once each.
	want := map[string]bool{"/": true}
	for _, e := range entries {
		want[filepath.Clean("/"+strings.TrimPrefix(e.hdr.Name, "./"))] = true
	}
	if len(seen) != len(want) {
		t.Errorf("Walk visited %d paths, want %d: %q", len(seen), len(want), seen)
	}
	for _, p := range seen {
		if !want[p] {
			t.Errorf("Walk visited %q, which is not in the tar", p)
		}
	}
	if len(seen) > 0 && seen[0] != "/" {
		t.Errorf("Walk starts at %q, want /", seen[0])
	}
	if !sort.StringsAreSorted(seen) {
		t.Errorf("Walk order is not sorted: %q", seen)
	}
	index := map[string]int{}
	for i, p := range seen {
		index[p] = i
	}
	for _, p := range seen {
		if parent := filepath.Dir(p); p != "/" && index[parent] > index[p] {
			t.Errorf("%s visited before its folder %s", p, parent)
		}
	}

	t.Run("stops when fn returns false", func(t *testing.T) {
		n := 0
		fsys.Walk(func(*Entry) bool {
			n++
			return n < 3
		})
		if n != 3 {
			t.Errorf("Walk called fn %d times after a false, want 3", n)
		}
	})
}

func TestUnitOpenFilesystemErrors(t *testing.T) {
	if _, err := OpenFilesystem(filepath.Join(t.TempDir(), "missing.tar")); err == nil {
		t.Error("OpenFilesystem of a missing file succeeded")
	}
	bad := filepath.Join(t.TempDir(), "bad.tar")
	// One block that is not a tar header (bad checksum).
	if err := os.WriteFile(bad, bytes.Repeat([]byte("x"), 512), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFilesystem(bad); err == nil {
		t.Error("OpenFilesystem of a corrupt tar succeeded")
	}
	// An empty file is an empty filesystem with only the root.
	empty := filepath.Join(t.TempDir(), "empty.tar")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fsys, err := OpenFilesystem(empty)
	if err != nil {
		t.Fatalf("OpenFilesystem(empty): %v", err)
	}
	defer fsys.Close()
	if fsys.Len() != 1 {
		t.Errorf("empty filesystem has %d entries, want 1 (the root)", fsys.Len())
	}
	if e, err := fsys.Resolve("/"); err != nil || e.Type != tar.TypeDir {
		t.Errorf("Resolve(/) on empty = %+v, %v", e, err)
	}
}
