package report

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gradelab/grade/grader"
)

// JUnit writes the report as JUnit XML that validates against the Jenkins
// xUnit plugin's schema (junit-10.xsd): one <testsuites> holding one
// <testsuite> for the submission and one <testcase> per check.
//
//   - testsuite: name "LAB: SUBMISSION", tests, failures, errors, skipped,
//     time (seconds, 3 decimals) and timestamp (UTC, when known); the
//     score, max_score, bonus_score, bonus_max, passed and gradable (and
//     the lab, submission, grader version and image size) as <property>;
//     the build log, when there is one, as the suite's <system-out>.
//   - testcase: classname is the check id's prefix ("dockerfile", "image",
//     "runtime", "bonus"), name the check id, time its duration. A failed
//     check has <failure message="…" type="fail">, an errored one
//     <error message="…" type="error">, a skipped one <skipped message="…"/>;
//     the body holds the message, the location and the hint. A passing
//     check's evidence goes to the testcase's <system-out>.
//
// <testsuites> carries only the attributes the schema allows there (name,
// time, tests, failures, errors; no skipped).
func JUnit(w io.Writer, r *grader.Report) error {
	if r == nil {
		return errNilReport
	}
	var failures, errs, skipped int
	for _, c := range r.Checks {
		switch c.Status {
		case grader.StatusFail:
			failures++
		case grader.StatusError:
			errs++
		case grader.StatusSkip:
			skipped++
		}
	}
	tests := strconv.Itoa(len(r.Checks))
	fails, errors := strconv.Itoa(failures), strconv.Itoa(errs)
	total := seconds(r.DurationMS)

	name := r.Lab
	if r.Submission != "" {
		if name != "" {
			name += ": "
		}
		name += r.Submission
	}

	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString("<testsuites" + attr("name", "grade") + attr("tests", tests) +
		attr("failures", fails) + attr("errors", errors) + attr("time", total) + ">\n")

	b.WriteString("  <testsuite" + attr("name", name) + attr("tests", tests) +
		attr("failures", fails) + attr("errors", errors) + attr("skipped", strconv.Itoa(skipped)) +
		attr("time", total))
	if !r.StartedAt.IsZero() {
		b.WriteString(attr("timestamp", r.StartedAt.UTC().Format("2006-01-02T15:04:05")))
	}
	b.WriteString(">\n")

	b.WriteString("    <properties>\n")
	props := [][2]string{
		{"score", strconv.Itoa(r.Score)},
		{"max_score", strconv.Itoa(r.MaxScore)},
		{"bonus_score", strconv.Itoa(r.BonusScore)},
		{"bonus_max", strconv.Itoa(r.BonusMax)},
		{"passed", strconv.FormatBool(r.Passed)},
		{"gradable", strconv.FormatBool(r.Gradable)},
		{"lab", r.Lab},
		{"lab_title", r.LabTitle},
		{"submission", r.Submission},
		{"grader_version", r.GraderVersion},
		{"schema_version", strconv.Itoa(r.SchemaVersion)},
	}
	if r.Image != nil {
		props = append(props, [2]string{"image_size_bytes", strconv.FormatInt(r.Image.SizeBytes, 10)})
	}
	if r.SizeLimit > 0 {
		props = append(props, [2]string{"size_limit_bytes", strconv.FormatInt(r.SizeLimit, 10)})
	}
	for _, p := range props {
		b.WriteString("      <property" + attr("name", p[0]) + attr("value", p[1]) + "/>\n")
	}
	b.WriteString("    </properties>\n")

	for i := range r.Checks {
		c := &r.Checks[i]
		class, _, _ := strings.Cut(c.ID, ".")
		b.WriteString("    <testcase" + attr("name", c.ID) + attr("classname", class) +
			attr("time", seconds(c.DurationMS)))
		msg := oneLine(c.Message)
		switch c.Status {
		case grader.StatusFail, grader.StatusError:
			tag := "failure"
			if c.Status == grader.StatusError {
				tag = "error"
			}
			b.WriteString(">\n      <" + tag + attr("message", msg) + attr("type", string(c.Status)) + ">" +
				xmlText(junitBody(c)) + "</" + tag + ">\n    </testcase>\n")
		case grader.StatusSkip:
			b.WriteString(">\n      <skipped" + attr("message", msg) + "/>\n    </testcase>\n")
		default:
			if m := clean(c.Message); m != "" {
				b.WriteString(">\n      <system-out>" + xmlText(m) + "</system-out>\n    </testcase>\n")
			} else {
				b.WriteString("/>\n")
			}
		}
	}

	if r.BuildLog != "" {
		b.WriteString("    <system-out>" + xmlText(clean(r.BuildLog)) + "</system-out>\n")
	}
	b.WriteString("  </testsuite>\n</testsuites>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// junitBody is the text of a <failure> or <error>: message, location, hint.
func junitBody(c *grader.Result) string {
	var parts []string
	if m := clean(c.Message); m != "" {
		parts = append(parts, m)
	}
	if loc := location(c); loc != "" {
		parts = append(parts, "at "+clean(loc))
	}
	if h := clean(hint(c)); h != "" {
		parts = append(parts, "hint: "+h)
	}
	return strings.Join(parts, "\n")
}

// attr is ` name="value"` with the value escaped for an XML attribute.
func attr(name, value string) string {
	var b strings.Builder
	b.WriteString(" " + name + `="`)
	for _, r := range value {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\n':
			b.WriteString("&#xA;")
		case '\r':
			b.WriteString("&#xD;")
		case '\t':
			b.WriteString("&#x9;")
		default:
			b.WriteRune(xmlChar(r))
		}
	}
	b.WriteString(`"`)
	return b.String()
}

// xmlText escapes character data, keeping newlines and tabs readable.
func xmlText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\n', '\t':
			b.WriteRune(r)
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(xmlChar(r))
		}
	}
	return b.String()
}

// xmlChar replaces a character XML 1.0 does not allow with U+FFFD.
func xmlChar(r rune) rune {
	switch {
	case r == utf8.RuneError,
		r < 0x20,
		r >= 0xD800 && r <= 0xDFFF,
		r == 0xFFFE || r == 0xFFFF,
		r > 0x10FFFF:
		return utf8.RuneError
	}
	return r
}
