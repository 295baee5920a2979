package grader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gradelab/grade/grader/dockerfile"
	"github.com/gradelab/grade/grader/session"
)

// Pass is what a check's Run receives: the submission, the lab, and lazy,
// cached access to the artifacts of each Dockerfile (parsed file, image,
// filesystem, running container). Each artifact is made at most once per
// grading run, whichever check asks first.
type Pass struct {
	ctx  context.Context
	lab  *Lab
	dir  string
	opts *Options
	sess *session.Session
	// sessErr is why no session could be opened (engine unreachable).
	sessErr error
	cache   map[artifactKey]*artifactResult
	// started holds containers started in the background (startEarly).
	started map[string]*startFuture
}

type artifactKey struct {
	kind       Artifact
	dockerfile string
}

type artifactResult struct {
	value any
	err   error
}

// Context is the grading run's context; checks pass it to slow calls.
func (p *Pass) Context() context.Context { return p.ctx }

// Lab is the lab being graded.
func (p *Pass) Lab() *Lab { return p.lab }

// Dir is the submission folder (absolute).
func (p *Pass) Dir() string { return p.dir }

// Options are the grading run's settings (limits, timeouts).
func (p *Pass) Options() *Options { return p.opts }

func (p *Pass) artifact(kind Artifact, name string, make func() (any, error)) (any, error) {
	k := artifactKey{kind, name}
	if r, ok := p.cache[k]; ok {
		return r.value, r.err
	}
	v, err := make()
	p.cache[k] = &artifactResult{v, err}
	return v, err
}

// Dockerfile parses the named Dockerfile of the submission. The error is a
// *dockerfile.ParseError for syntax errors and wraps fs.ErrNotExist when the
// file is absent.
func (p *Pass) Dockerfile(name string) (*dockerfile.File, error) {
	v, err := p.artifact(ArtifactDockerfile, name, func() (any, error) {
		return dockerfile.Load(p.dir, name)
	})
	f, _ := v.(*dockerfile.File)
	return f, err
}

// Image builds the named Dockerfile and inspects the result. A failed build
// returns a *session.BuildError (the student's) or an error for which
// session.IsEnvironment is true (the grader's or the engine's).
func (p *Pass) Image(name string) (*session.Image, error) {
	v, err := p.artifact(ArtifactImage, name, func() (any, error) {
		var bases []string
		f, err := p.Dockerfile(name)
		var outside *dockerfile.OutsideError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &session.BuildError{Err: fmt.Errorf("nothing to build: %s does not exist", name)}
		case errors.As(err, &outside):
			return nil, &session.BuildError{Err: fmt.Errorf("not built: %v", err)}
		case err == nil:
			for _, st := range f.Stages {
				if st.Parent == nil {
					bases = append(bases, st.Base)
				}
			}
		}
		if p.sess == nil {
			return nil, p.sessErr
		}
		p.progress("building " + name + " (the first build of new code takes a minute)")
		img, err := p.sess.Build(p.ctx, session.BuildRequest{
			Dir:        p.dir,
			Dockerfile: name,
			Tag:        imageTag(name),
			BaseImages: bases,
			Timeout:    p.opts.BuildTimeout,
		})
		if err != nil {
			return nil, err
		}
		p.startEarly(name, img)
		return img, nil
	})
	img, _ := v.(*session.Image)
	return img, err
}

// Filesystem returns the flattened filesystem of the named Dockerfile's image.
func (p *Pass) Filesystem(name string) (*session.Filesystem, error) {
	v, err := p.artifact(ArtifactFilesystem, name, func() (any, error) {
		img, err := p.Image(name)
		if err != nil {
			return nil, err
		}
		p.progress("reading the image of " + name)
		return p.sess.Filesystem(p.ctx, img)
	})
	fs, _ := v.(*session.Filesystem)
	return fs, err
}

// Container starts the named Dockerfile's image and waits until its port
// answers HTTP. The container is returned with the error when it started but
// never answered, so checks can gather evidence (logs, state, sockets).
func (p *Pass) Container(name string) (*session.Container, error) {
	v, err := p.artifact(ArtifactContainer, name, func() (any, error) {
		img, err := p.Image(name)
		if err != nil {
			return nil, err
		}
		var c *session.Container
		if f, ok := p.started[name]; ok {
			<-f.done // started in the background when the image was built
			c, err = f.c, f.err
		} else {
			p.progress("starting a container of " + name)
			c, err = p.run(img)
		}
		if c == nil {
			return nil, err // a typed nil would hide in the interface
		}
		return c, err
	})
	c, _ := v.(*session.Container)
	return c, err
}

func (p *Pass) run(img *session.Image) (*session.Container, error) {
	return p.sess.Run(p.ctx, img, session.RunRequest{
		Port:         p.lab.Port,
		StartTimeout: p.opts.StartTimeout,
		Limits:       p.opts.Limits,
	})
}

// startEarly starts the primary image's container in the background as soon
// as the image is built, when a selected check will need it: the container
// then comes up while the image checks read the image's filesystem.
func (p *Pass) startEarly(name string, img *session.Image) {
	if name != p.lab.Dockerfile || !p.needsContainer() {
		return
	}
	f := &startFuture{done: make(chan struct{})}
	p.started[name] = f
	go func() {
		defer close(f.done)
		f.c, f.err = p.run(img)
	}()
}

func (p *Pass) needsContainer() bool {
	for _, c := range p.lab.Checks {
		if p.opts.selected(c.ID) && (c.Owns == ArtifactContainer || slices.Contains(c.Requires, ArtifactContainer)) {
			return true
		}
	}
	return false
}

// startFuture is a container being started in the background.
type startFuture struct {
	done chan struct{}
	c    *session.Container
	err  error
}

func (p *Pass) progress(step string) {
	if p.opts.Progress != nil {
		p.opts.Progress(step)
	}
}

// imageTag names a Dockerfile's image within the submission's repository:
// "Dockerfile.multistage" → "multistage", "Dockerfile" → "dockerfile".
func imageTag(dockerfileName string) string {
	t := strings.ToLower(strings.TrimPrefix(filepath.Base(dockerfileName), "Dockerfile."))
	t = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, t)
	if t == "" || t[0] == '.' || t[0] == '-' {
		t = "x" + t
	}
	return t
}
