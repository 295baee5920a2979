package checks

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gradelab/grade/grader/session"
)

// fsEntry is one path of a test image filesystem (see dir, file, exe, symlink, hardlink).
type fsEntry struct {
	name     string // as in `docker export`: relative, e.g. "app/server"
	typ      byte
	mode     int64
	body     []byte
	linkname string
}

func dir(name string) fsEntry { return fsEntry{name: name, typ: tar.TypeDir, mode: 0o755} }
func file(name, body string) fsEntry {
	return fsEntry{name: name, typ: tar.TypeReg, mode: 0o644, body: []byte(body)}
}
func exe(name string, body []byte) fsEntry {
	return fsEntry{name: name, typ: tar.TypeReg, mode: 0o755, body: body}
}
func symlink(name, target string) fsEntry {
	return fsEntry{name: name, typ: tar.TypeSymlink, mode: 0o777, linkname: target}
}
func hardlink(name, target string) fsEntry {
	return fsEntry{name: name, typ: tar.TypeLink, mode: 0o644, linkname: target}
}

// imageFS writes entries (with their parent folders added) as a flat tar in
// a temporary folder and opens it as an image filesystem.
func imageFS(t *testing.T, entries ...fsEntry) *session.Filesystem {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rootfs.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	written := map[string]bool{}
	var parents func(name string)
	parents = func(name string) {
		d := filepath.Dir(strings.TrimSuffix(name, "/"))
		if d == "." || d == "/" || written[d] {
			return
		}
		parents(d)
		written[d] = true
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range entries {
		parents(e.name)
		if e.typ == tar.TypeDir {
			if written[strings.TrimSuffix(e.name, "/")] {
				continue
			}
			written[strings.TrimSuffix(e.name, "/")] = true
		}
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), Linkname: e.linkname}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fsys, err := session.OpenFilesystem(p)
	if err != nil {
		t.Fatalf("OpenFilesystem: %v", err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "image", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goBinaryKind names a way to build the test program.
type goBinaryKind struct {
	goarch    string
	buildmode string // "" or "pie"
	ldflags   string
}

var (
	staticAMD64   = goBinaryKind{goarch: "amd64"}
	strippedAMD64 = goBinaryKind{goarch: "amd64", ldflags: "-w -s"}
	pieAMD64      = goBinaryKind{goarch: "amd64", buildmode: "pie"}
	staticARM64   = goBinaryKind{goarch: "arm64", ldflags: "-w -s"}
)

var (
	goBinMu    sync.Mutex
	goBinCache = map[goBinaryKind][]byte{}
)

// goBinary compiles testdata/image/main.go.txt with the host's go command
// (CGO_ENABLED=0, GOOS=linux) and returns the executable's bytes. Results
// are cached for the test binary's lifetime.
func goBinary(t *testing.T, k goBinaryKind) []byte {
	t.Helper()
	goBinMu.Lock()
	defer goBinMu.Unlock()
	if b, ok := goBinCache[k]; ok {
		return b
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build test binaries: %v", err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/tinyserver\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(testdata(t, "main.go.txt")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(src, "server")
	args := []string{"build", "-o", out} // no -trimpath: it drops -ldflags from the build information
	if k.buildmode != "" {
		args = append(args, "-buildmode="+k.buildmode)
	}
	if k.ldflags != "" {
		args = append(args, "-ldflags="+k.ldflags)
	}
	cmd := exec.Command(goCmd, append(args, ".")...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+k.goarch,
		"GOFLAGS=-buildvcs=false", "GOWORK=off", "GOTOOLCHAIN=local", "GOPROXY=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", k, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	goBinCache[k] = b
	return b
}

// image is a test image with the given configuration.
func image(arch string, cfg session.ImageConfig) *session.Image {
	return &session.Image{ID: "sha256:0123456789abcdef", Architecture: arch, OS: "linux", Config: cfg}
}

// TestUnitImageFSHelper checks the helper itself: parents are added once.
func TestUnitImageFSHelper(t *testing.T) {
	fsys := imageFS(t, dir("app/"), file("app/x/y.txt", "y"), symlink("app/z", "x/y.txt"))
	for _, p := range []string{"/app", "/app/x", "/app/x/y.txt", "/app/z"} {
		if _, ok := fsys.Lstat(p); !ok {
			t.Errorf("%s missing", p)
		}
	}
	if fsys.Len() != 5 { // the root, /app, /app/x, y.txt, z
		t.Errorf("Len = %d, want 5", fsys.Len())
	}
	if got, err := fsys.ReadFile("/app/z", 10); err != nil || string(got) != "y" {
		t.Errorf("ReadFile(/app/z) = %q, %v", got, err)
	}
}
