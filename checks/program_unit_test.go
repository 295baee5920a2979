package checks

import (
	"bytes"
	"debug/elf"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/gradelab/grade/grader/session"
)

// programFS is an alpine-like image with the server in /app.
func programFS(t *testing.T) *session.Filesystem {
	return imageFS(t,
		exe("bin/busybox", []byte("BUSYBOX")),
		symlink("bin/sh", "/bin/busybox"),
		exe("app/server", []byte("SERVER")),
		symlink("app/link", "server"),
		dir("app/data/"),
		exe("usr/local/bin/tool", []byte("TOOL")),
		exe("usr/bin/other", []byte("OTHER")),
		exe("opt/bin/custom", []byte("CUSTOM")),
		symlink("usr/sbin/viasymlink", "/opt/bin/custom"),
		dir("opt/bin/asdir/"),
		dir("srv/"),
	)
}

func TestUnitResolveProgram(t *testing.T) {
	fsys := programFS(t)
	tests := []struct {
		name      string
		cfg       session.ImageConfig
		wantName  string
		wantPath  string
		wantShell bool
		wantErr   string // substring of the error; "" for none
		noCommand bool   // the error is errNoCommand
	}{
		{name: "relative against WORKDIR",
			cfg:      session.ImageConfig{Cmd: []string{"./server"}, WorkingDir: "/app"},
			wantName: "./server", wantPath: "/app/server"},
		{name: "relative with a trailing-slash WORKDIR",
			cfg:      session.ImageConfig{Cmd: []string{"./server"}, WorkingDir: "/app/"},
			wantName: "./server", wantPath: "/app/server"},
		{name: "relative with .. from another WORKDIR",
			cfg:      session.ImageConfig{Cmd: []string{"../app/server"}, WorkingDir: "/srv"},
			wantName: "../app/server", wantPath: "/app/server"},
		{name: "relative without WORKDIR is under /",
			cfg:      session.ImageConfig{Cmd: []string{"./server"}},
			wantName: "./server", wantPath: "/server", wantErr: "WORKDIR is /"},
		{name: "relative, missing",
			cfg:      session.ImageConfig{Cmd: []string{"./api"}, WorkingDir: "/app"},
			wantName: "./api", wantPath: "/app/api", wantErr: "/app/api does not exist in the image (WORKDIR is /app)"},
		{name: "relative, a directory",
			cfg:      session.ImageConfig{Cmd: []string{"./data"}, WorkingDir: "/app"},
			wantName: "./data", wantPath: "/app/data", wantErr: "is not a file"},
		{name: "relative symlink to the server",
			cfg:      session.ImageConfig{Cmd: []string{"./link"}, WorkingDir: "/app"},
			wantName: "./link", wantPath: "/app/link"},
		{name: "absolute",
			cfg:      session.ImageConfig{Cmd: []string{"/app/server", "--port", "8080"}},
			wantName: "/app/server", wantPath: "/app/server"},
		{name: "absolute ignores WORKDIR",
			cfg:      session.ImageConfig{Cmd: []string{"/app/server"}, WorkingDir: "/srv"},
			wantName: "/app/server", wantPath: "/app/server"},
		{name: "ENTRYPOINT then CMD",
			cfg:      session.ImageConfig{Entrypoint: []string{"./server"}, Cmd: []string{"--verbose"}, WorkingDir: "/app"},
			wantName: "./server", wantPath: "/app/server"},
		{name: "bare name, default PATH",
			cfg:      session.ImageConfig{Cmd: []string{"tool"}},
			wantName: "tool", wantPath: "/usr/local/bin/tool"},
		{name: "bare name, default PATH, later folder",
			cfg:      session.ImageConfig{Cmd: []string{"other"}},
			wantName: "other", wantPath: "/usr/bin/other"},
		{name: "bare name through a symlink in PATH",
			cfg:      session.ImageConfig{Cmd: []string{"viasymlink"}},
			wantName: "viasymlink", wantPath: "/usr/sbin/viasymlink"},
		{name: "bare name, image PATH",
			cfg:      session.ImageConfig{Cmd: []string{"custom"}, Env: []string{"HOME=/root", "PATH=/opt/bin:/usr/bin"}},
			wantName: "custom", wantPath: "/opt/bin/custom"},
		{name: "bare name, empty PATH entries skipped",
			cfg:      session.ImageConfig{Cmd: []string{"custom"}, Env: []string{"PATH=::/opt/bin:"}},
			wantName: "custom", wantPath: "/opt/bin/custom"},
		{name: "bare name not in the default PATH",
			cfg:      session.ImageConfig{Cmd: []string{"custom"}},
			wantName: "custom", wantErr: `"custom" is not in any PATH folder`},
		{name: "image PATH replaces the default",
			cfg:      session.ImageConfig{Cmd: []string{"tool"}, Env: []string{"PATH=/opt/bin"}},
			wantName: "tool", wantErr: "(/opt/bin)"},
		{name: "a directory in PATH is not the program",
			cfg:      session.ImageConfig{Cmd: []string{"asdir"}, Env: []string{"PATH=/opt/bin"}},
			wantName: "asdir", wantErr: "not in any PATH folder"},
		{name: "bare server in WORKDIR needs ./",
			cfg:      session.ImageConfig{Cmd: []string{"server"}, WorkingDir: "/app"},
			wantName: "server", wantErr: "needs ./server"},
		{name: "shell form with exec",
			cfg:      session.ImageConfig{Cmd: []string{"sh", "-c", "exec ./server"}, WorkingDir: "/app"},
			wantName: "./server", wantPath: "/app/server", wantShell: true},
		{name: "shell chain: cd then the server",
			cfg:      session.ImageConfig{Cmd: []string{"/bin/sh", "-c", "cd /app && env PORT=8080 ./server"}, WorkingDir: "/"},
			wantName: "./server", wantPath: "/app/server", wantShell: true},
		{name: "docker's shell form",
			cfg:      session.ImageConfig{Cmd: []string{"/bin/sh", "-c", "./server"}, WorkingDir: "/app"},
			wantName: "./server", wantPath: "/app/server", wantShell: true},
		{name: "shell form with variables and arguments",
			cfg:      session.ImageConfig{Cmd: []string{"/bin/sh", "-c", "PORT=8080 GIN_MODE=release exec ./server --port 8080"}, WorkingDir: "/app"},
			wantName: "./server", wantPath: "/app/server", wantShell: true},
		{name: "shell in ENTRYPOINT, script in CMD",
			cfg:      session.ImageConfig{Entrypoint: []string{"/bin/ash", "-c"}, Cmd: []string{"exec /app/server"}},
			wantName: "/app/server", wantPath: "/app/server", wantShell: true},
		{name: "shell form naming a missing program",
			cfg:      session.ImageConfig{Cmd: []string{"/bin/sh", "-c", "./api"}, WorkingDir: "/app"},
			wantName: "./api", wantPath: "/app/api", wantShell: true, wantErr: "does not exist"},
		{name: "shell without -c is the shell itself",
			cfg:      session.ImageConfig{Cmd: []string{"/bin/sh", "./start.sh"}},
			wantName: "/bin/sh", wantPath: "/bin/sh"},
		{name: "empty shell script is the shell itself",
			cfg:      session.ImageConfig{Cmd: []string{"/bin/sh", "-c", " "}},
			wantName: "/bin/sh", wantPath: "/bin/sh"},
		{name: "no CMD", cfg: session.ImageConfig{WorkingDir: "/app"}, noCommand: true},
		{name: "empty CMD and ENTRYPOINT", cfg: session.ImageConfig{Cmd: []string{}, Entrypoint: []string{}}, noCommand: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := image("amd64", tt.cfg)
			prog, err := resolveProgram(img, fsys)
			wantArgv := append(append([]string{}, tt.cfg.Entrypoint...), tt.cfg.Cmd...)
			if len(prog.Argv) != len(wantArgv) || (len(wantArgv) > 0 && !reflect.DeepEqual(prog.Argv, wantArgv)) {
				t.Errorf("Argv = %q, want %q", prog.Argv, wantArgv)
			}
			if tt.noCommand {
				if !errors.Is(err, errNoCommand) {
					t.Errorf("error = %v, want errNoCommand", err)
				}
				return
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("resolveProgram: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("resolveProgram = %+v, want an error with %q", prog, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if prog.Name != tt.wantName {
				t.Errorf("Name = %q, want %q", prog.Name, tt.wantName)
			}
			if (tt.wantErr == "" || tt.wantPath != "") && prog.Path != tt.wantPath {
				t.Errorf("Path = %q, want %q", prog.Path, tt.wantPath)
			}
			if prog.Shell != tt.wantShell {
				t.Errorf("Shell = %v, want %v", prog.Shell, tt.wantShell)
			}
		})
	}
}

func TestUnitLookPathDirect(t *testing.T) {
	fsys := programFS(t)
	img := image("amd64", session.ImageConfig{WorkingDir: "/app", Env: []string{"PATH=/usr/bin:/opt/bin"}})
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"./server", "/app/server", true},
		{"server", "", false},
		{"custom", "/opt/bin/custom", true},
		{"other", "/usr/bin/other", true},
		{"/usr/local/bin/tool", "/usr/local/bin/tool", true},
		{"tool", "", false},
		{"data/x", "/app/data/x", false},
	}
	for _, tt := range tests {
		got, err := lookPath(img, fsys, tt.name, img.Config.WorkingDir)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("lookPath(%q) = %q, %v; want %q, ok=%v", tt.name, got, err, tt.want, tt.ok)
		}
	}
}

func TestUnitIsShell(t *testing.T) {
	for in, want := range map[string]bool{
		"sh": true, "/bin/sh": true, "/bin/bash": true, "/bin/ash": true, "dash": true,
		"/usr/bin/zsh": false, "./server": false, "shell": false, "": false, "/bin/sh/": true,
	} {
		if got := isShell(in); got != want {
			t.Errorf("isShell(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestUnitReadBinary(t *testing.T) {
	tests := []struct {
		name          string
		kind          goBinaryKind
		machine       elf.Machine
		static        bool
		interp        string // substring of Interp; "" for none
		stripped      bool
		ldflags       string // the -ldflags build setting; "" for none
		describeHas   []string
		describeHasnt []string
	}{
		{name: "static amd64", kind: staticAMD64, machine: elf.EM_X86_64, static: true,
			describeHas: []string{"statically linked ELF x86-64", runtime.Version(), "CGO_ENABLED=0"}, describeHasnt: []string{"stripped", "-ldflags"}},
		{name: "static stripped amd64", kind: strippedAMD64, machine: elf.EM_X86_64, static: true, stripped: true, ldflags: "-w -s",
			describeHas: []string{"statically linked ELF x86-64", "CGO_ENABLED=0", "-ldflags=-w -s", "stripped"}},
		{name: "pie amd64", kind: pieAMD64, machine: elf.EM_X86_64, static: false, interp: "ld-linux-x86-64.so",
			describeHas: []string{"dynamically linked ELF x86-64"}},
		{name: "static arm64", kind: staticARM64, machine: elf.EM_AARCH64, static: true, stripped: true, ldflags: "-w -s",
			describeHas: []string{"statically linked ELF arm64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin, err := readBinary(bytes.NewReader(goBinary(t, tt.kind)))
			if err != nil {
				t.Fatalf("readBinary: %v", err)
			}
			if bin.Machine != tt.machine {
				t.Errorf("Machine = %v, want %v", bin.Machine, tt.machine)
			}
			if bin.Static() != tt.static {
				t.Errorf("Static = %v (interp %q, needed %q), want %v", bin.Static(), bin.Interp, bin.Needed, tt.static)
			}
			if (tt.interp == "" && bin.Interp != "") || (tt.interp != "" && !strings.Contains(bin.Interp, tt.interp)) {
				t.Errorf("Interp = %q, want %q", bin.Interp, tt.interp)
			}
			if strings.Contains(bin.Interp, "\x00") {
				t.Errorf("Interp %q keeps its NUL", bin.Interp)
			}
			if bin.Stripped != tt.stripped {
				t.Errorf("Stripped = %v, want %v", bin.Stripped, tt.stripped)
			}
			if bin.Go == nil {
				t.Fatal("no Go build information")
			}
			if bin.Go.GoVersion != runtime.Version() {
				t.Errorf("GoVersion = %q, want %q", bin.Go.GoVersion, runtime.Version())
			}
			if v, ok := bin.Setting("CGO_ENABLED"); !ok || v != "0" {
				t.Errorf("CGO_ENABLED = %q, %v", v, ok)
			}
			if v, ok := bin.Setting("GOARCH"); !ok || v != tt.kind.goarch {
				t.Errorf("GOARCH = %q, %v; want %s", v, ok, tt.kind.goarch)
			}
			if v, ok := bin.Setting("-ldflags"); v != tt.ldflags || ok != (tt.ldflags != "") {
				t.Errorf("-ldflags = %q, %v; want %q", v, ok, tt.ldflags)
			}
			if _, ok := bin.Setting("no-such-setting"); ok {
				t.Error("Setting finds a setting that does not exist")
			}
			d := bin.Describe()
			for _, s := range tt.describeHas {
				if !strings.Contains(d, s) {
					t.Errorf("Describe() = %q, missing %q", d, s)
				}
			}
			for _, s := range tt.describeHasnt {
				if strings.Contains(d, s) {
					t.Errorf("Describe() = %q, should not contain %q", d, s)
				}
			}
		})
	}

	notELF := []struct {
		name string
		data []byte
	}{
		{"shell script", []byte(testdata(t, "server.sh"))},
		{"empty", nil},
		{"ELF magic only", []byte("\x7fELF")},
		{"text", []byte("hello world, this is not a program\n")},
	}
	for _, tt := range notELF {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readBinary(bytes.NewReader(tt.data))
			if !errors.Is(err, errNotELF) {
				t.Errorf("readBinary = %v, want errNotELF", err)
			}
		})
	}
}

func TestUnitBinaryWithoutGoInfo(t *testing.T) {
	b := binary{Machine: elf.EM_ARM, Interp: "/lib/ld-musl-armhf.so.1", Needed: []string{"libc.musl-armhf.so.1"}}
	if b.Static() {
		t.Error("a binary with a loader is static")
	}
	if _, ok := b.Setting("CGO_ENABLED"); ok {
		t.Error("Setting without Go build information found something")
	}
	if got, want := b.Describe(), "dynamically linked ELF arm"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	if (binary{Needed: []string{"libc.so.6"}}).Static() {
		t.Error("a binary with DT_NEEDED is static")
	}
	if got := (binary{Machine: elf.EM_RISCV}).Describe(); got != "statically linked ELF RISCV" {
		t.Errorf("Describe() for RISC-V = %q", got)
	}
}

func TestUnitImageArch(t *testing.T) {
	for arch, want := range map[string]elf.Machine{
		"amd64": elf.EM_X86_64, "": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	} {
		if got := imageArch(&session.Image{Architecture: arch}); got != want {
			t.Errorf("imageArch(%q) = %v, want %v", arch, got, want)
		}
	}
}
