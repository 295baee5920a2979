package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/report"
)

// maxAnnotation is the most runes of a check's message (and hint) an
// annotation carries: Actions shows annotations in small boxes and caps
// their number and size, and the whole scorecard is in the step summary.
const maxAnnotation = 400

// githubActions publishes a report to GitHub Actions, as main does when
// GITHUB_ACTIONS=true, after the reports were written. getenv reads the
// environment; workflow commands go to log (stdout).
//
//   - $GITHUB_STEP_SUMMARY gets the Markdown scorecard appended.
//   - $GITHUB_OUTPUT gets the step outputs score, max_score, bonus_score,
//     passed, gradable (true/false) and result: the classroom format, the
//     base64 JSON that classroom-resources/autograding-grading-reporter
//     reads from the env variable <STEP-ID>_RESULTS.
//   - log gets one ::error annotation per failed check that points at a
//     file and line (the Dockerfile checks), at that line of the file
//     relative to $GITHUB_WORKSPACE; then a single annotation with the
//     verdict (::notice when passed, ::error otherwise), which also names
//     the other failed checks; then, when the build failed, the build log
//     folded into a "Build log" group, with workflow commands stopped so
//     that nothing the student's build printed is taken for one.
//
// An unset variable skips its part silently. A file that cannot be written
// is an error; the other parts are still done.
func githubActions(rep *grader.Report, getenv func(string) string, log io.Writer) error {
	if rep == nil {
		return errors.New("no report")
	}
	var errs []error
	if path := getenv("GITHUB_STEP_SUMMARY"); path != "" {
		var md bytes.Buffer
		if err := report.Markdown(&md, rep); err != nil {
			errs = append(errs, fmt.Errorf("step summary: %w", err))
		} else if err := appendSummary(path, md.Bytes()); err != nil {
			errs = append(errs, fmt.Errorf("step summary: %w", err))
		}
	}
	if path := getenv("GITHUB_OUTPUT"); path != "" {
		if err := writeOutputs(path, rep); err != nil {
			errs = append(errs, fmt.Errorf("step outputs: %w", err))
		}
	}
	if err := annotate(log, rep, getenv("GITHUB_WORKSPACE")); err != nil {
		errs = append(errs, fmt.Errorf("annotations: %w", err))
	}
	return errors.Join(errs...)
}

// appendSummary appends md to the step summary file, on a line of its own.
func appendSummary(path string, md []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		md = append([]byte("\n"), md...)
	}
	_, err = f.Write(md)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// outputs are the step outputs of a report, in the order they are written.
func outputs(rep *grader.Report) ([][2]string, error) {
	var cls bytes.Buffer
	if err := report.Classroom(&cls, rep); err != nil {
		return nil, err
	}
	return [][2]string{
		{"score", strconv.Itoa(rep.Score)},
		{"max_score", strconv.Itoa(rep.MaxScore)},
		{"bonus_score", strconv.Itoa(rep.BonusScore)},
		{"passed", strconv.FormatBool(rep.Passed)},
		{"gradable", strconv.FormatBool(rep.Gradable)},
		{"result", strings.TrimRight(cls.String(), "\n")},
	}, nil
}

// writeOutputs appends the step outputs to the $GITHUB_OUTPUT file.
func writeOutputs(path string, rep *grader.Report) error {
	outs, err := outputs(rep)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, o := range outs {
		b.WriteString(outputLine(o[0], o[1]))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// outputLine is one entry of a $GITHUB_OUTPUT file: "name=value\n", or
// for a value with a line break the "name<<DELIM" form with a delimiter
// that does not occur in the value.
func outputLine(name, value string) string {
	if !strings.ContainsAny(value, "\r\n") {
		return name + "=" + value + "\n"
	}
	delim := "GRADE_EOF_" + randomHex()
	for strings.Contains(value, delim) {
		delim = "GRADE_EOF_" + randomHex()
	}
	return name + "<<" + delim + "\n" + value + "\n" + delim + "\n"
}

func randomHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// annotate writes the workflow commands for rep to w.
func annotate(w io.Writer, rep *grader.Report, workspace string) error {
	var b strings.Builder
	var unplaced []*grader.Result // failed checks without a line to point at
	for i := range rep.Checks {
		c := &rep.Checks[i]
		if c.Status != grader.StatusFail && c.Status != grader.StatusError {
			continue
		}
		file := ""
		if c.File != "" && c.Line > 0 {
			file = workspaceFile(rep.Submission, c.File, workspace)
		}
		if file == "" {
			unplaced = append(unplaced, c)
			continue
		}
		level, msg := "error", c.Message
		switch {
		case c.Status == grader.StatusError:
			// The grader's or the environment's fault, not the student's.
			level, msg = "warning", "grader error (not your work's fault): "+msg
		case !c.Required:
			level, msg = "warning", "bonus, optional: "+msg
		}
		if c.Hint != "" {
			msg += "\nHint: " + c.Hint
		}
		b.WriteString(command(level, [][2]string{
			{"file", file},
			{"line", strconv.Itoa(c.Line)},
			{"title", c.ID},
		}, msg))
	}
	b.WriteString(verdictCommand(rep, unplaced))
	if log := buildLog(rep); log != "" {
		// Stop workflow commands while the student's build output prints:
		// a line such as "::add-mask::" or "::error::" in it stays text.
		token := "grade-" + randomHex()
		b.WriteString("::group::Build log\n")
		b.WriteString("::stop-commands::" + token + "\n")
		b.WriteString(log)
		b.WriteString("::" + token + "::\n")
		b.WriteString("::endgroup::\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// verdictCommand is the one annotation with the overall result: the score,
// the required checks that failed, and the first line of the message of
// each failed check that got no annotation at a line (unplaced).
func verdictCommand(rep *grader.Report, unplaced []*grader.Result) string {
	if !rep.Gradable {
		msg := "grade could not grade this submission (exit 2): the grader or its environment failed, not your work. Run the workflow again; tell your instructor if it persists."
		for _, c := range rep.Checks {
			if c.Status == grader.StatusError {
				msg += "\n" + c.ID + ": " + firstLine(c.Message)
				break
			}
		}
		return command("error", [][2]string{{"title", "Not graded"}}, msg)
	}
	title := "Score " + strconv.Itoa(rep.Score) + "/" + strconv.Itoa(rep.MaxScore)
	if rep.BonusScore > 0 {
		title += " (+" + strconv.Itoa(rep.BonusScore) + " bonus)"
	}
	if rep.Passed {
		msg := "PASSED: every required check passed."
		for _, c := range unplaced { // a failed bonus
			msg += "\n" + c.ID + ": " + firstLine(c.Message)
		}
		return command("notice", [][2]string{{"title", title}}, msg)
	}
	var failed []string
	for _, c := range rep.Checks {
		if c.Required && c.Status != grader.StatusPass && c.Status != grader.StatusSkip {
			failed = append(failed, c.ID)
		}
	}
	msg := "FAILED: " + strconv.Itoa(len(failed)) + " required check"
	if len(failed) != 1 {
		msg += "s"
	}
	msg += " failed: " + strings.Join(failed, ", ") + ". The scorecard is in the step summary and the log."
	for _, c := range unplaced {
		msg += "\n" + c.ID + ": " + firstLine(c.Message)
	}
	return command("error", [][2]string{{"title", title}}, msg)
}

// buildLog is the build log to fold into the job log: the report's tail of
// a failed build, line breaks normalized and ending in one.
func buildLog(rep *grader.Report) string {
	if rep.BuildLog == "" {
		return ""
	}
	for _, c := range rep.Checks {
		if c.ID == "image.build" && c.Status == grader.StatusPass {
			return ""
		}
	}
	log := strings.ReplaceAll(rep.BuildLog, "\r\n", "\n")
	log = strings.TrimRight(log, "\n")
	if strings.TrimSpace(log) == "" {
		return ""
	}
	return log + "\n"
}

// workspaceFile is the path of file (relative to the submission folder)
// relative to the workspace, with forward slashes, as annotations want it;
// "" when it is not inside the workspace or there is no workspace.
func workspaceFile(submission, file, workspace string) string {
	if workspace == "" {
		return ""
	}
	p := file
	if !filepath.IsAbs(p) {
		p = filepath.Join(submission, file)
	}
	for _, cand := range [][2]string{{workspace, p}, {evalSymlinks(workspace), evalSymlinks(p)}} {
		rel, err := filepath.Rel(cand[0], cand[1])
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			continue
		}
		return filepath.ToSlash(rel)
	}
	return ""
}

func evalSymlinks(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// command is a workflow command line "::name k=v,…::message\n" with the
// properties and the message escaped, the message cleaned and shortened.
func command(name string, props [][2]string, msg string) string {
	var b strings.Builder
	b.WriteString("::" + name)
	for i, p := range props {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		v := sanitize(p[1])
		if p[0] == "title" {
			v = shorten(v, 120)
		}
		b.WriteString(p[0] + "=" + escapeProperty(v))
	}
	b.WriteString("::" + escapeData(shorten(sanitize(msg), maxAnnotation)) + "\n")
	return b.String()
}

// escapeData escapes the message of a workflow command.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a property value of a workflow command.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

var ansiRE = regexp.MustCompile(`\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|.)`)

// sanitize removes ANSI escape sequences and control characters but line
// breaks from text the student's work produced; tabs become spaces.
func sanitize(s string) string {
	s = ansiRE.ReplaceAllString(strings.ReplaceAll(s, "\r\n", "\n"), "")
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// shorten cuts s to at most n runes, ending in "…" when cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
