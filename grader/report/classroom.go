package report

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/gradelab/grade/grader"
)

// contractMaxScore is the contract's max_score, used by the classroom
// format when a report has no required checks to total (it must be > 0).
const contractMaxScore = 100

// classroomResult is the JSON that GitHub Classroom's
// autograding-grading-reporter decodes from a runner's base64 output.
type classroomResult struct {
	Version  int             `json:"version"`
	Status   string          `json:"status"`
	MaxScore int             `json:"max_score"`
	Tests    []classroomTest `json:"tests"`
}

type classroomTest struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Score    int    `json:"score"`
	Message  string `json:"message"`
	TestCode string `json:"test_code"`
	Filename string `json:"filename"`
	LineNo   int    `json:"line_no"`
	Duration int64  `json:"duration"` // milliseconds, as the official graders
}

// Classroom writes the base64 of the JSON result that GitHub Classroom's
// autograding-grading-reporter reads (set it as the step output `result`),
// followed by a newline.
//
// There is one test per check, bonus included, each with its own points
// (partial credit). The reporter adds up every test's score against
// max_score, so the total must equal the JSON report's score: max_score is
// r.MaxScore, and a bonus test scores 0 whatever happens, its name and
// message telling the bonus points earned. A test's status is "pass",
// "fail" or "error"; a skipped check is "fail" with a message starting
// "skipped:". The overall status is "error" when the submission could not
// be graded, "fail" when a required check did not pass, else "pass". The
// reporter shows students only the names of passing tests and the messages
// of the others, so print the text scorecard to the log as well.
func Classroom(w io.Writer, r *grader.Report) error {
	if r == nil {
		return errNilReport
	}
	res := classroomResult{
		Version:  1,
		Status:   "pass",
		MaxScore: r.MaxScore,
		Tests:    make([]classroomTest, 0, len(r.Checks)),
	}
	switch {
	case !r.Gradable:
		res.Status = "error"
	case !r.Passed:
		res.Status = "fail"
	}
	if res.MaxScore <= 0 {
		res.MaxScore = contractMaxScore
	}
	for i := range r.Checks {
		c := &r.Checks[i]
		t := classroomTest{
			Name:     c.ID + ": " + oneLine(c.Title),
			Status:   "fail",
			Score:    c.Score,
			TestCode: c.ID,
			Filename: c.File,
			LineNo:   max(c.Line, 0),
			Duration: max(c.DurationMS, 0),
		}
		var msg []string
		switch c.Status {
		case grader.StatusPass:
			t.Status = "pass"
		case grader.StatusError:
			t.Status = "error"
			msg = append(msg, "grader error (not your work's fault)")
		case grader.StatusSkip:
			msg = append(msg, "skipped")
		}
		if !c.Required {
			t.Name += " (bonus +" + strconv.Itoa(c.MaxScore) + ")"
			t.Score = 0
			msg = append(msg, "bonus: +"+strconv.Itoa(c.Score)+" of "+strconv.Itoa(c.MaxScore)+
				" extra points, reported apart from the score")
		}
		text := strings.Join(msg, "; ")
		if m := clean(c.Message); m != "" {
			if text != "" {
				text += ": "
			}
			text += m
		}
		if loc := location(c); loc != "" && c.Status != grader.StatusPass {
			text += " (" + clean(loc) + ")"
		}
		if h := clean(hint(c)); h != "" {
			text += "\nHint: " + h
		}
		if l := buildLogFor(r, c); l != "" {
			text += "\n" + l
		}
		t.Message = text
		res.Tests = append(res.Tests, t)
	}
	js, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, base64.StdEncoding.EncodeToString(js)+"\n")
	return err
}
