// Package batch grades many submissions: it schedules them over one or more
// Docker Engines, survives failures and interruptions, and writes a
// gradebook, per-student feedback and a class report.
package batch

import (
	"strings"

	"github.com/gradelab/grade/grader"
)

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

	// ContentHash identifies what was graded: "git:<commit>" for a
	// repository, "sha256:<hex>" of the folder's files otherwise.
	ContentHash string `json:"content_hash,omitempty"`
	// Grader identifies the grade build that graded it (see GraderID).
	Grader string `json:"grader,omitempty"`
	// Settings is the fingerprint of the instructor's settings (see
	// Fingerprint). --resume reuses a result only when ContentHash, Grader
	// and Settings all match.
	Settings string `json:"settings,omitempty"`
	// Attempts is how many times grade ran on it (2 after a retry).
	Attempts int `json:"attempts,omitempty"`
	// Engine is the DOCKER_HOST that graded it ("" for the default engine).
	Engine string `json:"engine,omitempty"`
}

// Gradable reports whether the entry has a gradable report.
func (e *Entry) Gradable() bool { return e.Report != nil && e.Report.Gradable }

// Reason is why the entry is not gradable: its Error, else the message of
// its report's first check with status error; "" for a gradable entry.
func (e *Entry) Reason() string {
	if e.Gradable() {
		return ""
	}
	if e.Error != "" {
		return e.Error
	}
	if e.Report != nil {
		for _, c := range e.Report.Checks {
			if c.Status == grader.StatusError {
				return c.ID + ": " + firstLine(c.Message)
			}
		}
	}
	return "not graded"
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
