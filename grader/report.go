package grader

import "time"

// SchemaVersion is the version of the JSON report's shape.
const SchemaVersion = 1

// Report is the complete result of grading one submission. Every output
// format is rendered from a Report alone; the JSON form is the source of truth.
type Report struct {
	SchemaVersion int           `json:"schema_version"`
	Lab           string        `json:"lab"`
	LabTitle      string        `json:"lab_title"`
	Submission    string        `json:"submission"`
	GraderVersion string        `json:"grader_version"`
	StartedAt     time.Time     `json:"started_at"`
	DurationMS    int64         `json:"duration_ms"`
	Score         int           `json:"score"`
	MaxScore      int           `json:"max_score"`
	BonusScore    int           `json:"bonus_score"`
	BonusMax      int           `json:"bonus_max"`
	Passed        bool          `json:"passed"`
	Gradable      bool          `json:"gradable"`
	SizeLimit     int64         `json:"size_limit_bytes"`
	Image         *ImageSummary `json:"image,omitempty"`
	// Baseline is the single-stage image, when --baseline asked for it.
	Baseline    *ImageSummary      `json:"baseline,omitempty"`
	Checkpoints []CheckpointResult `json:"checkpoints"`
	Checks      []Result           `json:"checks"`
	// BuildLog holds the tail of the build output when the build failed.
	BuildLog string `json:"build_log,omitempty"`
}

// ImageSummary describes a built image.
type ImageSummary struct {
	ID        string  `json:"id"`
	SizeBytes int64   `json:"size_bytes"`
	User      string  `json:"user"`
	Layers    []Layer `json:"layers"`
}

// Layer is one filesystem layer of an image, oldest first.
type Layer struct {
	CreatedBy string `json:"created_by"`
	SizeBytes int64  `json:"size_bytes"`
}

// CheckpointResult is the verdict on one of the lab's checkpoints: the
// combined status of the checks that evidence it.
type CheckpointResult struct {
	N      int      `json:"n"`
	Title  string   `json:"title"`
	Status Status   `json:"status"`
	Checks []string `json:"checks"`
}

// Result is the verdict of one check.
type Result struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	Checkpoint *int   `json:"checkpoint"`
	Required   bool   `json:"required"`
	Status     Status `json:"status"`
	Score      int    `json:"score"`
	MaxScore   int    `json:"max_score"`
	Message    string `json:"message"`
	Hint       string `json:"hint"`
	DurationMS int64  `json:"duration_ms"`
	File       string `json:"file,omitempty"`
	Line       int    `json:"line,omitempty"`
}

// ExitCode is the process exit code the contract assigns to a report:
// 2 when it could not be graded, 1 when a required check failed, else 0.
func (r *Report) ExitCode() int {
	switch {
	case !r.Gradable:
		return 2
	case !r.Passed:
		return 1
	}
	return 0
}

// Finish computes the scores, the checkpoint verdicts and the pass/gradable
// flags from r.Checks. lab supplies the checkpoint titles.
func (r *Report) Finish(lab *Lab) {
	r.Score, r.MaxScore, r.BonusScore, r.BonusMax = 0, 0, 0, 0
	r.Passed, r.Gradable = true, true
	for i := range r.Checks {
		c := &r.Checks[i]
		c.Score = 0
		if c.Status == StatusPass {
			c.Score = c.MaxScore
		}
		if c.Required {
			r.MaxScore += c.MaxScore
			r.Score += c.Score
			if c.Status != StatusPass {
				r.Passed = false
			}
		} else {
			r.BonusMax += c.MaxScore
			r.BonusScore += c.Score
		}
		if c.Status == StatusError {
			r.Gradable = false
		}
	}
	r.Checkpoints = r.Checkpoints[:0]
	for _, cp := range lab.Checkpoints {
		res := CheckpointResult{N: cp.N, Title: cp.Title, Checks: []string{}}
		var statuses []Status
		for _, c := range r.Checks {
			if c.Checkpoint != nil && *c.Checkpoint == cp.N {
				res.Checks = append(res.Checks, c.ID)
				statuses = append(statuses, c.Status)
			}
		}
		res.Status = combine(statuses)
		r.Checkpoints = append(r.Checkpoints, res)
	}
}

// combine folds check statuses into one: any error wins, then any fail,
// then any pass; all skipped (or none) is skip.
func combine(ss []Status) Status {
	out := StatusSkip
	for _, s := range ss {
		switch {
		case s == StatusError:
			return StatusError
		case s == StatusFail:
			out = StatusFail
		case s == StatusPass && out == StatusSkip:
			out = StatusPass
		}
	}
	return out
}
