package grader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gradelab/grade/grader/session"
)

// UsageError is a problem with how grade was called (e.g. DIR is not a
// folder); the caller prints it and exits 2 without a report.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Grade grades the submission in dir against lab and returns its report.
// The only error is a *UsageError; every other failure (engine unreachable,
// base image missing, interrupted) is in the report as checks with status
// error, which makes the report ungradable (exit 2).
//
// sess may be nil, in which case Grade opens a session itself and closes it
// before returning; every container and temporary file is gone by then.
func Grade(ctx context.Context, lab *Lab, dir string, opts Options) (*Report, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &UsageError{fmt.Sprintf("cannot resolve %s: %v", dir, err)}
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &UsageError{fmt.Sprintf("%s does not exist: give the folder that holds your Dockerfile.multistage", dir)}
	case err != nil:
		return nil, &UsageError{fmt.Sprintf("cannot read %s: %v", dir, err)}
	case !st.IsDir():
		return nil, &UsageError{fmt.Sprintf("%s is a file, not a folder: give the folder that holds %s", dir, lab.Dockerfile)}
	}

	started := time.Now()
	r := &Report{
		SchemaVersion: SchemaVersion,
		Lab:           lab.ID,
		LabTitle:      lab.Title,
		Submission:    abs,
		GraderVersion: opts.GraderVersion,
		StartedAt:     started.UTC().Truncate(time.Millisecond),
		SizeLimit:     lab.SizeLimit,
		Checks:        []Result{},
	}
	p := &Pass{ctx: ctx, lab: lab, dir: abs, opts: &opts, cache: map[artifactKey]*artifactResult{}, started: map[string]*startFuture{}}

	var sessErr error
	p.sess, sessErr = session.New(ctx, session.Options{Store: opts.Store, Keep: opts.Keep})
	if sessErr == nil {
		defer func() {
			// A container still starting in the background must be known to
			// the session before Close removes the session's containers.
			for _, f := range p.started {
				<-f.done
			}
			p.sess.Close()
		}()
	}
	p.sessErr = sessErr

	owners := map[Artifact]string{}
	for _, c := range lab.Checks {
		if c.Owns != 0 {
			owners[c.Owns] = c.ID
		}
	}
	for _, c := range lab.Checks {
		if !opts.selected(c.ID) {
			continue
		}
		r.Checks = append(r.Checks, p.runCheck(c, owners))
	}

	if img, err := p.Image(lab.Dockerfile); err == nil && img != nil {
		r.Image = summarize(img)
	} else {
		var be *session.BuildError
		if errors.As(err, &be) {
			r.BuildLog = tail(be.Log, 60)
		}
	}
	if opts.Baseline && lab.Baseline != "" && p.sess != nil && ctx.Err() == nil {
		if img, err := p.Image(lab.Baseline); err == nil {
			r.Baseline = summarize(img)
		}
	}
	r.DurationMS = time.Since(started).Milliseconds()
	r.Finish(lab)
	return r, nil
}

// runCheck prepares what c requires and runs it, turning a panic into an
// error outcome.
func (p *Pass) runCheck(c *Check, owners map[Artifact]string) (res Result) {
	start := time.Now()
	res = Result{ID: c.ID, Title: c.Title, Required: c.Required(), MaxScore: c.Points}
	if c.Checkpoint != 0 {
		n := c.Checkpoint
		res.Checkpoint = &n
	}
	defer func() {
		if v := recover(); v != nil {
			res.Status = StatusError
			res.Message = fmt.Sprintf("internal error in check %s: %v", c.ID, v)
			res.Hint = "this is a bug in grade, not in your work; please report it with the output of `grade --format json`\n" + firstLines(string(debug.Stack()), 12)
		}
		res.DurationMS = time.Since(start).Milliseconds()
	}()
	out, ok := p.prepare(c, owners)
	if ok {
		out = c.Run(p)
	}
	res.Status, res.Message, res.Hint, res.File, res.Line = out.Status, out.Message, out.Hint, out.File, out.Line
	return res
}

// prepare makes the artifacts c requires. When one cannot be made it
// returns the outcome c gets instead of running.
func (p *Pass) prepare(c *Check, owners map[Artifact]string) (Outcome, bool) {
	if p.ctx.Err() != nil {
		return Errored(EnvironmentMessage(session.Interrupted(p.ctx, "before this check ran"))), false
	}
	for _, a := range withPrerequisites(c.Requires) {
		if a == c.Owns {
			continue
		}
		var err error
		switch a {
		case ArtifactDockerfile:
			_, err = p.Dockerfile(p.lab.Dockerfile)
		case ArtifactImage:
			_, err = p.Image(p.lab.Dockerfile)
		case ArtifactFilesystem:
			_, err = p.Filesystem(p.lab.Dockerfile)
		case ArtifactContainer:
			_, err = p.Container(p.lab.Dockerfile)
		}
		if err == nil {
			continue
		}
		owner := owners[a]
		if session.IsEnvironment(err) && owner == "" {
			return Errored(EnvironmentMessage(err)), false
		}
		if owner != "" {
			return Skipped(fmt.Sprintf("skipped: no %s (see %s)", a, owner)), false
		}
		return Skipped(fmt.Sprintf("skipped: no %s", a)), false
	}
	return Outcome{}, true
}

// withPrerequisites adds what each artifact is made from, in order, so a
// failure is blamed on the first artifact that failed: a filesystem or a
// container needs the image.
func withPrerequisites(req []Artifact) []Artifact {
	var out []Artifact
	add := func(a Artifact) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, a := range req {
		if a == ArtifactFilesystem || a == ArtifactContainer {
			add(ArtifactImage)
		}
		add(a)
	}
	return out
}

// EnvironmentMessage renders an environment error with its hint.
func EnvironmentMessage(err error) string {
	var ee *session.EnvironmentError
	if errors.As(err, &ee) && ee.Hint != "" {
		return ee.Error() + " — " + ee.Hint
	}
	return err.Error()
}

func summarize(img *session.Image) *ImageSummary {
	s := &ImageSummary{ID: img.ID, SizeBytes: img.SizeBytes, User: img.Config.User, Layers: []Layer{}}
	for _, l := range img.Layers {
		s.Layers = append(s.Layers, Layer{CreatedBy: l.CreatedBy, SizeBytes: l.SizeBytes})
	}
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
