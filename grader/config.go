package grader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is an instructor's settings file (`grade --config FILE`, YAML or
// JSON). It is read only from the path the instructor gives, never from the
// submission, so students cannot loosen it.
//
//	points:            # points per check id
//	  image.size: 20
//	required: [...]    # ids that must pass; the others become optional
//	size_limit: 20000000
//	build_timeout: 5m
//	start_timeout: 30s
//	probe_timeout: 5s
//	only: [...]        # run just these checks
//	skip: [...]        # leave these out
type Config struct {
	Points       map[string]int `yaml:"points"`
	Required     []string       `yaml:"required"`
	SizeLimit    int64          `yaml:"size_limit"`
	BuildTimeout time.Duration  `yaml:"build_timeout"`
	StartTimeout time.Duration  `yaml:"start_timeout"`
	ProbeTimeout time.Duration  `yaml:"probe_timeout"`
	Only         []string       `yaml:"only"`
	Skip         []string       `yaml:"skip"`
}

// LoadConfig reads a settings file; unknown keys are errors, so a typo
// does not silently leave a default in place.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// Apply returns a copy of lab and opts with the settings applied; the
// original lab is not changed. Unknown check ids are errors.
func (c *Config) Apply(lab *Lab, opts *Options) (*Lab, error) {
	ids := make([]string, 0, len(lab.Checks))
	for _, ch := range lab.Checks {
		ids = append(ids, ch.ID)
	}
	check := func(what string, list []string) error {
		for _, id := range list {
			if !slices.Contains(ids, id) {
				return fmt.Errorf("%s: unknown check %q (checks: %s)", what, id, strings.Join(ids, ", "))
			}
		}
		return nil
	}
	points := make([]string, 0, len(c.Points))
	for id, p := range c.Points {
		points = append(points, id)
		if p < 0 {
			return nil, fmt.Errorf("points: %s has %d points; use 0 or more", id, p)
		}
	}
	for what, list := range map[string][]string{"points": points, "required": c.Required, "only": c.Only, "skip": c.Skip} {
		if err := check(what, list); err != nil {
			return nil, err
		}
	}
	out := *lab
	out.Checks = make([]*Check, len(lab.Checks))
	for i, ch := range lab.Checks {
		cp := *ch
		if p, ok := c.Points[ch.ID]; ok {
			cp.Points = p
		}
		if c.Required != nil {
			cp.Bonus = !slices.Contains(c.Required, ch.ID)
		}
		out.Checks[i] = &cp
	}
	if c.SizeLimit < 0 {
		return nil, fmt.Errorf("size_limit must be positive (bytes)")
	}
	if c.SizeLimit > 0 {
		out.SizeLimit = c.SizeLimit
	}
	for _, d := range []struct {
		v   time.Duration
		dst *time.Duration
	}{{c.BuildTimeout, &opts.BuildTimeout}, {c.StartTimeout, &opts.StartTimeout}, {c.ProbeTimeout, &opts.ProbeTimeout}} {
		if d.v < 0 {
			return nil, fmt.Errorf("timeouts must be positive")
		}
		if d.v > 0 {
			*d.dst = d.v
		}
	}
	opts.Only = append(opts.Only, c.Only...)
	opts.Skip = append(opts.Skip, c.Skip...)
	return &out, nil
}
