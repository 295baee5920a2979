package session

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Image is a built image as the engine describes it.
type Image struct {
	Dockerfile string // the Dockerfile it was built from
	Ref        string // the tag grade gave it
	ID         string
	// SizeBytes is the sum of the layers' sizes: the uncompressed size that
	// `docker images` shows on the overlay2 store. The engine's own Size can
	// be the compressed size on the containerd store, so it is not used.
	SizeBytes int64
	// Layers are the history entries that add bytes, oldest first.
	Layers       []Layer
	Config       ImageConfig
	Architecture string
	OS           string

	BuildLog      string
	BuildDuration time.Duration
}

// Layer is one history entry of an image that adds bytes.
type Layer struct {
	CreatedBy string
	SizeBytes int64
}

// ImageConfig is the part of an image's configuration the lab looks at.
type ImageConfig struct {
	User         string
	Entrypoint   []string
	Cmd          []string
	WorkingDir   string
	Env          []string
	ExposedPorts []string
}

// Largest returns the layer that adds the most bytes.
func (im *Image) Largest() (Layer, bool) {
	var best Layer
	found := false
	for _, l := range im.Layers {
		if !found || l.SizeBytes > best.SizeBytes {
			best, found = l, true
		}
	}
	return best, found
}

// EnvValue returns the value of a variable in the image's environment.
func (c ImageConfig) EnvValue(name string) (string, bool) {
	for _, kv := range c.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Inspect describes an image the engine already has (by tag or id).
func (s *Session) Inspect(ctx context.Context, ref string) (*Image, error) {
	return s.inspect(ctx, ref)
}

func (s *Session) inspect(ctx context.Context, ref string) (*Image, error) {
	ii, err := s.cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, Environment(fmt.Errorf("inspect image %s: %w", ref, err), hintDocker)
	}
	hist, err := s.cli.ImageHistory(ctx, ii.ID)
	if err != nil {
		return nil, Environment(fmt.Errorf("image history %s: %w", ref, err), hintDocker)
	}
	img := &Image{Ref: ref, ID: ii.ID, Architecture: ii.Architecture, OS: ii.Os}
	// History is newest first; layers are reported oldest first.
	for i := len(hist.Items) - 1; i >= 0; i-- {
		h := hist.Items[i]
		if h.Size <= 0 {
			continue
		}
		img.SizeBytes += h.Size
		img.Layers = append(img.Layers, Layer{CreatedBy: tidyCreatedBy(h.CreatedBy), SizeBytes: h.Size})
	}
	if c := ii.Config; c != nil {
		img.Config = ImageConfig{
			User:       c.User,
			Entrypoint: c.Entrypoint,
			Cmd:        c.Cmd,
			WorkingDir: c.WorkingDir,
			Env:        c.Env,
		}
		for p := range c.ExposedPorts {
			img.Config.ExposedPorts = append(img.Config.ExposedPorts, p)
		}
	}
	return img, nil
}

// tidyCreatedBy turns the classic builder's "/bin/sh -c #(nop) COPY ..." and
// "/bin/sh -c go build" into the Dockerfile instruction a student wrote.
func tidyCreatedBy(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "(a layer of the base image)"
	}
	if rest, ok := strings.CutPrefix(s, "/bin/sh -c #(nop) "); ok {
		return strings.TrimSpace(rest)
	}
	if rest, ok := strings.CutPrefix(s, "/bin/sh -c "); ok {
		return "RUN " + strings.TrimSpace(rest)
	}
	return s
}
