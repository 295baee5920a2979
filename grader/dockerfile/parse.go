package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// ParseError is a Dockerfile that BuildKit would refuse to build: a syntax
// error, an unknown instruction, no FROM, or an expansion that fails.
type ParseError struct {
	Name string // file name, e.g. "Dockerfile.multistage"
	Line int    // 1-based line of the offending instruction, 0 when none applies
	Msg  string // BuildKit's message, e.g. "unknown instruction: FORM (did you mean FROM?)"
	err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
	}
	return e.Name + ": " + e.Msg
}

// Unwrap returns BuildKit's own error, when there is one.
func (e *ParseError) Unwrap() error { return e.err }

// Parse parses the Dockerfile text data with BuildKit's parser and builds the
// model. name is recorded in the File and in errors. Syntax errors, a file
// without instructions and a file without FROM are *ParseError.
func Parse(name string, data []byte) (*File, error) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, parseError(name, nil, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, parseError(name, res.AST, err)
	}
	if len(stages) == 0 {
		line := 0
		if len(res.AST.Children) > 0 {
			line = res.AST.Children[0].StartLine
		}
		return nil, &ParseError{Name: name, Line: line, Msg: "no FROM instruction: the Dockerfile has no build stage"}
	}
	b := &builder{
		f:      &File{Name: name},
		lex:    shell.NewLex(res.EscapeToken),
		global: defaultArgs(stages[len(stages)-1].Name),
		byName: map[string]*Stage{},
	}
	if err := b.metaArgs(metaArgs); err != nil {
		return nil, err
	}
	for i := range stages {
		if err := b.stage(i, &stages[i]); err != nil {
			return nil, err
		}
	}
	// BuildKit resolves --from against all stages, then refuses any that is
	// not built before the copying one.
	for _, s := range b.f.Stages {
		for j := range s.CopiesFrom {
			if t := b.f.Lookup(s.CopiesFrom[j].Ref); t != nil && t.Index < s.Index {
				s.CopiesFrom[j].Stage = t
			}
		}
	}
	return b.f, nil
}

// parseError turns one of BuildKit's errors into a *ParseError with the line
// it locates and its message without the "dockerfile parse error on line N:"
// prefix.
func parseError(name string, ast *parser.Node, err error) *ParseError {
	pe := &ParseError{Name: name, Msg: err.Error(), err: err}
	var le *parser.LocationError
	if errors.As(err, &le) {
		pe.Msg = le.Error()
		if len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			pe.Line = le.Locations[0][0].Start.Line
		}
	}
	switch {
	case strings.HasPrefix(pe.Msg, "invalid escape token"):
		// BuildKit locates a bad parser directive on the line before it.
		pe.Line++
	case pe.Msg == "file with no instructions":
		pe.Line = 0
		pe.Msg = "the file is empty: no instructions, no FROM"
	case pe.Msg == "no build stage in current context" && ast != nil:
		for _, n := range ast.Children {
			if n.StartLine == pe.Line {
				pe.Msg = fmt.Sprintf("%s before the first FROM: no build stage in current context (only ARG may come before FROM)", strings.ToUpper(n.Value))
				break
			}
		}
	}
	return pe
}

// env is an ordered set of variables, what BuildKit's shell lexer expands from.
type env struct {
	keys []string
	vals map[string]string
}

func newEnv() *env { return &env{vals: map[string]string{}} }

func (e *env) Get(k string) (string, bool) { v, ok := e.vals[k]; return v, ok }

func (e *env) Keys() []string { return e.keys }

func (e *env) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *env) clone() *env {
	c := &env{keys: slices.Clone(e.keys), vals: make(map[string]string, len(e.vals))}
	for k, v := range e.vals {
		c.vals[k] = v
	}
	return c
}

// defaultArgs are the automatic platform ARGs BuildKit defines in the global
// scope, for a build on this machine's architecture.
func defaultArgs(target string) *env {
	if target == "" {
		target = "default"
	}
	arch := runtime.GOARCH
	e := newEnv()
	for _, kv := range [][2]string{
		{"BUILDPLATFORM", "linux/" + arch},
		{"BUILDOS", "linux"},
		{"BUILDOSVERSION", ""},
		{"BUILDARCH", arch},
		{"BUILDVARIANT", ""},
		{"TARGETPLATFORM", "linux/" + arch},
		{"TARGETOS", "linux"},
		{"TARGETOSVERSION", ""},
		{"TARGETARCH", arch},
		{"TARGETVARIANT", ""},
		{"TARGETSTAGE", target},
	} {
		e.set(kv[0], kv[1])
	}
	return e
}

type builder struct {
	f      *File
	lex    *shell.Lex
	global *env
	byName map[string]*Stage // earlier stages by (lowercase) name
	envs   map[*Stage]*env   // each stage's variables at its end
}

func lineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

func endLineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[len(loc)-1].End.Line
}

func (b *builder) errorAt(line int, err error) *ParseError {
	return &ParseError{Name: b.f.Name, Line: line, Msg: err.Error(), err: err}
}

// metaArgs evaluates the global ARGs as BuildKit does without --build-arg:
// each default is expanded with the ARGs before it; an ARG without default
// stays unset (unless it is an automatic platform ARG).
func (b *builder) metaArgs(cmds []instructions.ArgCommand) error {
	for _, c := range cmds {
		line := lineOf(c.Location())
		for _, kv := range c.Args {
			if kv.Value == nil {
				continue
			}
			v, _, err := b.lex.ProcessWord(*kv.Value, b.global)
			if err != nil {
				return b.errorAt(line, err)
			}
			b.global.set(kv.Key, v)
			b.f.Args = append(b.f.Args, Arg{Key: kv.Key, Value: v, Line: line})
		}
	}
	return nil
}

func (b *builder) stage(i int, st *instructions.Stage) error {
	line := lineOf(st.Location)
	from, _, err := b.lex.ProcessWord(st.BaseName, b.global)
	if err != nil {
		return b.errorAt(line, err)
	}
	if from == "" {
		return b.errorAt(line, fmt.Errorf("base name (%s) should not be blank", st.BaseName))
	}
	s := &Stage{
		Index:    i,
		Name:     st.Name,
		From:     from,
		FromRaw:  st.BaseName,
		Platform: st.Platform,
		Line:     line,
		EndLine:  endLineOf(st.Location),
		Base:     from,
	}
	vars := newEnv()
	// BuildKit looks the expanded operand up among the earlier stages' names
	// exactly (names are lowercase); anything else is an image.
	if p, ok := b.byName[from]; ok {
		s.Parent = p
		s.Base = p.Base
		s.User, s.UserRaw, s.UserLine = p.User, p.UserRaw, p.UserLine
		s.Workdir, s.WorkdirLine = p.Workdir, p.WorkdirLine
		s.Cmd, s.CmdShell, s.CmdLine = p.Cmd, p.CmdShell, p.CmdLine
		s.Entrypoint, s.EntrypointShell, s.EntrypointLine = p.Entrypoint, p.EntrypointShell, p.EntrypointLine
		vars = b.envs[p].clone()
	}
	expand := func(word string) (string, error) {
		v, _, err := b.lex.ProcessWord(word, vars)
		return v, err
	}
	cmdSet := false
	for _, cmd := range st.Commands {
		line := lineOf(cmd.Location())
		s.EndLine = max(s.EndLine, endLineOf(cmd.Location()))
		switch c := cmd.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if kv.Value == nil {
					if v, ok := b.global.Get(kv.Key); ok {
						vars.set(kv.Key, v)
					}
					continue
				}
				v, err := expand(*kv.Value)
				if err != nil {
					return b.errorAt(line, err)
				}
				vars.set(kv.Key, v)
			}
		case *instructions.EnvCommand:
			if err := c.Expand(expand); err != nil {
				return b.errorAt(line, err)
			}
			for _, kv := range c.Env {
				vars.set(kv.Key, kv.Value)
			}
		case *instructions.UserCommand:
			raw := c.User
			if err := c.Expand(expand); err != nil {
				return b.errorAt(line, err)
			}
			s.User, s.UserRaw, s.UserLine = c.User, raw, line
		case *instructions.WorkdirCommand:
			if err := c.Expand(expand); err != nil {
				return b.errorAt(line, err)
			}
			s.Workdir, s.WorkdirLine = joinWorkdir(s.Workdir, c.Path), line
		case *instructions.CmdCommand:
			s.Cmd, s.CmdShell, s.CmdLine = slices.Clone(c.CmdLine), c.PrependShell, line
			cmdSet = true
		case *instructions.EntrypointCommand:
			s.Entrypoint, s.EntrypointShell, s.EntrypointLine = slices.Clone(c.CmdLine), c.PrependShell, line
			if !cmdSet {
				// BuildKit: an ENTRYPOINT resets a CMD not set in this stage.
				s.Cmd, s.CmdShell, s.CmdLine = nil, false, 0
			}
		case *instructions.CopyCommand:
			if c.From == "" {
				continue
			}
			if err := c.Expand(expand); err != nil {
				return b.errorAt(line, err)
			}
			s.CopiesFrom = append(s.CopiesFrom, CopyFrom{
				Ref:     c.From,
				Line:    line,
				Sources: slices.Clone(c.SourcePaths),
				Dest:    c.DestPath,
			})
		}
	}
	b.f.Stages = append(b.f.Stages, s)
	if s.Name != "" {
		b.byName[s.Name] = s
	}
	if b.envs == nil {
		b.envs = map[*Stage]*env{}
	}
	b.envs[s] = vars
	return nil
}

// joinWorkdir resolves WORKDIR p against the current working directory.
func joinWorkdir(cur, p string) string {
	if !path.IsAbs(p) {
		if cur == "" {
			cur = "/"
		}
		p = path.Join(cur, p)
	}
	return path.Clean(p)
}
