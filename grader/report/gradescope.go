package report

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/gradelab/grade/grader"
)

// gradescopeResults is Gradescope's autograder results.json.
type gradescopeResults struct {
	Score         int              `json:"score"`
	ExecutionTime int64            `json:"execution_time"`
	Output        string           `json:"output"`
	Tests         []gradescopeTest `json:"tests"`
}

type gradescopeTest struct {
	Name       string `json:"name"`
	Number     string `json:"number"`
	Score      int    `json:"score"`
	MaxScore   int    `json:"max_score"`
	Status     string `json:"status"`
	Output     string `json:"output"`
	Visibility string `json:"visibility"`
}

// Gradescope writes Gradescope's results.json (write it to
// /autograder/results/results.json).
//
// Bonus points are extra credit, which is what Gradescope users expect of
// "+10 extra": Gradescope lets a score exceed the assignment's total. So a
// bonus test has max_score 0 and scores the points earned, the required
// tests' max_scores add up to r.MaxScore (100, the total to set on the
// assignment), and the top-level score, which Gradescope takes over the
// sum of the tests, is r.Score + r.BonusScore — the sum of the tests'
// scores. A perfect submission with the bonus shows 110/100.
//
// Tests are numbered from 1 ("1", "2", …; Gradescope's number is a
// string); a test's status is "passed" or "failed" (a skipped or errored
// check fails, its output saying why), its output the message, location
// and hint, and every test is visible. execution_time is whole seconds,
// rounded. Gradescope has no "could not grade" state: when the grader
// could not grade the submission, the score covers the checks that ran
// and the output begins with NOT GRADED so that the run is redone rather
// than taken as the student's grade.
func Gradescope(w io.Writer, r *grader.Report) error {
	if r == nil {
		return errNilReport
	}
	res := gradescopeResults{
		Score:         r.Score + r.BonusScore,
		ExecutionTime: (max(r.DurationMS, 0) + 500) / 1000,
		Tests:         make([]gradescopeTest, 0, len(r.Checks)),
	}

	var out strings.Builder
	out.WriteString(clean(labTitle(r)) + "\n")
	out.WriteString("Score " + strconv.Itoa(r.Score) + "/" + strconv.Itoa(r.MaxScore))
	if r.BonusScore > 0 {
		out.WriteString(" (+" + strconv.Itoa(r.BonusScore) + " bonus)")
	}
	out.WriteString(" — ")
	switch {
	case !r.Gradable:
		out.WriteString("NOT GRADED: the grader could not grade this submission (exit 2); it must be run again.")
	case r.Passed:
		out.WriteString("PASSED: every required check passed.")
	default:
		out.WriteString("FAILED: " + failedDetail(r) + ".")
	}
	if r.Image != nil {
		out.WriteString("\nImage size " + grader.FormatSize(r.Image.SizeBytes))
		if r.SizeLimit > 0 {
			out.WriteString(" / " + grader.FormatSize(r.SizeLimit))
		}
	}
	res.Output = out.String()

	for i := range r.Checks {
		c := &r.Checks[i]
		t := gradescopeTest{
			Name:       c.ID + ": " + oneLine(c.Title),
			Number:     strconv.Itoa(i + 1),
			Score:      c.Score,
			MaxScore:   c.MaxScore,
			Status:     "failed",
			Visibility: "visible",
		}
		if c.Status == grader.StatusPass {
			t.Status = "passed"
		}
		if !c.Required {
			t.Name += " (bonus)"
			t.MaxScore = 0
		}
		var lines []string
		switch c.Status {
		case grader.StatusSkip:
			lines = append(lines, "Skipped.")
		case grader.StatusError:
			lines = append(lines, "Grader error (not your work's fault).")
		}
		if m := clean(c.Message); m != "" {
			lines = append(lines, m)
		}
		if loc := location(c); loc != "" && c.Status != grader.StatusPass {
			lines = append(lines, "At "+clean(loc))
		}
		if h := clean(hint(c)); h != "" {
			lines = append(lines, "Hint: "+h)
		}
		if l := buildLogFor(r, c); l != "" {
			lines = append(lines, l)
		}
		if !c.Required {
			lines = append(lines, "Extra credit: +"+strconv.Itoa(c.Score)+" of "+strconv.Itoa(c.MaxScore)+" bonus points.")
		}
		t.Output = strings.Join(lines, "\n")
		res.Tests = append(res.Tests, t)
	}

	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}
