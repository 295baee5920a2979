package report

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fatih/color"

	"github.com/gradelab/grade/grader"
)

const (
	textWidth   = 80 // wrap width of messages and hints
	labelWidth  = 12 // "Image size  "
	detailInset = 6  // indent of a check's message, hint and log
	logLines    = 15 // build log lines shown without Verbose
	layerWidth  = 60 // runes of a layer's command shown
)

// palette holds one color.Color per role, each switched on or off
// explicitly so that neither the environment (NO_COLOR, terminal) nor the
// package-global color.NoColor can change what Options.Color decided.
type palette struct {
	pass, fail, skip, err, bold *color.Color
	// verdicts: bold green, bold red, bold magenta
	passed, failed, notGraded *color.Color
}

func newPalette(on bool) palette {
	mk := func(a ...color.Attribute) *color.Color {
		c := color.New(a...)
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return palette{
		pass: mk(color.FgGreen),
		fail: mk(color.FgRed),
		skip: mk(color.FgYellow),
		err:  mk(color.FgMagenta),
		bold: mk(color.Bold),

		passed:    mk(color.FgGreen, color.Bold),
		failed:    mk(color.FgRed, color.Bold),
		notGraded: mk(color.FgMagenta, color.Bold),
	}
}

func (p palette) status(s grader.Status) *color.Color {
	switch s {
	case grader.StatusPass:
		return p.pass
	case grader.StatusFail:
		return p.fail
	case grader.StatusSkip:
		return p.skip
	}
	return p.err
}

// Text writes the student's scorecard: the lab and submission, the image
// size against the limit (and the baseline when measured), the lab's
// checkpoints, every check with the evidence and a hint for those that did
// not pass, the score and the verdict.
func Text(w io.Writer, r *grader.Report, o Options) error {
	if r == nil {
		return errNilReport
	}
	p := newPalette(o.Color)
	var b strings.Builder

	// Header.
	b.WriteString(p.bold.Sprint(clean(labTitle(r))) + "\n")
	if r.Submission != "" {
		b.WriteString(label("Submission") + clean(r.Submission) + "\n")
	}
	b.WriteString("\n")

	// Image.
	textImage(&b, r, o, p)

	// Checkpoints.
	if len(r.Checkpoints) > 0 {
		b.WriteString(p.bold.Sprint("Checkpoints") + "\n")
		rows := make([][3]string, len(r.Checkpoints))
		for i := range r.Checkpoints {
			cp := &r.Checkpoints[i]
			pts := ""
			if len(cp.Checks) > 0 {
				pts = points(checkpointPoints(r, cp))
			}
			rows[i] = [3]string{strconv.Itoa(cp.N), clean(cp.Title), pts}
		}
		nw, tw, pw := widths(rows)
		for i, row := range rows {
			st := r.Checkpoints[i].Status
			b.WriteString("  " + p.status(st).Sprint(symbol(st)) + " " +
				strings.TrimRight(padLeft(row[0], nw)+"  "+padRight(row[1], tw)+"  "+padLeft(row[2], pw), " "))
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}

	// Checks.
	buildLogShown := false
	if len(r.Checks) > 0 {
		b.WriteString(p.bold.Sprint("Checks") + "\n")
		rows := make([][3]string, len(r.Checks))
		for i := range r.Checks {
			c := &r.Checks[i]
			rows[i] = [3]string{c.ID, clean(c.Title), points(c.Score, c.MaxScore, !c.Required)}
		}
		iw, tw, pw := widths(rows)
		inset := strings.Repeat(" ", detailInset)
		for i, row := range rows {
			c := &r.Checks[i]
			b.WriteString("  " + p.status(c.Status).Sprint(symbol(c.Status)) + " " +
				padRight(row[0], iw) + "  " + padRight(row[1], tw) + "  " + padLeft(row[2], pw))
			b.WriteString("\n")
			if c.Status == grader.StatusPass && !o.Verbose {
				continue
			}
			msg := clean(c.Message)
			if loc := location(c); loc != "" {
				if msg == "" {
					msg = loc
				} else {
					msg = loc + ": " + msg
				}
			}
			if msg != "" {
				writeWrapped(&b, inset, inset, msg)
			}
			if h := clean(hint(c)); h != "" {
				writeWrapped(&b, inset+"hint: ", inset+"      ", h)
			}
			if c.ID == "image.build" && c.Status != grader.StatusPass && r.BuildLog != "" {
				textBuildLog(&b, inset, r.BuildLog, o)
				buildLogShown = true
			}
		}
		b.WriteString("\n")
	}
	if r.BuildLog != "" && !buildLogShown {
		b.WriteString(p.bold.Sprint("Build log") + "\n")
		textBuildLog(&b, "  ", r.BuildLog, o)
		b.WriteString("\n")
	}

	// Score and verdict.
	score := "Score " + scoreLine(r)
	if !r.Gradable {
		score += "  (incomplete)"
	}
	b.WriteString(p.bold.Sprint(score) + "\n")
	switch {
	case !r.Gradable:
		b.WriteString(p.notGraded.Sprint("NOT GRADED") +
			" — the grader could not grade this submission (exit 2)\n")
	case r.Passed:
		b.WriteString(p.passed.Sprint("PASSED") + " — every required check passed\n")
	default:
		b.WriteString(p.failed.Sprint("FAILED") + " — " + failedDetail(r) + "\n")
	}

	_, err := io.WriteString(w, b.String())
	return err
}

// textImage writes the image size (and baseline, and layers) lines.
func textImage(b *strings.Builder, r *grader.Report, o Options, p palette) {
	img := r.Image
	if img == nil {
		b.WriteString(label("Image size") + "– no image was built\n")
	} else {
		line := label("Image size") + grader.FormatSize(img.SizeBytes)
		if r.SizeLimit > 0 {
			line += " / " + grader.FormatSize(r.SizeLimit) + "  "
			if img.SizeBytes <= r.SizeLimit {
				line += p.pass.Sprint(symbol(grader.StatusPass))
			} else {
				line += p.fail.Sprint(symbol(grader.StatusFail))
			}
		}
		b.WriteString(line + "\n")
	}
	if r.Baseline != nil {
		line := label("Baseline") + grader.FormatSize(r.Baseline.SizeBytes)
		if img != nil {
			line += " → " + grader.FormatSize(img.SizeBytes)
			if q := ratio(r.Baseline.SizeBytes, img.SizeBytes); q != "" {
				line += " (" + q + ")"
			}
		}
		b.WriteString(line + "\n")
	}
	if img != nil && len(img.Layers) > 0 {
		pad := strings.Repeat(" ", labelWidth)
		big := largestLayer(img)
		switch {
		case o.Verbose:
			b.WriteString(label("Layers") + "(oldest first)\n")
			for i, l := range img.Layers {
				mark := ""
				if i == big {
					mark = "  ◀ largest"
				}
				b.WriteString(pad + padLeft(grader.FormatSize(l.SizeBytes), 9) + "  " +
					truncate(oneLine(l.CreatedBy), layerWidth) + mark + "\n")
			}
		case r.SizeLimit > 0 && img.SizeBytes > r.SizeLimit:
			l := img.Layers[big]
			b.WriteString(pad + "largest layer " + grader.FormatSize(l.SizeBytes) + ": " +
				truncate(oneLine(l.CreatedBy), layerWidth) + "\n")
		}
	}
	b.WriteString("\n")
}

// textBuildLog writes the tail of the build log (all of it when Verbose).
func textBuildLog(b *strings.Builder, inset, log string, o Options) {
	n := logLines
	if o.Verbose {
		n = 0
	}
	lines, total := logTail(log, n)
	if len(lines) == 0 {
		return
	}
	head := "build log:"
	if len(lines) < total {
		head = "build log (last " + strconv.Itoa(len(lines)) + " of " + strconv.Itoa(total) + " lines):"
	}
	b.WriteString(inset + head + "\n")
	for _, l := range lines {
		b.WriteString(strings.TrimRight(inset+"  │ "+l, " ") + "\n")
	}
}

// writeWrapped writes text word-wrapped to textWidth: the first line starts
// with first, the following ones with rest. Newlines in text are kept.
func writeWrapped(b *strings.Builder, first, rest, text string) {
	prefix := first
	for _, para := range strings.Split(text, "\n") {
		for _, line := range wrap(para, textWidth-utf8.RuneCountInString(rest)) {
			b.WriteString(strings.TrimRight(prefix+line, " ") + "\n")
			prefix = rest
		}
	}
}

// wrap splits one paragraph into lines of at most width runes, breaking at
// spaces; a word longer than width gets a line of its own.
func wrap(para string, width int) []string {
	if width < 20 {
		width = 20
	}
	words := strings.Fields(para)
	if len(words) == 0 {
		return []string{""}
	}
	// Keep the paragraph's own indentation (e.g. an indented listing).
	indent := para[:len(para)-len(strings.TrimLeft(para, " "))]
	var lines []string
	cur := indent + words[0]
	for _, wd := range words[1:] {
		if utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(wd) > width {
			lines = append(lines, cur)
			cur = indent + wd
			continue
		}
		cur += " " + wd
	}
	return append(lines, cur)
}

// oneLine joins the lines of s with spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(clean(s)), " ")
}

func label(s string) string { return padRight(s, labelWidth) }

func padRight(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

func padLeft(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return strings.Repeat(" ", n-k) + s
	}
	return s
}

// widths returns the widest cell of each of the three columns.
func widths(rows [][3]string) (a, b, c int) {
	for _, r := range rows {
		a = max(a, utf8.RuneCountInString(r[0]))
		b = max(b, utf8.RuneCountInString(r[1]))
		c = max(c, utf8.RuneCountInString(r[2]))
	}
	return a, b, c
}
