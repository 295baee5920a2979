package report

import (
	"encoding/json"
	"io"

	"github.com/gradelab/grade/grader"
)

// JSON writes the report as indented JSON (schema_version 1), the source of
// truth of every other format. Lists are never null: a report without
// checks has "checks": [] and "checkpoints": []; a check without a
// checkpoint has "checkpoint": null. Characters such as <, > and & are
// written as they are, not as \u escapes.
func JSON(w io.Writer, r *grader.Report) error {
	if r == nil {
		return errNilReport
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(normalized(r))
}

// normalized returns a copy of r whose lists are non-nil, so that they
// encode as [] rather than null. r itself is not modified.
func normalized(r *grader.Report) *grader.Report {
	c := *r
	c.Checkpoints = make([]grader.CheckpointResult, len(r.Checkpoints))
	for i, cp := range r.Checkpoints {
		if cp.Checks == nil {
			cp.Checks = []string{}
		}
		c.Checkpoints[i] = cp
	}
	c.Checks = make([]grader.Result, len(r.Checks))
	copy(c.Checks, r.Checks)
	c.Image = normalizedImage(r.Image)
	c.Baseline = normalizedImage(r.Baseline)
	return &c
}

func normalizedImage(img *grader.ImageSummary) *grader.ImageSummary {
	if img == nil {
		return nil
	}
	c := *img
	if c.Layers == nil {
		c.Layers = []grader.Layer{}
	}
	return &c
}
