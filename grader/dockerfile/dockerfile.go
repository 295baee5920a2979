// Package dockerfile reads a Dockerfile with BuildKit's own parser and
// answers the questions the lab asks about it: which stages there are, what
// each one is based on (through FROM <earlier stage> and ARG expansion), which
// user the final stage runs as, and what it copies from other stages.
//
// The model follows what BuildKit's Dockerfile frontend does when it builds
// the file without --build-arg: global ARGs (those before the first FROM)
// expand FROM operands; ARG and ENV values expand USER, WORKDIR and COPY
// operands inside a stage; a stage built FROM an earlier stage inherits its
// base image, user, working directory, environment, CMD and ENTRYPOINT. What
// only the base image knows (its own USER, ENV, WORKDIR) is not modelled.
package dockerfile

import (
	"slices"
	"strconv"
	"strings"
)

// File is a parsed Dockerfile.
type File struct {
	// Name is the file's name relative to the submission, e.g. "Dockerfile.multistage".
	Name   string
	Stages []*Stage
	// Args are the global ARGs (declared before the first FROM) that have a
	// value, after expansion, in declaration order.
	Args []Arg
}

// Arg is a global build argument and its default value.
type Arg struct {
	Key, Value string
	Line       int
}

// Stage is one FROM section of a Dockerfile.
type Stage struct {
	Index int
	// Name is the stage name given with AS, lowercased as BuildKit does; "" when unnamed.
	Name string
	// From is the FROM operand after ARG expansion, e.g. "golang:1.21" or "builder".
	From string
	// FromRaw is the FROM operand as written, e.g. "golang:${GO_VERSION}".
	FromRaw string
	// Platform is the --platform value as written ("" when none); it plays no
	// part in the model.
	Platform string
	// Line is the line of the FROM instruction (1-based).
	Line int
	// EndLine is the last line of the stage's last instruction.
	EndLine int
	// Parent is the earlier stage this one is built FROM, nil when it starts from an image.
	Parent *Stage
	// Base is the image this stage ultimately starts from, following Parent
	// links: e.g. "alpine:3.18" or "scratch".
	Base string
	// User is the effective USER at the end of the stage (inherited through
	// Parent, ARG-expanded); "" when no USER instruction is in effect.
	User string
	// UserRaw is the operand of that USER instruction as written, e.g. "${UID}".
	UserRaw string
	// UserLine is the line of the USER instruction in effect, 0 when none.
	UserLine int
	// Workdir is the effective WORKDIR at the end of the stage (inherited,
	// expanded, relative paths resolved); "" when no WORKDIR is in effect.
	Workdir string
	// WorkdirLine is the line of the WORKDIR instruction in effect, 0 when none.
	WorkdirLine int
	// Cmd is the CMD in effect: the exec-form arguments, or in shell form
	// (CmdShell) the command line as one string without the shell prefix.
	// nil when none (an ENTRYPOINT in the stage clears an inherited CMD, as
	// BuildKit does).
	Cmd      []string
	CmdShell bool
	CmdLine  int
	// Entrypoint is the ENTRYPOINT in effect, like Cmd.
	Entrypoint      []string
	EntrypointShell bool
	EntrypointLine  int
	// CopiesFrom lists the COPY --from instructions of this stage. (ADD has
	// no --from flag in BuildKit; `ADD --from` is a parse error.)
	CopiesFrom []CopyFrom
}

// CopyFrom is one COPY --from=<ref> instruction.
type CopyFrom struct {
	// Ref is the --from value as written: a stage name, a stage index or an
	// image reference. BuildKit does not expand variables in --from (a
	// reference to one is an error when building), so neither does the model.
	Ref string
	// Stage is the earlier stage Ref names, nil when it names no earlier stage
	// (an image reference, an unknown name, or a later/own stage index).
	Stage *Stage
	// Line of the COPY instruction.
	Line int
	// Sources are the source paths; Dest is the destination (both expanded
	// with the stage's ARG and ENV values).
	Sources []string
	Dest    string
}

// Final returns the last stage: the one that becomes the image.
func (f *File) Final() *Stage {
	if len(f.Stages) == 0 {
		return nil
	}
	return f.Stages[len(f.Stages)-1]
}

// Lookup returns the stage a COPY --from or FROM reference names among all
// stages of the file, regardless of order: by index when ref is a decimal
// number, else by name (case-insensitively, as BuildKit does for --from;
// when two stages share a name, the last one). It returns nil when no stage
// matches.
func (f *File) Lookup(ref string) *Stage {
	if i, err := strconv.Atoi(ref); err == nil {
		if i >= 0 && i < len(f.Stages) {
			return f.Stages[i]
		}
		return nil
	}
	for _, s := range slices.Backward(f.Stages) {
		if s.Name != "" && strings.EqualFold(s.Name, ref) {
			return s
		}
	}
	return nil
}

// Label names the stage for messages: its AS name, or "stage N" when unnamed.
func (s *Stage) Label() string {
	if s.Name != "" {
		return s.Name
	}
	return "stage " + strconv.Itoa(s.Index)
}

// String describes the stage for messages, e.g. "builder (golang:1.21, line 1)"
// or "stage 2 (FROM builder → golang:1.21, line 12)".
func (s *Stage) String() string {
	from := s.From
	if s.Parent != nil {
		from = "FROM " + s.From + " → " + s.Base
	}
	return s.Label() + " (" + from + ", line " + strconv.Itoa(s.Line) + ")"
}

// IsRoot reports whether a USER value runs as the superuser: its user part
// (before any ":group") is "root" or the numeric UID 0. The group does not
// matter; an empty user part (":1000") is the default user, root. An empty
// USER is not root here: callers treat "" as "no USER set" (which in
// practice means root too).
func IsRoot(user string) bool {
	if user == "" {
		return false
	}
	u, _, _ := strings.Cut(user, ":")
	if u == "root" || u == "" {
		return true
	}
	n, err := strconv.ParseUint(u, 10, 32)
	return err == nil && n == 0
}
