package checks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/dockerfile"
)

// The static checks of the lab's primary Dockerfile (Dockerfile.multistage).
// They read the file with BuildKit's own parser and never run Docker. Each
// check's verdict is a pure function of the parsed file (judge*), so it can
// be tested without a grading run.

// Dockerfile lists the static Dockerfile checks in scorecard order.
var Dockerfile = []*grader.Check{
	DockerfileFound,
	DockerfileMultiStage,
	DockerfileCopyFrom,
	DockerfileDistinctBases,
	DockerfileNonRoot,
}

// DockerfileFound checks that Dockerfile.multistage exists inside the
// submission folder and parses. It owns the parsed Dockerfile: when the file
// is missing or broken it says why, and the other Dockerfile checks are skipped.
var DockerfileFound = &grader.Check{
	ID:    "dockerfile.found",
	Title: "Dockerfile.multistage exists and parses",
	Doc: "Reads Dockerfile.multistage from the submission folder (next to Dockerfile and main.go) and parses it with BuildKit's Dockerfile parser. " +
		"A symlink leading outside the folder, a directory or a file over 1 MiB is refused; a syntax error is reported with its line.",
	Points:   5,
	Requires: []grader.Artifact{grader.ArtifactDockerfile},
	Owns:     grader.ArtifactDockerfile,
	Run: func(p *grader.Pass) grader.Outcome {
		name := p.Lab().Dockerfile
		f, err := p.Dockerfile(name)
		var siblings []string
		if errors.Is(err, fs.ErrNotExist) {
			if entries, rerr := os.ReadDir(p.Dir()); rerr == nil {
				for _, e := range entries {
					siblings = append(siblings, e.Name())
				}
			}
		}
		return judgeFound(name, f, err, siblings)
	},
}

// DockerfileMultiStage checks checkpoint 1: multiple FROM statements.
var DockerfileMultiStage = &grader.Check{
	ID:    "dockerfile.multi-stage",
	Title: "The Dockerfile has at least two stages",
	Doc: "Counts the FROM instructions of Dockerfile.multistage: a multi-stage build has a builder stage " +
		"(FROM golang:1.21 AS builder) and a runtime stage (FROM alpine:3.18).",
	Checkpoint: 1,
	Points:     10,
	Requires:   []grader.Artifact{grader.ArtifactDockerfile},
	Run:        withDockerfile(judgeMultiStage),
}

// DockerfileCopyFrom checks checkpoint 3: COPY --from=<stage> between stages.
var DockerfileCopyFrom = &grader.Check{
	ID:    "dockerfile.copy-from",
	Title: "The final stage copies from an earlier stage",
	Doc: "Looks for COPY --from=<stage> in the final stage (the one that becomes the image), naming an earlier stage " +
		"by its AS name (case-insensitive) or by its index, as BuildKit resolves it. An unknown name, a later stage, " +
		"an image reference or a COPY --from only in a non-final stage does not count.",
	Checkpoint: 3,
	Points:     10,
	Requires:   []grader.Artifact{grader.ArtifactDockerfile},
	Run:        withDockerfile(judgeCopyFrom),
}

// DockerfileDistinctBases checks checkpoint 5: stages use different bases.
var DockerfileDistinctBases = &grader.Check{
	ID:    "dockerfile.distinct-bases",
	Title: "The final stage uses a different base image than the builder",
	Doc: "Compares the base image of the final stage with the builder's (the stage the final stage copies from; " +
		"the first stage when it copies from none), after expanding global ARGs and following FROM <stage> to the image " +
		"it starts from. Names are compared normalised: alpine:3.18 is docker.io/library/alpine:3.18, alpine is alpine:latest.",
	Checkpoint: 5,
	Points:     5,
	Requires:   []grader.Artifact{grader.ArtifactDockerfile},
	Run:        withDockerfile(judgeDistinctBases),
}

// DockerfileNonRoot checks that the final stage switches to a non-root user.
var DockerfileNonRoot = &grader.Check{
	ID:    "dockerfile.non-root",
	Title: "The final stage runs as a non-root USER",
	Doc: "Finds the USER in effect at the end of the final stage (inherited through FROM <stage>, with ARG and ENV " +
		"values expanded) and checks it is set and is not root: root, 0, 0:0 and root:root all count as root.",
	Points:   5,
	Requires: []grader.Artifact{grader.ArtifactDockerfile},
	Run:      withDockerfile(judgeNonRoot),
}

// withDockerfile runs judge on the lab's parsed primary Dockerfile.
func withDockerfile(judge func(*dockerfile.File) grader.Outcome) func(*grader.Pass) grader.Outcome {
	return func(p *grader.Pass) grader.Outcome {
		name := p.Lab().Dockerfile
		f, err := p.Dockerfile(name)
		if err != nil || f == nil {
			return grader.Skipped(fmt.Sprintf("skipped: %s could not be read (see dockerfile.found)", name))
		}
		return judge(f)
	}
}

// Hints in the lab's words.
const (
	hintCreate     = "Create Dockerfile.multistage next to Dockerfile (in the folder with main.go) with a builder stage `FROM golang:1.21 AS builder` that runs `CGO_ENABLED=0 GOOS=linux go build -ldflags=\"-w -s\" -o server .` and a runtime stage `FROM alpine:3.18` that does `COPY --from=builder /app/server .`"
	hintTwoStages  = "Add a second stage: `FROM alpine:3.18` after the builder and copy the binary with `COPY --from=builder /app/server .`; name the first stage with `FROM golang:1.21 AS builder`"
	hintCopyFrom   = "In the final stage (after `FROM alpine:3.18`), copy the binary from the builder with `COPY --from=builder /app/server .`, where builder is the name given with `FROM golang:1.21 AS builder`"
	hintSmallBase  = "Base the final stage on a small image: `FROM alpine:3.18` (or `FROM scratch` for a static binary), not on the builder's image; the Go toolchain stays in the builder"
	hintAddUser    = "At the end of the final stage create an unprivileged user and switch to it: `RUN adduser -D -u 1000 appuser` then `USER appuser` (on scratch, which has no /etc/passwd, use a numeric `USER 65534:65534`)"
	hintNotRootRun = "Run the app as an unprivileged user: `RUN adduser -D -u 1000 appuser` then `USER appuser` as the last USER of the final stage (on scratch, `USER 65534:65534`)"
)

// judgeFound is dockerfile.found's verdict on loading name: f and err are
// what dockerfile.Load returned; siblings are the names in the submission
// folder, used to spot a misnamed file when it is missing.
func judgeFound(name string, f *dockerfile.File, err error, siblings []string) grader.Outcome {
	var (
		pe *dockerfile.ParseError
		oe *dockerfile.OutsideError
	)
	switch {
	case err == nil && f != nil:
		return grader.Passed(fmt.Sprintf("%s parses: %s", name, stageList(f))).At(name, 0)
	case errors.As(err, &pe):
		return grader.Failed(fmt.Sprintf("%s does not parse: %s", name, describeParseError(pe)), parseHint(pe)).At(name, pe.Line)
	case errors.As(err, &oe):
		return grader.Failed(err.Error(),
			"Make "+name+" a regular file inside the submission folder (not a symlink to a file elsewhere)").At(name, 0)
	case errors.Is(err, fs.ErrNotExist):
		msg := err.Error()
		hint := hintCreate
		if near := misnamed(name, siblings); len(near) > 0 {
			msg += "; found " + strings.Join(quoteAll(near), ", ")
			hint = fmt.Sprintf("Rename %q to %s (exactly this name, case-sensitive, no extension)", near[0], name)
		}
		return grader.Failed(msg, hint).At(name, 0)
	case errors.Is(err, dockerfile.ErrNotRegular):
		return grader.Failed(err.Error(), "Make "+name+" a regular text file (it is the Dockerfile you build with `docker build -f "+name+" .`)").At(name, 0)
	case errors.Is(err, dockerfile.ErrTooLarge):
		return grader.Failed(err.Error(), name+" should be a short text file of Dockerfile instructions, a few dozen lines").At(name, 0)
	case err != nil:
		return grader.Errored(fmt.Sprintf("could not read %s: %v", name, err))
	}
	return grader.Errored("could not read " + name)
}

func describeParseError(pe *dockerfile.ParseError) string {
	if pe.Line > 0 {
		return fmt.Sprintf("line %d: %s", pe.Line, pe.Msg)
	}
	return pe.Msg
}

func parseHint(pe *dockerfile.ParseError) string {
	m := pe.Msg
	switch {
	case strings.Contains(m, "the file is empty"), strings.Contains(m, "no FROM"):
		return "Start the file with the builder stage `FROM golang:1.21 AS builder`, then add the runtime stage `FROM alpine:3.18`"
	case strings.Contains(m, "before the first FROM"):
		return "Every instruction (except ARG) belongs to a stage: put `FROM golang:1.21 AS builder` first"
	case strings.Contains(m, "did you mean"):
		return fmt.Sprintf("Fix the instruction on line %d: %s", pe.Line, strings.TrimSuffix(m[strings.Index(m, "did you mean"):], ")"))
	case strings.Contains(m, "unknown instruction"):
		return fmt.Sprintf("Line %d is not a Dockerfile instruction; check its spelling, or a missing `\\` at the end of the line before it", pe.Line)
	case strings.Contains(m, "unknown flag: --from"):
		return "ADD has no --from; copy between stages with `COPY --from=builder /app/server .`"
	case strings.Contains(m, "invalid name for build stage"):
		return "Stage names are lowercase letters, digits, '-', '_' and '.', starting with a letter, e.g. `FROM golang:1.21 AS builder`"
	case strings.Contains(m, "should not be blank"):
		return "The FROM image comes from an ARG without a value: give the global ARG a default before the first FROM, e.g. `ARG GO_VERSION=1.21`"
	}
	if pe.Line == 0 {
		return "Fix the Dockerfile syntax (`docker build -f " + pe.Name + " .` reports the same error)"
	}
	return fmt.Sprintf("Fix the syntax error on line %d (`docker build -f %s .` reports the same error)", pe.Line, pe.Name)
}

// misnamed returns the entries of siblings that look like name misspelt:
// another case, a separator or an extension added, parts swapped
// ("Dockerfile.multi-stage", "dockerfile.multistage.txt", "multistage.Dockerfile").
func misnamed(name string, siblings []string) []string {
	key := alnumLower(name)
	rest := strings.TrimPrefix(key, "dockerfile")
	if rest == "" || rest == key {
		rest = key
	}
	var out []string
	for _, s := range siblings {
		if s == name {
			continue
		}
		k := alnumLower(s)
		if strings.Contains(k, key) || (strings.Contains(k, "dockerfile") && strings.Contains(k, rest)) {
			out = append(out, s)
		}
	}
	return out
}

func alnumLower(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// stageList describes all stages, e.g. "2 stages: builder (golang:1.21, line 1), stage 1 (alpine:3.18, line 9)".
func stageList(f *dockerfile.File) string {
	parts := make([]string, len(f.Stages))
	for i, s := range f.Stages {
		parts[i] = s.String()
	}
	n := "1 stage"
	if len(f.Stages) != 1 {
		n = fmt.Sprintf("%d stages", len(f.Stages))
	}
	return n + ": " + strings.Join(parts, ", ")
}

// judgeMultiStage is dockerfile.multi-stage's verdict: at least two stages.
func judgeMultiStage(f *dockerfile.File) grader.Outcome {
	final := f.Final()
	if final == nil {
		return grader.Failed("no FROM instruction", hintTwoStages).At(f.Name, 0)
	}
	if len(f.Stages) >= 2 {
		return grader.Passed(stageList(f)).At(f.Name, final.Line)
	}
	return grader.Failed(stageList(f)+": a single FROM, so the whole build (Go toolchain included) is the image",
		hintTwoStages).At(f.Name, final.Line)
}

// finalSource returns the first COPY --from in the final stage, or in a stage
// it is built FROM (whose files it inherits), that names an earlier stage;
// holder is the stage the COPY is in.
func finalSource(f *dockerfile.File) (holder *dockerfile.Stage, c dockerfile.CopyFrom, ok bool) {
	for s := f.Final(); s != nil; s = s.Parent {
		for _, c := range s.CopiesFrom {
			if c.Stage != nil {
				return s, c, true
			}
		}
	}
	return nil, dockerfile.CopyFrom{}, false
}

func copyText(c dockerfile.CopyFrom) string {
	return strings.TrimSpace(fmt.Sprintf("COPY --from=%s %s %s", c.Ref, strings.Join(c.Sources, " "), c.Dest))
}

// judgeCopyFrom is dockerfile.copy-from's verdict: the final stage copies
// from an earlier stage.
func judgeCopyFrom(f *dockerfile.File) grader.Outcome {
	final := f.Final()
	if final == nil {
		return grader.Failed("no FROM instruction", hintTwoStages).At(f.Name, 0)
	}
	if holder, c, ok := finalSource(f); ok {
		msg := fmt.Sprintf("the final stage (%s) copies from %s: %s (line %d)", final.Label(), c.Stage.String(), copyText(c), c.Line)
		if holder != final {
			msg = fmt.Sprintf("the final stage (%s) is built FROM %s, which copies from %s: %s (line %d)",
				final.Label(), holder.Label(), c.Stage.String(), copyText(c), c.Line)
		}
		return grader.Passed(msg).At(f.Name, c.Line)
	}
	if len(f.Stages) < 2 {
		return grader.Failed(fmt.Sprintf("only one stage (%s): there is no earlier stage to copy from", final.String()),
			hintTwoStages).At(f.Name, final.Line)
	}
	// A COPY --from in the final stage that names no earlier stage.
	for s := final; s != nil; s = s.Parent {
		if len(s.CopiesFrom) > 0 {
			c := s.CopiesFrom[0]
			msg, hint := diagnoseRef(f, s, c)
			return grader.Failed(fmt.Sprintf("%s (line %d): %s", copyText(c), c.Line, msg), hint).At(f.Name, c.Line)
		}
	}
	// COPY --from only in other stages.
	for _, s := range f.Stages {
		for _, c := range s.CopiesFrom {
			if c.Stage != nil {
				return grader.Failed(fmt.Sprintf("%s (line %d) is in %s, not in the final stage (%s, line %d); only the final stage becomes the image",
					copyText(c), c.Line, s.Label(), final.Label(), final.Line),
					"Only the final stage becomes the image: put `COPY --from=builder /app/server .` in the last stage, after `FROM alpine:3.18`").At(f.Name, c.Line)
			}
		}
	}
	return grader.Failed(fmt.Sprintf("the final stage, %s, has no COPY --from; %s", final.String(), stageList(f)),
		hintCopyFrom).At(f.Name, final.Line)
}

// diagnoseRef explains why COPY --from=c.Ref in stage s names no earlier stage.
func diagnoseRef(f *dockerfile.File, s *dockerfile.Stage, c dockerfile.CopyFrom) (msg, hint string) {
	ref := c.Ref
	earlier := earlierStages(f, s)
	if strings.ContainsAny(ref, "$\"'") {
		return fmt.Sprintf("BuildKit does not expand variables or quotes in --from; the stages are %s", earlier),
			fmt.Sprintf("Write the stage name literally: `COPY --from=builder %s %s`", strings.Join(c.Sources, " "), c.Dest)
	}
	if n, err := strconv.Atoi(ref); err == nil {
		switch {
		case n == s.Index:
			msg = fmt.Sprintf("stage %d is this stage itself", n)
		case n >= 0 && n < len(f.Stages):
			msg = fmt.Sprintf("stage %d (line %d) comes after this stage", n, f.Stages[n].Line)
		default:
			msg = fmt.Sprintf("there is no stage %d (stages are numbered 0 to %d)", n, len(f.Stages)-1)
		}
		return msg + "; a stage can only copy from stages above it: " + earlier,
			"Copy from the builder, an earlier stage: `COPY --from=builder /app/server .` (or `--from=0` for the first stage)"
	}
	if t := f.Lookup(ref); t != nil {
		if t == s {
			msg = fmt.Sprintf("%s is this stage itself", t.Label())
		} else {
			msg = fmt.Sprintf("stage %s (line %d) comes after this stage", t.Label(), t.Line)
		}
		return msg + "; a stage can only copy from stages above it: " + earlier,
			"Define the builder stage first (`FROM golang:1.21 AS builder`) and the runtime stage last, with `COPY --from=builder /app/server .`"
	}
	if strings.ContainsAny(ref, ":/@") {
		return fmt.Sprintf("%s is an image, not a stage of this Dockerfile; the stages are %s", ref, earlier), hintCopyFrom
	}
	msg = fmt.Sprintf("no stage is named %q; the stages are %s", ref, earlier)
	if near := nearestStage(f, s, ref); near != nil {
		msg += fmt.Sprintf(" (did you mean %s?)", near.Name)
		return msg, fmt.Sprintf("Use the stage's name exactly: `COPY --from=%s …` (the name given with `AS %s` on line %d)", near.Name, near.Name, near.Line)
	}
	return msg, "Name the build stage (`FROM golang:1.21 AS builder`) and copy from that name: `COPY --from=builder /app/server .`"
}

// earlierStages lists the stages before s for messages.
func earlierStages(f *dockerfile.File, s *dockerfile.Stage) string {
	var parts []string
	for _, t := range f.Stages[:s.Index] {
		parts = append(parts, fmt.Sprintf("%s (index %d, line %d)", t.Label(), t.Index, t.Line))
	}
	if len(parts) == 0 {
		return "none before it"
	}
	return strings.Join(parts, ", ")
}

// nearestStage returns the earlier named stage whose name is within two
// edits of ref, nil when none.
func nearestStage(f *dockerfile.File, s *dockerfile.Stage, ref string) *dockerfile.Stage {
	var best *dockerfile.Stage
	bestD := 3
	for _, t := range f.Stages[:s.Index] {
		if t.Name == "" {
			continue
		}
		if d := editDistance(strings.ToLower(ref), t.Name); d < bestD {
			best, bestD = t, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describeBase tells where a stage's base image comes from, e.g.
// "alpine:3.18 (line 9)", "golang:1.21 (FROM builder, line 9)" or
// "golang:1.21 (FROM ${GO_IMAGE}, line 4)".
func describeBase(s *dockerfile.Stage) string {
	var via []string
	if s.Parent != nil {
		via = append(via, "FROM "+s.From+", inherited")
	}
	if s.FromRaw != s.From {
		via = append(via, "FROM "+s.FromRaw)
	}
	via = append(via, fmt.Sprintf("line %d", s.Line))
	return s.Base + " (" + strings.Join(via, ", ") + ")"
}

// judgeDistinctBases is dockerfile.distinct-bases's verdict: the final
// stage's base image differs from the builder's.
func judgeDistinctBases(f *dockerfile.File) grader.Outcome {
	final := f.Final()
	if final == nil {
		return grader.Failed("no FROM instruction", hintTwoStages).At(f.Name, 0)
	}
	if len(f.Stages) < 2 {
		return grader.Failed(fmt.Sprintf("only one stage (%s): there is no builder to differ from", final.String()), hintTwoStages).At(f.Name, final.Line)
	}
	builder, how := f.Stages[0], "the first stage"
	if _, c, ok := finalSource(f); ok {
		builder, how = c.Stage, "the stage it copies from"
	}
	if !dockerfile.SameImage(final.Base, builder.Base) {
		return grader.Passed(fmt.Sprintf("the final stage (%s) starts from %s; the builder, %s (%s), from %s",
			final.Label(), describeBase(final), builder.Label(), how, describeBase(builder))).At(f.Name, final.Line)
	}
	msg := fmt.Sprintf("the final stage (%s) and the builder, %s (%s), both start from %s: final %s, builder %s",
		final.Label(), builder.Label(), how, dockerfile.FamiliarImage(final.Base), describeBase(final), describeBase(builder))
	for s := final.Parent; s != nil; s = s.Parent {
		if s == builder {
			msg += fmt.Sprintf("; the final stage is built FROM %s and inherits its whole image", builder.Label())
			break
		}
	}
	return grader.Failed(msg, hintSmallBase).At(f.Name, final.Line)
}

// describeUser tells where a stage's USER comes from, e.g. "appuser (USER on
// line 20)" or "1000 (USER ${UID} on line 7, inherited from runtime-base)".
func describeUser(f *dockerfile.File, s *dockerfile.Stage) string {
	where := "USER"
	if s.UserRaw != s.User {
		where += " " + s.UserRaw
	}
	where += fmt.Sprintf(" on line %d", s.UserLine)
	if from := userOrigin(f, s); from != nil && from != s {
		where += ", inherited from " + from.Label()
	}
	return fmt.Sprintf("%q (%s)", s.User, where)
}

// userOrigin returns the stage (s or an ancestor) whose USER instruction is in effect in s.
func userOrigin(f *dockerfile.File, s *dockerfile.Stage) *dockerfile.Stage {
	for t := s; t != nil; t = t.Parent {
		if t.UserLine >= t.Line && t.UserLine <= t.EndLine {
			return t
		}
	}
	return nil
}

// judgeNonRoot is dockerfile.non-root's verdict: the final stage's
// effective USER is set and is not root.
func judgeNonRoot(f *dockerfile.File) grader.Outcome {
	final := f.Final()
	if final == nil {
		return grader.Failed("no FROM instruction", hintTwoStages).At(f.Name, 0)
	}
	switch {
	case final.UserLine == 0:
		msg := fmt.Sprintf("the final stage, %s, sets no USER, so the container runs as root", final.String())
		for _, s := range f.Stages {
			if s != final && s.UserLine != 0 && !dockerfile.IsRoot(s.User) && userOrigin(f, s) == s {
				msg += fmt.Sprintf("; USER %s on line %d is in %s, which does not carry into the final stage", s.UserRaw, s.UserLine, s.Label())
				break
			}
		}
		return grader.Failed(msg, hintAddUser).At(f.Name, final.EndLine)
	case final.User == "":
		return grader.Failed(fmt.Sprintf("USER %s on line %d expands to an empty user, so the container runs as root; a global ARG must be re-declared (`ARG NAME`) inside the stage to be visible there",
			final.UserRaw, final.UserLine),
			"Give USER a value that is set in the final stage: `USER appuser`, or declare `ARG UID=1000` inside the final stage before `USER ${UID}`").At(f.Name, final.UserLine)
	case dockerfile.IsRoot(final.User):
		return grader.Failed(fmt.Sprintf("the final stage (%s) runs as root: %s", final.Label(), describeUser(f, final)),
			hintNotRootRun).At(f.Name, final.UserLine)
	}
	msg := fmt.Sprintf("the final stage (%s) runs as %s", final.Label(), describeUser(f, final))
	if dockerfile.SameImage(final.Base, dockerfile.Scratch) && !numericUser(final.User) {
		msg += "; note: scratch has no /etc/passwd, so a user name cannot be resolved there — prefer a numeric UID such as 65534:65534"
	}
	return grader.Passed(msg).At(f.Name, final.UserLine)
}

func numericUser(u string) bool {
	user, _, _ := strings.Cut(u, ":")
	_, err := strconv.ParseUint(user, 10, 32)
	return err == nil
}
