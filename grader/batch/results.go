package batch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gradelab/grade/grader"
)

// A line of results.jsonl is the contract's JSON report of one submission
// (grader.Report, schema_version 1) with the batch's fields added at the
// front: name, source, commit, content_hash, grader, settings, attempts,
// engine, error. A submission without a report (e.g. its repository could
// not be cloned) gets a minimal object: the batch's fields,
// "gradable": false and "passed": false.
type lineMeta struct {
	Name        string `json:"name"`
	Source      string `json:"source"`
	Commit      string `json:"commit,omitempty"`
	ContentHash string `json:"content_hash,omitempty"`
	Grader      string `json:"grader,omitempty"`
	Settings    string `json:"settings,omitempty"`
	Attempts    int    `json:"attempts,omitempty"`
	Engine      string `json:"engine,omitempty"`
	Error       string `json:"error,omitempty"`
}

type minimalReport struct {
	GraderVersion string `json:"grader_version,omitempty"`
	Passed        bool   `json:"passed"`
	Gradable      bool   `json:"gradable"`
}

// MarshalLine renders e as one line of results.jsonl (without the newline).
func MarshalLine(e *Entry) ([]byte, error) {
	meta, err := json.Marshal(lineMeta{
		Name: e.Name, Source: e.Source, Commit: e.Commit, ContentHash: e.ContentHash,
		Grader: e.Grader, Settings: e.Settings, Attempts: e.Attempts, Engine: e.Engine, Error: e.Error,
	})
	if err != nil {
		return nil, err
	}
	var body []byte
	if e.Report != nil {
		body, err = json.Marshal(e.Report)
	} else {
		body, err = json.Marshal(minimalReport{})
	}
	if err != nil {
		return nil, err
	}
	// Splice the two objects: {meta...} + {body...} → {meta..., body...}.
	var b bytes.Buffer
	b.Write(meta[:len(meta)-1])
	b.WriteByte(',')
	b.Write(body[1:])
	return b.Bytes(), nil
}

// UnmarshalLine reads one line of results.jsonl.
func UnmarshalLine(line []byte) (Entry, error) {
	var meta lineMeta
	if err := json.Unmarshal(line, &meta); err != nil {
		return Entry{}, err
	}
	if meta.Name == "" {
		return Entry{}, errors.New("a result without a name")
	}
	e := Entry{
		Name: meta.Name, Source: meta.Source, Commit: meta.Commit, ContentHash: meta.ContentHash,
		Grader: meta.Grader, Settings: meta.Settings, Attempts: meta.Attempts, Engine: meta.Engine, Error: meta.Error,
	}
	var probe struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return Entry{}, err
	}
	if probe.SchemaVersion != nil {
		if *probe.SchemaVersion != grader.SchemaVersion {
			return Entry{}, fmt.Errorf("%s: report schema_version %d, this grade reads %d", meta.Name, *probe.SchemaVersion, grader.SchemaVersion)
		}
		var r grader.Report
		if err := json.Unmarshal(line, &r); err != nil {
			return Entry{}, err
		}
		e.Report = &r
	}
	return e, nil
}

// ReadResults reads results.jsonl. When a name appears on several lines
// (a resumed batch appends), the last one wins. A last line cut short (the
// batch was killed while writing it) is ignored; any other bad line is an
// error. The result is sorted by name. A missing file is no results.
func ReadResults(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	byName := map[string]Entry{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		e, err := UnmarshalLine(line)
		if err != nil {
			if !bytes.HasSuffix(data, []byte("\n")) && isLastLine(data, sc.Bytes()) {
				break // an interrupted append
			}
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		byName[e.Name] = e
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]Entry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	SortEntries(out)
	return out, nil
}

func isLastLine(data, line []byte) bool {
	return bytes.HasSuffix(bytes.TrimRight(data, " \t\r"), bytes.TrimRight(line, " \t\r"))
}
