package grader

import (
	"time"

	"github.com/gradelab/grade/grader/session"
)

// Options are the settings of one grading run.
type Options struct {
	BuildTimeout time.Duration // per image build
	StartTimeout time.Duration // until the container answers HTTP
	ProbeTimeout time.Duration // per HTTP probe
	Limits       session.Limits
	// Keep leaves the built images behind (tagged per submission) so the
	// next run of the same work hits the build cache; false removes them.
	Keep bool
	// Baseline also builds the lab's single-stage Dockerfile for comparison.
	Baseline bool
	// GraderVersion is recorded in the report.
	GraderVersion string
	// Store records the images built, for `grade clean`; nil records nothing.
	Store *session.Store
	// Progress, when set, is told what slow step starts next (for a
	// terminal's status line); it is never part of the report.
	Progress func(step string)
	// Only, when not empty, runs just these check ids; Skip leaves these out.
	Only, Skip []string
}

func (o *Options) selected(id string) bool {
	for _, s := range o.Skip {
		if s == id {
			return false
		}
	}
	if len(o.Only) == 0 {
		return true
	}
	for _, s := range o.Only {
		if s == id {
			return true
		}
	}
	return false
}

// DefaultOptions are the contract's defaults.
func DefaultOptions() Options {
	return Options{
		BuildTimeout: 5 * time.Minute,
		StartTimeout: 30 * time.Second,
		ProbeTimeout: 5 * time.Second,
		Limits:       session.DefaultLimits(),
		Keep:         true,
	}
}
