// Package report renders a *grader.Report in the output formats of the
// contract: the student's text scorecard, the JSON report, JUnit XML for CI
// servers, a GitHub-flavoured Markdown summary, the GitHub Classroom
// autograding result and Gradescope's results.json.
//
// Renderers see only the Report and the render Options; they never look at
// the environment (terminal, NO_COLOR, CI variables). The caller decides.
package report

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gradelab/grade/grader"
)

// Options tune the rendering of a report.
type Options struct {
	// Color enables ANSI colors in the text format. The caller decides it
	// (terminal, NO_COLOR, --color); when false no escape sequence is ever
	// written, whatever the environment.
	Color bool
	// Verbose adds evidence to the text format: the messages of passing
	// checks, every image layer and the whole build log.
	Verbose bool
}

// A renderer writes one format.
type renderer func(io.Writer, *grader.Report, Options) error

var formats = []struct {
	name string
	fn   renderer
}{
	{"text", Text},
	{"json", func(w io.Writer, r *grader.Report, _ Options) error { return JSON(w, r) }},
	{"junit", func(w io.Writer, r *grader.Report, _ Options) error { return JUnit(w, r) }},
	{"markdown", func(w io.Writer, r *grader.Report, _ Options) error { return Markdown(w, r) }},
	{"classroom", func(w io.Writer, r *grader.Report, _ Options) error { return Classroom(w, r) }},
	{"gradescope", func(w io.Writer, r *grader.Report, _ Options) error { return Gradescope(w, r) }},
}

// Formats returns the names of the output formats, in the contract's order:
// text, json, junit, markdown, classroom, gradescope.
func Formats() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = f.name
	}
	return out
}

// Render writes r to w in the named format. An unknown format is an error
// that lists the valid ones.
func Render(w io.Writer, format string, r *grader.Report, o Options) error {
	for _, f := range formats {
		if f.name == format {
			return f.fn(w, r, o)
		}
	}
	return fmt.Errorf("unknown format %q (valid formats: %s)", format, strings.Join(Formats(), ", "))
}

var errNilReport = errors.New("report: nil *grader.Report")

// symbol is the text scorecard's mark for a status.
func symbol(s grader.Status) string {
	switch s {
	case grader.StatusPass:
		return "✔"
	case grader.StatusFail:
		return "✘"
	case grader.StatusSkip:
		return "–"
	case grader.StatusError:
		return "!"
	}
	return "?"
}

// emoji is the Markdown mark for a status.
func emoji(s grader.Status) string {
	switch s {
	case grader.StatusPass:
		return "✅"
	case grader.StatusFail:
		return "❌"
	case grader.StatusSkip:
		return "⏭️"
	case grader.StatusError:
		return "⚠️"
	}
	return "❔"
}

// errorHint is shown for an error check that carries no hint of its own:
// an error is the grader's or the environment's fault, never the student's.
const errorHint = "This is a problem of the grader or its environment, not of your work: run the grader again, or tell your instructor if it persists."

// hint is the hint to show for a check: its own, or for an error check
// without one, errorHint. Passing checks have none.
func hint(c *grader.Result) string {
	switch {
	case c.Status == grader.StatusPass:
		return ""
	case c.Hint != "":
		return c.Hint
	case c.Status == grader.StatusError:
		return errorHint
	}
	return ""
}

// location is "FILE:LINE" when the check points at a line, "FILE" when it
// names only a file, and "" otherwise.
func location(c *grader.Result) string {
	switch {
	case c.Line > 0 && c.File != "":
		return c.File + ":" + strconv.Itoa(c.Line)
	case c.Line > 0:
		return "line " + strconv.Itoa(c.Line)
	}
	return c.File
}

// verdict is the one-word outcome of the report.
func verdict(r *grader.Report) string {
	switch {
	case !r.Gradable:
		return "NOT GRADED"
	case r.Passed:
		return "PASSED"
	}
	return "FAILED"
}

// checkpointPoints sums the points earned and possible of the checks that
// evidence cp; bonus is true when all of them are bonus checks.
func checkpointPoints(r *grader.Report, cp *grader.CheckpointResult) (score, max int, bonus bool) {
	bonus = len(cp.Checks) > 0
	for _, id := range cp.Checks {
		for i := range r.Checks {
			c := &r.Checks[i]
			if c.ID != id {
				continue
			}
			score += c.Score
			max += c.MaxScore
			if c.Required {
				bonus = false
			}
			break
		}
	}
	return score, max, bonus
}

// points formats earned/possible; bonus points carry a leading "+".
func points(score, max int, bonus bool) string {
	s := strconv.Itoa(score) + "/" + strconv.Itoa(max)
	if bonus {
		s = "+" + s
	}
	return s
}

// scoreLine is "85/100" with " (+10 bonus)" when bonus points were earned.
func scoreLine(r *grader.Report) string {
	s := strconv.Itoa(r.Score) + "/" + strconv.Itoa(r.MaxScore)
	if r.BonusScore > 0 {
		s += "  (+" + strconv.Itoa(r.BonusScore) + " bonus)"
	}
	return s
}

// failedDetail says how many required checks failed and were skipped, as
// in "3 required checks failed and 9 were skipped".
func failedDetail(r *grader.Report) string {
	failed, skipped := 0, 0
	for _, c := range r.Checks {
		switch {
		case !c.Required || c.Status == grader.StatusPass:
		case c.Status == grader.StatusSkip:
			skipped++
		default:
			failed++
		}
	}
	s := strconv.Itoa(failed) + " required check"
	if failed != 1 {
		s += "s"
	}
	s += " failed"
	switch {
	case skipped == 1:
		s += " and 1 was skipped"
	case skipped > 1:
		s += " and " + strconv.Itoa(skipped) + " were skipped"
	}
	return s
}

// buildLogFor is the tail of the build log to attach to check c (the
// failed or errored image.build), "" for any other check.
func buildLogFor(r *grader.Report, c *grader.Result) string {
	if c.ID != "image.build" || c.Status == grader.StatusPass || r.BuildLog == "" {
		return ""
	}
	lines, total := logTail(r.BuildLog, logLines)
	if len(lines) == 0 {
		return ""
	}
	head := "Build log:"
	if len(lines) < total {
		head = "Build log (last " + strconv.Itoa(len(lines)) + " of " + strconv.Itoa(total) + " lines):"
	}
	return head + "\n" + strings.Join(lines, "\n")
}

// labTitle is the lab's title, or its id when it has none.
func labTitle(r *grader.Report) string {
	if r.LabTitle != "" {
		return r.LabTitle
	}
	return r.Lab
}

// ratio describes how much smaller the image is than the baseline:
// "150× smaller", "1.5× smaller", "2× larger"; "" when either size is 0.
func ratio(baseline, image int64) string {
	if baseline <= 0 || image <= 0 {
		return ""
	}
	word := "smaller"
	f := float64(baseline) / float64(image)
	if f < 1 {
		word = "larger"
		f = 1 / f
	}
	var s string
	if f >= 10 {
		s = strconv.FormatFloat(f, 'f', 0, 64)
	} else {
		s = strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0")
	}
	return s + "× " + word
}

// largestLayer returns the index of the layer that adds the most, or -1.
func largestLayer(img *grader.ImageSummary) int {
	best := -1
	for i, l := range img.Layers {
		if best < 0 || l.SizeBytes > img.Layers[best].SizeBytes {
			best = i
		}
	}
	return best
}

// clean makes text from the outside (messages, logs, command lines) safe to
// print: ANSI escape sequences are removed, carriage-return overwrites keep
// their last part, tabs become spaces and other control characters go.
func clean(s string) string {
	if s == "" {
		return s
	}
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, line := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		if j := strings.LastIndexByte(strings.TrimRight(line, "\r"), '\r'); j >= 0 {
			line = line[j+1:]
		}
		for k := 0; k < len(line); {
			r, size := utf8.DecodeRuneInString(line[k:])
			switch {
			case r == 0x1b: // ESC: skip the whole sequence
				k += escapeLen(line[k:])
				continue
			case r == '\t':
				b.WriteString("    ")
			case r == utf8.RuneError && size == 1:
				b.WriteRune(utf8.RuneError)
			case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
				// drop other control characters
			default:
				b.WriteRune(r)
			}
			k += size
		}
	}
	return b.String()
}

// escapeLen is the length of the escape sequence at the start of s (which
// begins with ESC): CSI "ESC [ … final", OSC "ESC ] … BEL|ESC \", or ESC
// and one character.
func escapeLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case '[':
		for i := 2; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
		}
		return len(s)
	case ']':
		for i := 2; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	return 2
}

// logTail returns the last n lines of a cleaned log (all when n <= 0) and
// the total number of lines.
func logTail(log string, n int) ([]string, int) {
	log = strings.TrimRight(clean(log), "\n ")
	if log == "" {
		return nil, 0
	}
	lines := strings.Split(log, "\n")
	total := len(lines)
	if n > 0 && total > n {
		lines = lines[total-n:]
	}
	return lines, total
}

// truncate shortens s to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

// seconds formats milliseconds as seconds with exactly three decimals.
func seconds(ms int64) string {
	if ms < 0 {
		ms = 0
	}
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}
