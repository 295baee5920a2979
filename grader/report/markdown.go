package report

import (
	"io"
	"strconv"
	"strings"

	"github.com/gradelab/grade/grader"
)

// Markdown writes the scorecard as GitHub-flavoured Markdown, fit to be
// appended to $GITHUB_STEP_SUMMARY: a heading with the lab and the score,
// a line with the verdict and the image size, a table of the lab's
// checkpoints, a table of the checks (status, id, title, points, message),
// a "What to fix" list with the message and hint of every failed or
// errored check, and the tail of the build log when the build failed.
//
// Text from the outside is escaped: Markdown punctuation and HTML are
// backslash-escaped or turned into entities, "|" becomes "\|" and newlines
// become <br> inside table cells and list items.
func Markdown(w io.Writer, r *grader.Report) error {
	if r == nil {
		return errNilReport
	}
	var b strings.Builder

	head := "✅"
	switch {
	case !r.Gradable:
		head = "⚠️"
	case !r.Passed:
		head = "❌"
	}
	b.WriteString("## " + head + " " + mdText(labTitle(r)) + " — ")
	if !r.Gradable {
		b.WriteString("not graded (" + strconv.Itoa(r.Score) + "/" + strconv.Itoa(r.MaxScore) + " so far)")
	} else {
		b.WriteString(strconv.Itoa(r.Score) + "/" + strconv.Itoa(r.MaxScore))
		if r.BonusScore > 0 {
			b.WriteString(" (+" + strconv.Itoa(r.BonusScore) + " bonus)")
		}
	}
	b.WriteString("\n\n")

	var facts []string
	switch {
	case !r.Gradable:
		facts = append(facts, "**NOT GRADED** — the grader could not grade this submission (exit 2)")
	case r.Passed:
		facts = append(facts, "**PASSED**")
	default:
		facts = append(facts, "**FAILED**")
	}
	if r.Submission != "" {
		facts = append(facts, "submission "+mdCode(r.Submission))
	}
	if r.Image == nil {
		facts = append(facts, "no image built")
	} else {
		s := "image " + grader.FormatSize(r.Image.SizeBytes)
		if r.SizeLimit > 0 {
			s += " / " + grader.FormatSize(r.SizeLimit)
			if r.Image.SizeBytes <= r.SizeLimit {
				s += " " + emoji(grader.StatusPass)
			} else {
				s += " " + emoji(grader.StatusFail)
			}
		}
		facts = append(facts, s)
	}
	if r.Baseline != nil {
		s := "baseline " + grader.FormatSize(r.Baseline.SizeBytes)
		if r.Image != nil {
			s += " → " + grader.FormatSize(r.Image.SizeBytes)
			if q := ratio(r.Baseline.SizeBytes, r.Image.SizeBytes); q != "" {
				s += " (" + q + ")"
			}
		}
		facts = append(facts, s)
	}
	b.WriteString(strings.Join(facts, " · ") + "\n\n")

	if len(r.Checkpoints) > 0 {
		b.WriteString("### Checkpoints\n\n")
		b.WriteString("| | # | Checkpoint | Points |\n|:-:|--:|---|--:|\n")
		for i := range r.Checkpoints {
			cp := &r.Checkpoints[i]
			pts := ""
			if len(cp.Checks) > 0 {
				pts = points(checkpointPoints(r, cp))
			}
			b.WriteString("| " + emoji(cp.Status) + " | " + strconv.Itoa(cp.N) + " | " +
				mdCell(cp.Title) + " | " + pts + " |\n")
		}
		b.WriteString("\n")
	}

	if len(r.Checks) > 0 {
		b.WriteString("### Checks\n\n")
		b.WriteString("| | Check | Title | Points | Message |\n|:-:|---|---|--:|---|\n")
		for i := range r.Checks {
			c := &r.Checks[i]
			b.WriteString("| " + emoji(c.Status) + " | " + mdCode(c.ID) + " | " + mdCell(c.Title) + " | " +
				points(c.Score, c.MaxScore, !c.Required) + " | " + mdCell(c.Message) + " |\n")
		}
		b.WriteString("\n")
	}

	var fixes []string
	for i := range r.Checks {
		c := &r.Checks[i]
		if c.Status != grader.StatusFail && c.Status != grader.StatusError {
			continue
		}
		item := "- " + emoji(c.Status) + " **" + mdCode(c.ID) + "**"
		if loc := location(c); loc != "" {
			item += " (" + mdCode(loc) + ")"
		}
		if m := mdCell(c.Message); m != "" {
			item += ": " + m
		}
		if h := hint(c); h != "" {
			item += "<br>💡 " + mdCell(h)
		}
		fixes = append(fixes, item)
	}
	if len(fixes) > 0 {
		b.WriteString("### What to fix\n\n" + strings.Join(fixes, "\n") + "\n\n")
	}

	if r.BuildLog != "" {
		lines, total := logTail(r.BuildLog, logLines)
		if len(lines) > 0 {
			summary := "Build log"
			if len(lines) < total {
				summary += " (last " + strconv.Itoa(len(lines)) + " of " + strconv.Itoa(total) + " lines)"
			}
			body := strings.Join(lines, "\n")
			fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
			b.WriteString("<details><summary>" + summary + "</summary>\n\n" +
				fence + "text\n" + body + "\n" + fence + "\n\n</details>\n\n")
		}
	}

	out := strings.TrimRight(b.String(), "\n") + "\n"
	_, err := io.WriteString(w, out)
	return err
}

// mdText escapes inline text: Markdown punctuation is backslash-escaped
// and HTML-significant characters become entities.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range clean(s) {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\\', '`', '*', '_', '[', ']', '|', '~', '#', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCell escapes text for a table cell or a list item: as mdText, with
// newlines as <br>.
func mdCell(s string) string {
	s = strings.TrimSpace(clean(s))
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = mdText(strings.TrimSpace(l))
	}
	return strings.Join(lines, "<br>")
}

// mdCode is s as an inline code span, fenced with enough backticks. Code
// spans do not interpret backslashes, so "|" (which GitHub's table parser
// still splits on) and newlines are replaced instead.
func mdCode(s string) string {
	s = strings.ReplaceAll(oneLine(s), "|", "¦")
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}
