package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gradelab/grade/grader"
)

// GradeFunc grades the submission in dir on engine eng (Child.Grade).
type GradeFunc func(ctx context.Context, dir string, eng Engine) (*grader.Report, error)

// FetchFunc brings a repository to a folder (Fetcher.Fetch).
type FetchFunc func(ctx context.Context, r Repo) (Checkout, error)

// Progress is what the batch tells its caller as it goes.
type Progress struct {
	Entry    *Entry        // the finished entry
	Done     int           // entries finished so far, this one included
	Total    int           // entries in the batch
	Duration time.Duration // how long it took (0 when resumed)
	Resumed  bool          // reused from an earlier run (--resume)
}

// Options configure a batch run.
type Options struct {
	// Out is the output folder.
	Out string
	// Submissions are the submissions to grade (already sharded).
	Submissions []Submission
	// Engines to grade on, each with its number of slots; at least one.
	Engines []Engine
	// Grade grades one folder; Fetch fetches one repository.
	Grade GradeFunc
	Fetch FetchFunc
	// FetchSlots is how many repositories are fetched at once (default 4).
	FetchSlots int
	// Resume reuses the results in Out whose content, grader and settings
	// match; without it Out's earlier results are replaced.
	Resume bool
	// Lab is the lab as configured (for the gradebook's columns, the
	// feedback of entries without a report and the HTML report).
	Lab *grader.Lab
	// Manifest is written to Out; its Grader and Settings are recorded on
	// every entry.
	Manifest Manifest
	// Started is called when a grading attempt starts; Finished when an
	// entry is final. Both may be nil; calls are not concurrent.
	Started  func(s *Submission, attempt int, eng Engine)
	Finished func(p Progress)
}

// Result is the outcome of a batch run.
type Result struct {
	// Entries are the finished entries, sorted by name.
	Entries []Entry
	// Interrupted is true when ctx was cancelled before every submission
	// finished; Entries then holds those that did (and are in Out).
	Interrupted bool
}

type job struct {
	sub   Submission
	entry Entry
}

// Run grades the submissions, spreading them over the engines' slots, and
// keeps Out up to date: each finished entry is appended to results.jsonl
// and gets its feedback file at once; at the end (also after an
// interruption) every output is rewritten in name order. An ungradable
// result is retried once (on another engine when there is one), then
// recorded with its reason. One submission's failure never stops the
// others. Cancelling ctx interrupts the running children, starts nothing
// new and returns what finished.
func Run(ctx context.Context, o Options) (Result, error) {
	if len(o.Engines) == 0 {
		return Result{}, errors.New("no engine to grade on")
	}
	nslots := 0
	for _, e := range o.Engines {
		nslots += max(e.Slots, 0)
	}
	if nslots == 0 {
		return Result{}, errors.New("the engines have no slots")
	}
	if o.FetchSlots <= 0 {
		o.FetchSlots = 4
	}
	if err := os.MkdirAll(filepath.Join(o.Out, FeedbackDir), 0o755); err != nil {
		return Result{}, err
	}
	previous := map[string]Entry{}
	if o.Resume {
		es, err := ReadResults(filepath.Join(o.Out, ResultsFile))
		if err != nil {
			return Result{}, fmt.Errorf("--resume: %w", err)
		}
		for _, e := range es {
			previous[e.Name] = e
		}
	} else if err := WriteFileAtomic(filepath.Join(o.Out, ResultsFile), func(io.Writer) error { return nil }); err != nil {
		return Result{}, err
	}
	if err := WriteManifest(o.Out, o.Manifest); err != nil {
		return Result{}, err
	}

	total := len(o.Submissions)
	var (
		mu       sync.Mutex
		done     []Entry
		writeErr error
	)
	finish := func(e Entry, d time.Duration, resumed bool) {
		mu.Lock()
		defer mu.Unlock()
		if !resumed {
			if err := AppendResult(o.Out, &e); err != nil && writeErr == nil {
				writeErr = err
			}
		}
		if err := WriteFeedback(o.Out, o.Lab, &e); err != nil && writeErr == nil {
			writeErr = err
		}
		done = append(done, e)
		if o.Finished != nil {
			o.Finished(Progress{Entry: &done[len(done)-1], Done: len(done), Total: total, Duration: d, Resumed: resumed})
		}
	}
	started := func(s *Submission, attempt int, eng Engine) {
		if o.Started != nil {
			mu.Lock()
			o.Started(s, attempt, eng)
			mu.Unlock()
		}
	}

	// Stage 1: fetch repositories, hash folders, reuse earlier results.
	todo := make(chan Submission)
	queue := make(chan *job)
	go func() {
		defer close(todo)
		for _, s := range o.Submissions {
			select {
			case todo <- s:
			case <-ctx.Done():
				return
			}
		}
	}()
	var prep sync.WaitGroup
	for i := 0; i < o.FetchSlots; i++ {
		prep.Add(1)
		go func() {
			defer prep.Done()
			for s := range todo {
				j, ok := prepare(ctx, &o, s)
				if !ok {
					continue // interrupted
				}
				if j.entry.Error != "" {
					finish(j.entry, 0, false)
					continue
				}
				if prev, ok := previous[s.Name]; ok && reusable(&prev, &j.entry) {
					finish(prev, 0, true)
					continue
				}
				select {
				case queue <- j:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { prep.Wait(); close(queue) }()

	// Stage 2: grade, one worker per engine slot; a worker takes any
	// engine's free slot, so the engines share the work.
	slots := make(chan Engine, nslots)
	given := make([]int, len(o.Engines))
	for left := nslots; left > 0; {
		for i, e := range o.Engines { // interleaved: the engines share from the start
			if given[i] < e.Slots {
				slots <- e
				given[i]++
				left--
			}
		}
	}
	var work sync.WaitGroup
	for i := 0; i < nslots; i++ {
		work.Add(1)
		go func() {
			defer work.Done()
			for j := range queue {
				if ctx.Err() != nil {
					continue
				}
				start := time.Now()
				e, ok := gradeWithRetry(ctx, &o, j, slots, started)
				if ok {
					finish(e, time.Since(start), false)
				}
			}
		}()
	}
	work.Wait()

	res := Result{Entries: done, Interrupted: ctx.Err() != nil || len(done) < total}
	SortEntries(res.Entries)
	if err := WriteOutputs(o.Out, o.Lab, res.Entries, o.Manifest); err != nil && writeErr == nil {
		writeErr = err
	}
	return res, writeErr
}

// prepare makes the job of s: fetches its repository, hashes its folder.
// A repository that cannot be fetched gives an entry with Error set. ok is
// false when ctx was cancelled.
func prepare(ctx context.Context, o *Options, s Submission) (*job, bool) {
	j := &job{sub: s, entry: Entry{Name: s.Name, Source: s.Source, Grader: o.Manifest.Grader, Settings: o.Manifest.Settings}}
	if s.Repo != nil {
		if o.Fetch == nil {
			j.entry.Error = "no git fetcher"
			return j, true
		}
		var co Checkout
		var err error
		for attempt := 1; attempt <= 2; attempt++ {
			if co, err = o.Fetch(ctx, *s.Repo); err == nil || ctx.Err() != nil {
				break
			}
		}
		if ctx.Err() != nil {
			return nil, false
		}
		if err != nil {
			j.entry.Error = err.Error()
			return j, true
		}
		j.sub.Dir = co.Dir
		j.entry.Commit = co.Commit
		j.entry.ContentHash = "git:" + co.Commit
		return j, true
	}
	h, err := HashDir(s.Dir)
	if err != nil {
		j.entry.Error = "cannot read the submission: " + err.Error()
		return j, true
	}
	j.entry.ContentHash = h
	return j, true
}

// reusable: --resume keeps an earlier result of the same content, graded
// by the same grader with the same settings, when it was gradable (an
// ungradable result is the environment's failure: grade it again).
func reusable(prev, cur *Entry) bool {
	return prev.Gradable() && prev.ContentHash != "" &&
		prev.ContentHash == cur.ContentHash && prev.Grader == cur.Grader && prev.Settings == cur.Settings &&
		prev.Source == cur.Source
}

// gradeWithRetry grades j, and once more when the result is not gradable,
// on another engine when one is free. ok is false when interrupted.
func gradeWithRetry(ctx context.Context, o *Options, j *job, slots chan Engine, started func(*Submission, int, Engine)) (Entry, bool) {
	e := j.entry
	var last Engine
	for attempt := 1; attempt <= 2; attempt++ {
		eng := takeSlot(ctx, slots, last, attempt > 1 && len(o.Engines) > 1)
		if ctx.Err() != nil {
			if eng != nil {
				slots <- *eng
			}
			return e, false
		}
		started(&j.sub, attempt, *eng)
		rep, err := o.Grade(ctx, j.sub.Dir, *eng)
		slots <- *eng
		last = *eng
		if errors.Is(err, ErrInterrupted) || (ctx.Err() != nil && (rep == nil || !rep.Gradable)) {
			return e, false
		}
		e.Attempts = attempt
		e.Engine = eng.Host
		e.Report, e.Error = rep, ""
		if err != nil {
			e.Error = err.Error()
		}
		if e.Gradable() {
			break
		}
	}
	if !e.Gradable() && e.Error == "" {
		e.Error = e.Reason()
	}
	return e, true
}

// takeSlot takes a free engine slot. With avoid set it prefers, among
// the slots free right now, one of an engine other than last; when none
// is free it waits for any.
func takeSlot(ctx context.Context, slots chan Engine, last Engine, avoid bool) *Engine {
	if avoid {
		var held []Engine
		var pick *Engine
	drain:
		for {
			select {
			case eng := <-slots:
				if pick == nil && eng.Host != last.Host {
					pick = &eng
				} else {
					held = append(held, eng)
				}
			default:
				break drain
			}
		}
		for _, h := range held {
			slots <- h
		}
		if pick != nil {
			return pick
		}
	}
	select {
	case eng := <-slots:
		return &eng
	case <-ctx.Done():
		return nil
	}
}
