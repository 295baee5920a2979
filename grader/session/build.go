package session

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
	tc "github.com/testcontainers/testcontainers-go"
)

// BuildRequest asks for one Dockerfile of a submission to be built.
type BuildRequest struct {
	Dir        string // the build context (absolute)
	Dockerfile string // relative to Dir
	// Tag distinguishes the images of one submission, e.g. "multistage".
	Tag string
	// BaseImages are the external images the Dockerfile starts from (without
	// "scratch"), used to tell a missing base image (environment) from a
	// broken Dockerfile (student).
	BaseImages []string
	Timeout    time.Duration
}

// BuildError is a build that failed because of the submission: a RUN step
// failed, a COPY source is missing, the Dockerfile is invalid, or the build
// ran past its timeout.
type BuildError struct {
	Err      error
	TimedOut bool
	Timeout  time.Duration
	// Step is the instruction that failed, as the builder printed it
	// (e.g. "RUN go build -o server ."), when known.
	Step string
	// Output is the builder's output of the failing step, ANSI codes removed.
	Output []string
	// Log is the whole build log, ANSI codes removed.
	Log string
}

func (e *BuildError) Error() string {
	if e.TimedOut {
		return fmt.Sprintf("the build did not finish within %s", e.Timeout)
	}
	return cleanEngineError(e.Err)
}

// Unwrap returns the engine's error.
func (e *BuildError) Unwrap() error { return e.Err }

// Reference names the image tag the grader uses for a submission folder: one
// stable repository per folder, so grading the same folder again overwrites
// the tag and reuses the build cache.
func Reference(dir, tag string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	slug := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, filepath.Base(abs))
	slug = strings.Trim(slug, "-")
	if len(slug) > 40 {
		slug = slug[:40]
	}
	if slug == "" {
		slug = "submission"
	}
	return fmt.Sprintf("%s/%s-%s:%s", RepositoryPrefix, slug, hex.EncodeToString(sum[:4]), tag)
}

// RepositoryPrefix is the repository namespace of every image grade tags.
const RepositoryPrefix = "grade-lab"

// Build builds the Dockerfile with the engine's classic builder (its log is
// plain text), tags the result with Reference(Dir, Tag), records the images
// it created, and inspects the result. The build's success is judged by the
// engine's result alone.
func (s *Session) Build(ctx context.Context, req BuildRequest) (*Image, error) {
	ref := Reference(req.Dir, req.Tag)
	repo, tag, _ := strings.Cut(ref, ":")

	missing := s.missingImages(ctx, req.BaseImages)
	before, err := s.imageIDs(ctx)
	if err != nil {
		return nil, Environment(fmt.Errorf("list images: %w", err), hintDocker)
	}

	var logBuf bytes.Buffer
	bctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	creq := tc.ContainerRequest{FromDockerfile: tc.FromDockerfile{
		Context:        req.Dir,
		Dockerfile:     req.Dockerfile,
		Repo:           repo,
		Tag:            tag,
		KeepImage:      true, // the session, not testcontainers, decides when images go
		BuildLogWriter: &logBuf,
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			o.Version = build.BuilderV1 // plain-text log, no session needed
			o.PullParent = false
			o.Remove, o.ForceRemove = true, true
			o.Memory, o.MemorySwap = 2<<30, 2<<30
			// One stable label: it is a cached LABEL step, unlike per-run labels.
			o.Labels = map[string]string{LabelGrader: "1"}
		},
	}}
	start := time.Now()
	_, buildErr := s.provider.BuildImage(bctx, &creq)
	log := stripANSI(logBuf.String())

	// Record what this build created, whatever its outcome: a failed build
	// still leaves the images of the steps that succeeded.
	if created, err := s.createdImages(context.WithoutCancel(ctx), before, log); err == nil {
		s.recordBuilt(created, "")
	}

	if buildErr != nil {
		switch {
		case ctx.Err() != nil:
			return nil, Interrupted(ctx, "during the build")
		case bctx.Err() != nil:
			return nil, &BuildError{Err: buildErr, TimedOut: true, Timeout: req.Timeout, Log: log,
				Step: lastStep(log), Output: stepOutput(log, 15)}
		case len(missing) > 0:
			return nil, Environment(
				fmt.Errorf("base image %s is not available on this Docker Engine and could not be pulled: %s",
					strings.Join(missing, ", "), cleanEngineError(buildErr)),
				"the lab's Dockerfiles use golang:1.21 and alpine:3.18 (and scratch); on an offline machine run `make images` to build their stand-ins")
		case isConnectionError(buildErr):
			return nil, Environment(fmt.Errorf("the Docker Engine failed during the build: %w", buildErr), hintDocker)
		}
		return nil, &BuildError{Err: buildErr, Log: log, Step: lastStep(log), Output: stepOutput(log, 15)}
	}

	// The image this build produced, by id: the tag may already name
	// another grading's image of the same folder on a shared engine.
	built := ref
	if m := builtRE.FindStringSubmatch(log); m != nil {
		built = m[1]
	}
	img, err := s.inspect(context.WithoutCancel(ctx), built)
	if err != nil {
		return nil, err
	}
	img.Ref = ref
	img.Dockerfile = req.Dockerfile
	img.BuildLog = log
	img.BuildDuration = time.Since(start)
	s.recordBuilt([]string{img.ID}, ref)
	return img, nil
}

// missingImages returns the images of names that the engine does not have.
func (s *Session) missingImages(ctx context.Context, names []string) []string {
	var out []string
	for _, n := range names {
		if n == "" || n == "scratch" {
			continue
		}
		if _, err := s.cli.ImageInspect(ctx, n); err != nil && isNotFound(err) {
			out = append(out, n)
		}
	}
	return out
}

func (s *Session) imageIDs(ctx context.Context) (map[string]bool, error) {
	list, err := s.cli.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(list.Items))
	for _, im := range list.Items {
		ids[im.ID] = true
	}
	return ids, nil
}

var builtRE = regexp.MustCompile(`(?m)^Successfully built ([0-9a-f]{12,64})\s*$`)

var stepImageRE = regexp.MustCompile(`(?m)^ ---> ([0-9a-f]{12})\s*$`)

// createdImages returns the full ids of images that did not exist before
// the build and that the build log names: the images of this build's steps,
// including builder stages, which carry no tag or label.
func (s *Session) createdImages(ctx context.Context, before map[string]bool, log string) ([]string, error) {
	short := map[string]bool{}
	for _, m := range stepImageRE.FindAllStringSubmatch(log, -1) {
		short[m[1]] = true
	}
	after, err := s.imageIDs(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for id := range after {
		if before[id] {
			continue
		}
		hexID := strings.TrimPrefix(id, "sha256:")
		if len(hexID) >= 12 && short[hexID[:12]] {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *Session) recordBuilt(ids []string, ref string) {
	if len(ids) == 0 {
		return
	}
	s.mu.Lock()
	for _, id := range ids {
		s.built = append(s.built, builtImage{ID: id, Ref: ref})
	}
	s.mu.Unlock()
	if s.opts.Store != nil {
		_ = s.opts.Store.Record(ids, ref)
	}
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

func stripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

var stepRE = regexp.MustCompile(`^Step \d+/\d+ : (.*)$`)

// lastStep is the instruction of the last "Step n/m : ..." line.
func lastStep(log string) string {
	step := ""
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if m := stepRE.FindStringSubmatch(sc.Text()); m != nil {
			step = m[1]
		}
	}
	return step
}

// stepOutput is up to max lines of output after the last step line, without
// the builder's own bookkeeping lines.
func stepOutput(log string, max int) []string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	start := 0
	for i, l := range lines {
		if stepRE.MatchString(l) {
			start = i + 1
		}
	}
	var out []string
	for _, l := range lines[start:] {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "---> ") || strings.HasPrefix(t, "Removing intermediate container") {
			continue
		}
		out = append(out, strings.TrimRight(l, " \r"))
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// cleanEngineError strips the wrapping testcontainers adds ("build image: "),
// leaving the engine's own words for the student.
func cleanEngineError(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	const daemon = "Error response from daemon: "
	if i := strings.LastIndex(msg, daemon); i >= 0 {
		msg = msg[i+len(daemon):]
	}
	for _, p := range []string{"create container: ", "build image: ", "Error response from daemon: "} {
		for strings.HasPrefix(msg, p) {
			msg = strings.TrimPrefix(msg, p)
		}
	}
	return msg
}

func isConnectionError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || strings.Contains(err.Error(), "connection refused") ||
		strings.Contains(err.Error(), "Cannot connect to the Docker daemon")
}
