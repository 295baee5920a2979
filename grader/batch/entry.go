// Package batch grades many submissions: it schedules them over one or more
// Docker Engines, survives failures and interruptions, and writes a
// gradebook, per-student feedback and a class report.
package batch

import "github.com/gradelab/grade/grader"

// Entry is one submission's result in a batch.
type Entry struct {
	// Name identifies the student or repository (unique within a batch).
	Name string `json:"name"`
	// Source is where the submission came from: a folder or a git URL.
	Source string `json:"source"`
	// Commit is the graded commit for git sources, "" for folders.
	Commit string `json:"commit,omitempty"`
	// Report is the grading report; nil when the submission could not be
	// graded at all (e.g. the repository could not be cloned).
	Report *grader.Report `json:"report,omitempty"`
	// Error says why there is no report, or why it is not gradable.
	Error string `json:"error,omitempty"`
}

// Gradable reports whether the entry has a gradable report.
func (e *Entry) Gradable() bool { return e.Report != nil && e.Report.Gradable }
