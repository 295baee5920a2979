package checks

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/gradelab/grade/grader/session"
)

// defaultPath is the PATH the engine uses when the image sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// program is what ENTRYPOINT/CMD runs, resolved inside the image.
type program struct {
	Argv []string // ENTRYPOINT + CMD as the image has them
	// Name is the program as written (argv[0], or the first word after
	// `sh -c` when the image runs a shell), Path where it resolves to.
	Name  string
	Path  string
	Shell bool // the image runs the program through `sh -c`
}

// errNoCommand: the image has neither ENTRYPOINT nor CMD.
var errNoCommand = errors.New("the image has no CMD or ENTRYPOINT")

// resolveProgram finds the file ENTRYPOINT/CMD runs, the way the engine
// does: a name with a slash is relative to WORKDIR, a bare name is looked up
// in the image's PATH. A shell form (`sh -c "./server"`) is followed to its
// first command.
func resolveProgram(img *session.Image, fsys *session.Filesystem) (program, error) {
	argv := append(append([]string{}, img.Config.Entrypoint...), img.Config.Cmd...)
	prog := program{Argv: argv}
	if len(argv) == 0 {
		return prog, errNoCommand
	}
	prog.Name = argv[0]
	workdir := img.Config.WorkingDir
	if isShell(argv[0]) && len(argv) >= 3 && argv[1] == "-c" {
		if name, dir, ok := shellProgram(argv[2], workdir); ok {
			prog.Name, prog.Shell, workdir = name, true, dir
		}
	}
	p, err := lookPath(img, fsys, prog.Name, workdir)
	prog.Path = p
	return prog, err
}

// shellProgram finds the program a `sh -c` script ends up running: the last
// command of a `cd DIR && … ; …` chain, past `exec`, `env` and VAR=value
// words, with the folder the `cd`s lead to.
func shellProgram(script, workdir string) (name, dir string, ok bool) {
	dir = workdir
	for _, seg := range strings.FieldsFunc(script, func(r rune) bool { return r == ';' || r == '&' || r == '|' || r == '\n' }) {
		words := strings.Fields(seg)
		for len(words) > 0 && (words[0] == "exec" || words[0] == "env" || strings.Contains(words[0], "=")) {
			words = words[1:]
		}
		if len(words) == 0 || words[0] == "set" {
			continue
		}
		if words[0] == "cd" {
			if len(words) > 1 {
				if path.IsAbs(words[1]) {
					dir = words[1]
				} else {
					dir = path.Join(dir, words[1])
				}
			}
			continue
		}
		name, ok = words[0], true
	}
	return name, dir, ok
}

func isShell(s string) bool {
	switch path.Base(s) {
	case "sh", "bash", "ash", "dash":
		return true
	}
	return false
}

// lookPath resolves name against workdir and PATH inside the image.
func lookPath(img *session.Image, fsys *session.Filesystem, name, workdir string) (string, error) {
	if workdir == "" {
		workdir = "/"
	}
	if strings.Contains(name, "/") {
		p := name
		if !path.IsAbs(p) {
			p = path.Join(workdir, p)
		}
		e, err := fsys.Resolve(p)
		if err != nil {
			return p, fmt.Errorf("%s does not exist in the image (WORKDIR is %s)", p, workdir)
		}
		if !e.IsRegular() {
			return p, fmt.Errorf("%s is not a file in the image", p)
		}
		return p, nil
	}
	pathVar, ok := img.Config.EnvValue("PATH")
	if !ok {
		pathVar = defaultPath
	}
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			continue
		}
		p := path.Join(dir, name)
		if e, err := fsys.Resolve(p); err == nil && e.IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q is not in any PATH folder of the image (%s) — a program in WORKDIR needs ./%s", name, pathVar, name)
}

// binary is what the ELF headers and Go build information of a program say.
type binary struct {
	Machine  elf.Machine
	Interp   string   // PT_INTERP: the dynamic loader it needs, "" when static
	Needed   []string // DT_NEEDED shared libraries
	Stripped bool
	Go       *buildinfo.BuildInfo // nil for a non-Go binary
}

// Static reports whether the binary needs no loader and no shared library.
func (b binary) Static() bool { return b.Interp == "" && len(b.Needed) == 0 }

// Setting returns a Go build setting such as CGO_ENABLED or -ldflags.
func (b binary) Setting(key string) (string, bool) {
	if b.Go == nil {
		return "", false
	}
	for _, s := range b.Go.Settings {
		if s.Key == key {
			return s.Value, true
		}
	}
	return "", false
}

// Describe is a one-line summary of the evidence, e.g.
// "static ELF x86-64, go1.21.13, CGO_ENABLED=0, -ldflags=-w -s, stripped".
func (b binary) Describe() string {
	kind := "statically linked"
	if !b.Static() {
		kind = "dynamically linked"
	}
	parts := []string{fmt.Sprintf("%s ELF %s", kind, machineName(b.Machine))}
	if b.Go != nil {
		parts = append(parts, b.Go.GoVersion)
		if v, ok := b.Setting("CGO_ENABLED"); ok {
			parts = append(parts, "CGO_ENABLED="+v)
		}
		if v, ok := b.Setting("-ldflags"); ok {
			parts = append(parts, "-ldflags="+v)
		}
	}
	if b.Stripped {
		parts = append(parts, "stripped")
	}
	return strings.Join(parts, ", ")
}

func machineName(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86-64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_386:
		return "386"
	case elf.EM_ARM:
		return "arm"
	}
	return strings.TrimPrefix(m.String(), "EM_")
}

// errNotELF: the program is not an ELF executable (e.g. a script).
var errNotELF = errors.New("not an ELF executable")

// readBinary reads the ELF headers and Go build information of r.
func readBinary(r io.ReaderAt) (binary, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return binary{}, errNotELF
	}
	defer f.Close()
	b := binary{Machine: f.Machine}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			data, err := io.ReadAll(p.Open())
			if err == nil {
				b.Interp = strings.TrimRight(string(data), "\x00")
			}
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil {
		b.Needed = libs
	}
	b.Stripped = f.Section(".symtab") == nil
	if bi, err := buildinfo.Read(r); err == nil {
		b.Go = bi
	}
	return b, nil
}

// programBinary resolves and reads the image's program.
func programBinary(img *session.Image, fsys *session.Filesystem) (program, binary, error) {
	prog, err := resolveProgram(img, fsys)
	if err != nil {
		return prog, binary{}, err
	}
	r, _, err := fsys.Open(prog.Path)
	if err != nil {
		return prog, binary{}, err
	}
	b, err := readBinary(r)
	return prog, b, err
}

// imageArch is the ELF machine the image's platform expects.
func imageArch(img *session.Image) elf.Machine {
	switch img.Architecture {
	case "arm64":
		return elf.EM_AARCH64
	case "386":
		return elf.EM_386
	case "arm":
		return elf.EM_ARM
	}
	return elf.EM_X86_64
}
