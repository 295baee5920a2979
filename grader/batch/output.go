package batch

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/report"
)

// The files of a batch's output folder.
const (
	GradebookFile = "gradebook.csv"
	ResultsFile   = "results.jsonl"
	FeedbackDir   = "feedback"
	HTMLFile      = "report.html"
	ManifestFile  = "manifest.json"
)

// Manifest describes how a batch was graded; `grade merge` checks that the
// shards it combines agree, and rebuilds the instructor's lab from it.
type Manifest struct {
	// Grader identifies the grade build (GraderID).
	Grader string `json:"grader"`
	// Settings is the fingerprint of the instructor's settings.
	Settings string `json:"settings"`
	// Config is the content of the instructor's --config file, if any.
	Config string `json:"config,omitempty"`
	// Only and Skip are the --only and --skip check ids.
	Only []string `json:"only,omitempty"`
	Skip []string `json:"skip,omitempty"`
	// Shard is "K/N" for a shard, "" for a whole batch or a merge.
	Shard string `json:"shard,omitempty"`
}

// SortEntries sorts by name, the one order of every output.
func SortEntries(es []Entry) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Name < es[j].Name })
}

// GradebookColumns are the fixed columns of gradebook.csv; one column per
// check id follows them (CheckColumns), then TimingColumns.
var GradebookColumns = []string{"name", "source", "commit", "score", "max", "bonus", "passed", "gradable", "image_size_bytes"}

// TrailingColumns come after the check columns: why an entry is not
// gradable, then when and how long it was graded (timing).
var TrailingColumns = []string{"error", "started_at", "duration_ms"}

// CheckColumns are the check ids that appear in any entry's report, in the
// lab's order; ids the lab does not know (none, normally) follow, sorted.
func CheckColumns(lab *grader.Lab, entries []Entry) []string {
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Report == nil {
			continue
		}
		for _, c := range e.Report.Checks {
			seen[c.ID] = true
		}
	}
	var out []string
	if lab != nil {
		for _, c := range lab.Checks {
			if seen[c.ID] {
				out = append(out, c.ID)
				delete(seen, c.ID)
			}
		}
	}
	var rest []string
	for id := range seen {
		rest = append(rest, id)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// WriteGradebook writes the gradebook as CSV: a header, then one row per
// entry in name order. An entry that is not gradable has empty score, max,
// bonus and passed cells (never a silent 0) and its reason in "error".
func WriteGradebook(w io.Writer, lab *grader.Lab, entries []Entry) error {
	es := append([]Entry(nil), entries...)
	SortEntries(es)
	ids := CheckColumns(lab, es)
	cw := csv.NewWriter(w)
	header := append(append(append([]string{}, GradebookColumns...), ids...), TrailingColumns...)
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, e := range es {
		row := make([]string, 0, len(header))
		row = append(row, e.Name, e.Source, e.Commit)
		r := e.Report
		if e.Gradable() {
			row = append(row, strconv.Itoa(r.Score), strconv.Itoa(r.MaxScore), strconv.Itoa(r.BonusScore), strconv.FormatBool(r.Passed))
		} else {
			row = append(row, "", "", "", "")
		}
		row = append(row, strconv.FormatBool(e.Gradable()))
		size := ""
		if r != nil && r.Image != nil {
			size = strconv.FormatInt(r.Image.SizeBytes, 10)
		}
		row = append(row, size)
		status := map[string]string{}
		if r != nil {
			for _, c := range r.Checks {
				status[c.ID] = string(c.Status)
			}
		}
		for _, id := range ids {
			row = append(row, status[id])
		}
		started, dur := "", ""
		if r != nil {
			started = r.StartedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
			dur = strconv.FormatInt(r.DurationMS, 10)
		}
		row = append(row, cell(e.Reason()), started, dur)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell defuses free text that a spreadsheet would run as a formula.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	if s != "" && strings.ContainsRune("=+-@\t", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Feedback renders the scorecard a student can be sent: the report's
// Markdown, or for a submission without a report why it was not graded.
func Feedback(w io.Writer, lab *grader.Lab, e *Entry) error {
	if e.Report != nil {
		return report.Markdown(w, e.Report)
	}
	title := "Lab"
	if lab != nil {
		title = lab.Title
	}
	_, err := fmt.Fprintf(w, "## ⚠️ %s — not graded\n\n**NOT GRADED** — %s could not be graded: %s\n\nThis is not a judgement of your work: your instructor will look into it.\n",
		title, e.Name, strings.ReplaceAll(e.Reason(), "\n", " "))
	return err
}

// WriteOutputs writes the whole output folder for entries (in name order):
// gradebook.csv, results.jsonl, feedback/NAME.md (removing feedback of
// names not in entries), report.html and manifest.json, each atomically.
func WriteOutputs(dir string, lab *grader.Lab, entries []Entry, m Manifest) error {
	es := append([]Entry(nil), entries...)
	SortEntries(es)
	if err := os.MkdirAll(filepath.Join(dir, FeedbackDir), 0o755); err != nil {
		return err
	}
	var errs []error
	keep := map[string]bool{}
	for i := range es {
		keep[es[i].Name+".md"] = true
		errs = append(errs, WriteFeedback(dir, lab, &es[i]))
	}
	if ents, err := os.ReadDir(filepath.Join(dir, FeedbackDir)); err == nil {
		for _, f := range ents {
			if !f.IsDir() && strings.HasSuffix(f.Name(), ".md") && !keep[f.Name()] {
				errs = append(errs, os.Remove(filepath.Join(dir, FeedbackDir, f.Name())))
			}
		}
	}
	errs = append(errs,
		WriteFileAtomic(filepath.Join(dir, GradebookFile), func(w io.Writer) error { return WriteGradebook(w, lab, es) }),
		WriteFileAtomic(filepath.Join(dir, ResultsFile), func(w io.Writer) error {
			for i := range es {
				line, err := MarshalLine(&es[i])
				if err != nil {
					return err
				}
				if _, err := w.Write(append(line, '\n')); err != nil {
					return err
				}
			}
			return nil
		}),
		WriteFileAtomic(filepath.Join(dir, HTMLFile), func(w io.Writer) error { return WriteHTML(w, lab, es) }),
		WriteManifest(dir, m),
	)
	return errors.Join(errs...)
}

// WriteFeedback writes feedback/NAME.md atomically.
func WriteFeedback(dir string, lab *grader.Lab, e *Entry) error {
	if err := ValidName(e.Name); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, FeedbackDir, e.Name+".md"), func(w io.Writer) error { return Feedback(w, lab, e) })
}

// WriteManifest writes manifest.json atomically.
func WriteManifest(dir string, m Manifest) error {
	return WriteFileAtomic(filepath.Join(dir, ManifestFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	})
}

// ReadManifest reads DIR/manifest.json.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(data, &m)
	return m, err
}

// WriteFileAtomic writes path through a temporary file in the same folder
// and renames it into place: readers see the old file or the new one,
// never half of one.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// AppendResult appends e to DIR/results.jsonl as one line, in one write,
// so that an interrupted batch keeps every result it finished.
func AppendResult(dir string, e *Entry) error {
	line, err := MarshalLine(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, ResultsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Merge reads the outputs of several batches (shards) and returns their
// entries in name order, with their common manifest (Shard cleared). The
// shards must have been graded by the same grader with the same settings,
// and a name may appear in only one of them.
func Merge(dirs []string) ([]Entry, Manifest, error) {
	var all []Entry
	var m Manifest
	from := map[string]string{}
	for i, d := range dirs {
		dm, err := ReadManifest(d)
		if err != nil {
			return nil, m, fmt.Errorf("%s is not the output of grade batch: %w", d, err)
		}
		if i == 0 {
			m = dm
		} else if dm.Grader != m.Grader || dm.Settings != m.Settings {
			return nil, m, fmt.Errorf("%s was graded by grade %s with settings %s, %s by grade %s with settings %s: merge only shards of one batch",
				d, dm.Grader, dm.Settings, dirs[0], m.Grader, m.Settings)
		}
		es, err := ReadResults(filepath.Join(d, ResultsFile))
		if err != nil {
			return nil, m, err
		}
		for _, e := range es {
			if prev, ok := from[e.Name]; ok {
				return nil, m, fmt.Errorf("%s is in both %s and %s", e.Name, prev, d)
			}
			from[e.Name] = d
			all = append(all, e)
		}
	}
	m.Shard = ""
	SortEntries(all)
	return all, m, nil
}
