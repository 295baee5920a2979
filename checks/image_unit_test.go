package checks

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/session"
)

// wantOutcome checks an outcome's status and words in its message and hint.
func wantOutcome(t *testing.T, got grader.Outcome, status grader.Status, msgHas []string, hintHas ...string) {
	t.Helper()
	if got.Status != status {
		t.Errorf("status = %s, want %s (message %q)", got.Status, status, got.Message)
	}
	for _, s := range msgHas {
		if !strings.Contains(got.Message, s) {
			t.Errorf("message %q does not contain %q", got.Message, s)
		}
	}
	for _, s := range hintHas {
		if !strings.Contains(got.Hint, s) {
			t.Errorf("hint %q does not contain %q", got.Hint, s)
		}
	}
	if status == grader.StatusFail && got.Hint == "" {
		t.Error("a failure without a hint")
	}
	if status == grader.StatusPass && got.Hint != "" {
		t.Errorf("a pass with a hint %q", got.Hint)
	}
}

func TestUnitJudgeSize(t *testing.T) {
	const limit = 20_000_000
	alpineLayers := []session.Layer{
		{CreatedBy: "ADD file:5851aef23205a072ef361dd412a73a39a1c21d2d8b1ed6a7e3fd0cc0cde2a6c1 in /", SizeBytes: 7_340_000},
		{CreatedBy: "RUN adduser -D -u 1000 appuser", SizeBytes: 4_700},
		{CreatedBy: "COPY /app/server . # buildkit", SizeBytes: 6_000_000},
	}
	golangLayers := []session.Layer{
		{CreatedBy: "ADD file:aa in /", SizeBytes: 74_800_000},
		{CreatedBy: "RUN set -eux; apt-get update; apt-get install -y --no-install-recommends g++ gcc libc6-dev make pkg-config", SizeBytes: 183_000_000},
		{CreatedBy: "RUN set -eux; url=https://dl.google.com/go/go1.21.13.linux-amd64.tar.gz; wget -O go.tgz.asc \"$url.asc\"; wget -O go.tgz \"$url\" --progress=dot:giga; tar -C /usr/local -xzf go.tgz", SizeBytes: 223_000_000},
		{CreatedBy: "COPY . .", SizeBytes: 9_000},
		{CreatedBy: "RUN go build -o server .", SizeBytes: 7_600_000},
	}
	tests := []struct {
		name     string
		size     int64
		layers   []session.Layer
		status   grader.Status
		msgHas   []string
		msgHasnt []string
	}{
		{name: "well under", size: 13_344_700, layers: alpineLayers, status: grader.StatusPass,
			msgHas: []string{"13.3 MB", "13344700 bytes", "limit 20 MB"}, msgHasnt: []string{"largest"}},
		{name: "exactly at the limit", size: limit, layers: alpineLayers, status: grader.StatusPass,
			msgHas: []string{"20 MB", "20000000 bytes"}},
		{name: "one byte over", size: limit + 1, layers: alpineLayers, status: grader.StatusFail,
			msgHas: []string{"20000001 bytes", "limit 20 MB", "the largest layer adds 7.34 MB: ADD file:"}},
		{name: "the fat golang image", size: 488_409_000, layers: golangLayers, status: grader.StatusFail,
			msgHas: []string{"488 MB", "the largest layer adds 223 MB: RUN set -eux; url=https://dl.google.com/go/", "…"}},
		{name: "over without layers", size: 30_000_000, status: grader.StatusFail,
			msgHas: []string{"30 MB"}, msgHasnt: []string{"largest"}},
		{name: "empty image", size: 0, status: grader.StatusPass, msgHas: []string{"0 B (0 bytes)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := &session.Image{SizeBytes: tt.size, Layers: tt.layers}
			got := judgeSize(img, limit)
			wantOutcome(t, got, tt.status, tt.msgHas)
			for _, s := range tt.msgHasnt {
				if strings.Contains(got.Message, s) {
					t.Errorf("message %q should not contain %q", got.Message, s)
				}
			}
			if tt.status == grader.StatusFail && !strings.Contains(got.Hint, "COPY --from=builder") {
				t.Errorf("hint %q does not tell to copy from the builder", got.Hint)
			}
		})
	}
	t.Run("the limit is the lab's", func(t *testing.T) {
		if Multistage.SizeLimit != limit {
			t.Errorf("SizeLimit = %d, want %d (20 MB, decimal)", Multistage.SizeLimit, limit)
		}
	})
}

func TestUnitJudgeToolchain(t *testing.T) {
	goBin := []byte("\x7fELF fake go tool")
	tests := []struct {
		name     string
		entries  []fsEntry
		status   grader.Status
		msgHas   []string
		msgHasnt []string
	}{
		{name: "clean alpine image",
			entries: []fsEntry{exe("bin/busybox", []byte("bb")), symlink("bin/sh", "busybox"),
				file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), exe("app/server", []byte("srv"))},
			status: grader.StatusPass, msgHas: []string{"no Go toolchain and no *.go files among 8 paths"}},
		{name: "golang base with sources",
			entries: []fsEntry{
				exe("usr/local/go/bin/go", goBin), exe("usr/local/go/bin/gofmt", goBin),
				file("usr/local/go/src/fmt/print.go", "package fmt"),
				file("app/main.go", "package main"), exe("app/server", []byte("srv")),
			},
			status: grader.StatusFail,
			msgHas: []string{"Go toolchain at /usr/local/go", "1 Go source file(s): /app/main.go"},
			// Files under /usr/local/go are reported as the toolchain folder, not one by one.
			msgHasnt: []string{"/usr/local/go/bin/go", "print.go"}},
		{name: "go binary outside /usr/local/go",
			entries: []fsEntry{exe("usr/bin/go", goBin), exe("usr/lib/go-1.21/bin/gofmt", goBin)},
			status:  grader.StatusFail, msgHas: []string{"Go toolchain at /usr/bin/go, /usr/lib/go-1.21/bin/gofmt"},
			msgHasnt: []string{"source file"}},
		{name: "only sources",
			entries: []fsEntry{file("app/main.go", "package main"), file("app/handlers.go", "package main"),
				file("app/go.mod", "module go-api")},
			status: grader.StatusFail, msgHas: []string{"2 Go source file(s): /app/handlers.go, /app/main.go"},
			msgHasnt: []string{"toolchain", "go.mod"}},
		{name: "many sources are listed in part",
			entries: []fsEntry{file("src/a.go", ""), file("src/b.go", ""), file("src/c.go", ""), file("src/d.go", ""),
				file("src/e.go", ""), file("src/f.go", ""), file("src/g.go", "")},
			status: grader.StatusFail, msgHas: []string{"7 Go source file(s): /src/a.go, /src/b.go, /src/c.go, /src/d.go, /src/e.go and 2 more"},
			msgHasnt: []string{"/src/f.go"}},
		{name: "a hard-linked source counts",
			entries: []fsEntry{file("app/main.go", "package main"), hardlink("app/copy.go", "app/main.go")},
			status:  grader.StatusFail, msgHas: []string{"2 Go source file(s)", "/app/copy.go"}},
		{name: "non-executable file named go, symlinks and folders named *.go",
			entries: []fsEntry{file("app/go", "data"), symlink("app/link.go", "/etc/passwd"),
				dir("app/pkg.go/"), file("docs/golang.txt", "x"), exe("bin/gopher", []byte("x"))},
			status: grader.StatusPass},
		{name: "an empty /usr/local/go is the toolchain folder",
			entries: []fsEntry{dir("usr/local/go/")},
			status:  grader.StatusFail, msgHas: []string{"Go toolchain at /usr/local/go"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judgeToolchain(imageFS(t, tt.entries...))
			wantOutcome(t, got, tt.status, tt.msgHas)
			for _, s := range tt.msgHasnt {
				if strings.Contains(got.Message, s) {
					t.Errorf("message %q should not contain %q", got.Message, s)
				}
			}
			if tt.status == grader.StatusFail && !strings.Contains(got.Hint, "COPY --from=builder") {
				t.Errorf("hint %q", got.Hint)
			}
		})
	}
}

func TestUnitResolveUser(t *testing.T) {
	alpine := imageFS(t, file("etc/passwd", testdata(t, "passwd")), exe("app/server", []byte("x")))
	scratch := imageFS(t, exe("server", []byte("x")))
	linked := imageFS(t, file("usr/share/passwd", "svc:x:4242:4242::/:/bin/false\n"), symlink("etc/passwd", "../usr/share/passwd"))
	tests := []struct {
		name  string
		spec  string
		fsys  *session.Filesystem
		uid   int
		known bool
		via   string
		uname string
		str   string
	}{
		{name: "no USER", spec: "", fsys: alpine, uid: 0, known: true, via: "default", str: "no USER (root, UID 0)"},
		{name: "no USER on scratch", spec: "", fsys: scratch, uid: 0, known: true, via: "default"},
		{name: "numeric", spec: "1000", fsys: scratch, uid: 1000, known: true, via: "numeric", uname: "1000", str: "USER 1000 (UID 1000)"},
		{name: "numeric with group", spec: "1000:1000", fsys: scratch, uid: 1000, known: true, via: "numeric", uname: "1000", str: "USER 1000:1000 (UID 1000)"},
		{name: "nobody numeric on scratch", spec: "65534:65534", fsys: scratch, uid: 65534, known: true, via: "numeric", uname: "65534"},
		{name: "numeric 0", spec: "0", fsys: scratch, uid: 0, known: true, via: "numeric", uname: "0"},
		{name: "name in /etc/passwd", spec: "appuser", fsys: alpine, uid: 1000, known: true, via: "/etc/passwd", uname: "appuser", str: "USER appuser (UID 1000 in /etc/passwd)"},
		{name: "name with group", spec: "appuser:appgroup", fsys: alpine, uid: 1000, known: true, via: "/etc/passwd", uname: "appuser"},
		{name: "nobody by name", spec: "nobody", fsys: alpine, uid: 65534, known: true, via: "/etc/passwd", uname: "nobody"},
		{name: "root by name", spec: "root", fsys: alpine, uid: 0, known: true, via: "/etc/passwd", uname: "root", str: "USER root (UID 0 in /etc/passwd)"},
		{name: "unknown name", spec: "ghost", fsys: alpine, known: false, uname: "ghost", str: "USER ghost (not in the image's /etc/passwd)"},
		{name: "a prefix of a name is not the name", spec: "app", fsys: alpine, known: false, uname: "app"},
		{name: "a passwd line with a bad UID", spec: "broken", fsys: alpine, known: false, uname: "broken"},
		{name: "name on scratch (no passwd)", spec: "appuser", fsys: scratch, known: false, uname: "appuser"},
		{name: "root on scratch (no passwd)", spec: "root", fsys: scratch, known: false, uname: "root"},
		{name: "passwd through a symlink", spec: "svc", fsys: linked, uid: 4242, known: true, via: "/etc/passwd", uname: "svc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := resolveUser(tt.spec, tt.fsys)
			if u.Spec != tt.spec || u.Name != tt.uname || u.Known != tt.known || u.Via != tt.via {
				t.Errorf("resolveUser(%q) = %+v; want name %q known %v via %q", tt.spec, u, tt.uname, tt.known, tt.via)
			}
			if tt.known && u.UID != tt.uid {
				t.Errorf("UID = %d, want %d", u.UID, tt.uid)
			}
			if tt.str != "" && u.String() != tt.str {
				t.Errorf("String() = %q, want %q", u.String(), tt.str)
			}
		})
	}
}

func TestUnitJudgeImageUser(t *testing.T) {
	alpine := imageFS(t, file("etc/passwd", testdata(t, "passwd")))
	scratch := imageFS(t, exe("server", []byte("x")))
	tests := []struct {
		name    string
		user    string
		fsys    *session.Filesystem
		status  grader.Status
		msgHas  []string
		hintHas string
	}{
		{"no USER", "", alpine, grader.StatusFail, []string{"no USER", "root (UID 0)"}, "USER appuser"},
		{"USER root", "root", alpine, grader.StatusFail, []string{"USER root", "is root"}, "unprivileged"},
		{"USER 0", "0", scratch, grader.StatusFail, []string{"UID 0", "is root"}, "unprivileged"},
		{"USER 0:0", "0:0", alpine, grader.StatusFail, []string{"is root"}, ""},
		{"USER appuser", "appuser", alpine, grader.StatusPass, []string{"USER appuser (UID 1000 in /etc/passwd)"}, ""},
		{"USER 1000:1000", "1000:1000", alpine, grader.StatusPass, []string{"UID 1000"}, ""},
		{"numeric on scratch", "65534:65534", scratch, grader.StatusPass, []string{"UID 65534"}, ""},
		{"unknown name", "ghost", alpine, grader.StatusFail, []string{"USER ghost is unknown", `"ghost"`}, "adduser"},
		{"name on scratch", "appuser", scratch, grader.StatusFail, []string{"unknown"}, "numeric USER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := image("amd64", session.ImageConfig{User: tt.user})
			var hints []string
			if tt.hintHas != "" {
				hints = []string{tt.hintHas}
			}
			wantOutcome(t, judgeImageUser(img, tt.fsys), tt.status, tt.msgHas, hints...)
		})
	}
}

func TestUnitJudgeStatic(t *testing.T) {
	static := goBinary(t, strippedAMD64)
	pie := goBinary(t, pieAMD64)
	arm := goBinary(t, staticARM64)
	script := []byte(testdata(t, "server.sh"))
	app := session.ImageConfig{Cmd: []string{"./server"}, WorkingDir: "/app"}

	tests := []struct {
		name     string
		arch     string
		cfg      session.ImageConfig
		entries  []fsEntry
		status   grader.Status
		msgHas   []string
		msgHasnt []string
		hintHas  string
	}{
		{name: "static binary on alpine", arch: "amd64", cfg: app,
			entries: []fsEntry{exe("app/server", static), exe("lib/ld-musl-x86_64.so.1", []byte("musl"))},
			status:  grader.StatusPass,
			msgHas:  []string{"/app/server: statically linked ELF x86-64", "CGO_ENABLED=0", "-ldflags=-w -s", "stripped"}},
		{name: "static binary on scratch via PATH", arch: "amd64",
			cfg:     session.ImageConfig{Cmd: []string{"server"}, Env: []string{"PATH=/"}},
			entries: []fsEntry{exe("server", static)},
			status:  grader.StatusPass, msgHas: []string{"/server: statically linked"}},
		{name: "static binary through a shell", arch: "amd64",
			cfg:     session.ImageConfig{Cmd: []string{"/bin/sh", "-c", "exec ./server"}, WorkingDir: "/app"},
			entries: []fsEntry{exe("app/server", static), exe("bin/sh", []byte("#!fake"))},
			status:  grader.StatusPass, msgHas: []string{"/app/server: statically linked"}},
		{name: "static binary through a symlink", arch: "amd64",
			cfg:     session.ImageConfig{Cmd: []string{"/usr/local/bin/server"}},
			entries: []fsEntry{exe("app/server", static), symlink("usr/local/bin/server", "/app/server")},
			status:  grader.StatusPass},
		{name: "dynamic binary without its loader", arch: "amd64", cfg: app,
			entries: []fsEntry{exe("app/server", pie)},
			status:  grader.StatusFail,
			msgHas:  []string{"dynamically linked ELF x86-64", "it needs /lib64/ld-linux-x86-64.so.2", "missing in the image", "no such file or directory"},
			hintHas: "CGO_ENABLED=0"},
		{name: "dynamic binary with its loader", arch: "amd64", cfg: app,
			entries:  []fsEntry{exe("app/server", pie), exe("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", []byte("ld")), symlink("lib64", "lib/x86_64-linux-gnu")},
			status:   grader.StatusFail,
			msgHas:   []string{"it needs /lib64/ld-linux-x86-64.so.2"},
			msgHasnt: []string{"missing in the image"}},
		{name: "arm64 binary in an amd64 image", arch: "amd64", cfg: app,
			entries: []fsEntry{exe("app/server", arm)},
			status:  grader.StatusFail,
			msgHas:  []string{"statically linked ELF arm64", "the image is linux/amd64", "exec format error"},
			hintHas: "GOARCH"},
		{name: "arm64 binary in an arm64 image", arch: "arm64", cfg: app,
			entries: []fsEntry{exe("app/server", arm)},
			status:  grader.StatusPass, msgHas: []string{"statically linked ELF arm64"}},
		{name: "amd64 binary in an arm64 image", arch: "arm64", cfg: app,
			entries: []fsEntry{exe("app/server", static)},
			status:  grader.StatusFail, msgHas: []string{"linux/arm64", "exec format error"}},
		{name: "a shell script", arch: "amd64", cfg: app,
			entries: []fsEntry{exe("app/server", script)},
			status:  grader.StatusFail, msgHas: []string{`/app/server (run by ["./server"]) is not an ELF executable`}},
		{name: "no CMD", arch: "amd64", cfg: session.ImageConfig{WorkingDir: "/app"},
			entries: []fsEntry{exe("app/server", static)},
			status:  grader.StatusFail, msgHas: []string{"no CMD or ENTRYPOINT"}, hintHas: `CMD ["./server"]`},
		{name: "CMD path not found", arch: "amd64", cfg: session.ImageConfig{Cmd: []string{"./server"}},
			entries: []fsEntry{exe("app/server", static)},
			status:  grader.StatusFail, msgHas: []string{"CMD path not found", `["./server"]`, "/server does not exist", "WORKDIR is /"},
			hintHas: "WORKDIR /app"},
		{name: "program is a folder", arch: "amd64", cfg: app,
			entries: []fsEntry{dir("app/server/")},
			status:  grader.StatusFail, msgHas: []string{"CMD path not found", "not a file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := image(tt.arch, tt.cfg)
			got := judgeStatic(img, imageFS(t, tt.entries...))
			var hints []string
			if tt.hintHas != "" {
				hints = []string{tt.hintHas}
			}
			wantOutcome(t, got, tt.status, tt.msgHas, hints...)
			for _, s := range tt.msgHasnt {
				if strings.Contains(got.Message, s) {
					t.Errorf("message %q should not contain %q", got.Message, s)
				}
			}
		})
	}
}

func TestUnitBuildFailure(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		status  grader.Status
		msgHas  []string
		hintHas string
	}{
		{name: "compiler error",
			err: &session.BuildError{Err: errors.New("build image: The command '/bin/sh -c go build -o server .' returned a non-zero code: 1"),
				Step: "RUN go build -o server .", Output: []string{"# go-api", "./main.go:49:2: undefined: undefinedThing"}},
			status:  grader.StatusFail,
			msgHas:  []string{"the build failed at RUN go build -o server .", "returned a non-zero code: 1", "\n./main.go:49:2: undefined: undefinedThing"},
			hintHas: "does not compile"},
		{name: "missing COPY source",
			err:     &session.BuildError{Err: errors.New("Error response from daemon: COPY failed: stat app/server: file does not exist"), Step: "COPY --from=builder /app/server ."},
			status:  grader.StatusFail,
			msgHas:  []string{"COPY failed"},
			hintHas: "COPY source does not exist"},
		{name: "unknown stage",
			err:     &session.BuildError{Err: errors.New("invalid from flag value buildr: pull access denied for buildr")},
			status:  grader.StatusFail,
			msgHas:  []string{"the build failed: invalid from flag value"},
			hintHas: "COPY --from must name an earlier stage"},
		{name: "timeout",
			err:     &session.BuildError{Err: errors.New("context deadline exceeded"), TimedOut: true, Timeout: 5 * time.Minute, Step: "RUN ./server"},
			status:  grader.StatusFail,
			msgHas:  []string{"did not finish within 5m0s", "it was running: RUN ./server"},
			hintHas: "start the server with CMD"},
		{name: "environment error",
			err:    session.Environment(errors.New("the Docker Engine failed during the build: connection refused"), "start Docker"),
			status: grader.StatusError, msgHas: []string{"connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hints []string
			if tt.hintHas != "" {
				hints = []string{tt.hintHas}
			}
			wantOutcome(t, buildFailure("Dockerfile.multistage", tt.err), tt.status, tt.msgHas, hints...)
		})
	}
}

func TestUnitSmallHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"sha256:4543478e3610aa00bb": "4543478e3610",
		"4543478e3610":              "4543478e3610",
		"abc":                       "abc",
	} {
		if got := shortID(in); got != want {
			t.Errorf("shortID(%q) = %q, want %q", in, got, want)
		}
	}
	if got := shorten("RUN  go\n\tbuild   -o server .", 90); got != "RUN go build -o server ." {
		t.Errorf("shorten collapses spaces: %q", got)
	}
	long := strings.Repeat("x", 100)
	if got := shorten(long, 10); got != strings.Repeat("x", 9)+"…" {
		t.Errorf("shorten(100 x, 10) = %q", got)
	}
	if got := shorten(strings.Repeat("y", 10), 10); got != strings.Repeat("y", 10) {
		t.Errorf("shorten of exactly n = %q", got)
	}
	items := []string{"a", "b", "c"}
	for n, want := range map[int]string{3: "a, b, c", 5: "a, b, c", 2: "a, b and 1 more", 1: "a and 2 more"} {
		if got := listSome(items, n); got != want {
			t.Errorf("listSome(%d) = %q, want %q", n, got, want)
		}
	}
	if got := quoteArgv([]string{"/bin/sh", "-c", `echo "hi"`}); got != `["/bin/sh", "-c", "echo \"hi\""]` {
		t.Errorf("quoteArgv = %s", got)
	}
	if got := quoteArgv(nil); got != "[]" {
		t.Errorf("quoteArgv(nil) = %s", got)
	}
}
