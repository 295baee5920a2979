package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/batch"
)

const batchUsage = `Usage:
  grade batch [flags] PATH...
  grade batch [flags] --repos FILE [PATH...]

Grade a whole class. Each PATH is a submission folder (it holds
Dockerfile.multistage, Dockerfile, main.go or go.mod) or a folder whose
sub-folders are submissions, each named after its folder. --repos adds git
repositories. Every submission is graded by its own grade process
(grade --format json --no-keep ... DIR) with DOCKER_HOST set to its engine;
one submission's failure never stops the batch. A result that is not
gradable is retried once, then recorded as not gradable with the reason.

Outputs, in --out (written atomically; results.jsonl as each one finishes):
  gradebook.csv      one row per submission: name, source, commit, score, max,
                     bonus, passed, gradable, image_size_bytes, one column per
                     check id (its status), error, started_at, duration_ms
  results.jsonl      one JSON report (grade --format json) per line
  feedback/NAME.md   the scorecard to send to each student
  report.html        the class report
  manifest.json      the grader and settings (for --resume and grade merge)

Ctrl-C stops the batch: running gradings are interrupted (they remove their
containers), what finished is written, and grade exits 2; run the same
command with --resume to grade the rest. Sharded batches are combined with
grade merge.

Exit codes: 0 every submission was graded · 1 some could not be graded (see
the error column) · 2 usage error, interrupted, or the outputs could not be
written

Flags:
`

// instructorFlags are passed on to every child grade, and make up (with
// their effective values) the settings fingerprint.
var instructorFlags = []string{"build-timeout", "start-timeout", "probe-timeout", "timeout", "config", "only", "skip", "baseline"}

func runBatch(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("grade batch", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, on one line
	defJobs := max(1, runtime.NumCPU()/2)
	jobs := fs.Int("j", defJobs, "grade `N` submissions at once (per engine unless --engine says otherwise)")
	var engines stringList
	fs.Var(&engines, "engine", "grade on this Docker Engine (`HOST[=N]`: a DOCKER_HOST value, N submissions at once, default -j); repeat it to spread the batch over several engines (default: the environment's engine)")
	repos := fs.String("repos", "", "roster `FILE` of git repositories: one name,url[,ref] per line (CSV; # comments)")
	before := fs.String("before", "", "grade each repository's last commit before `TIME` (RFC 3339, e.g. 2026-03-01T23:59:00+01:00)")
	cacheDir := fs.String("cache", "", "keep the repositories' working copies in `DIR` (default: grade/repos in the user cache folder)")
	gitTimeout := fs.Duration("git-timeout", 5*time.Minute, "limit for fetching one repository")
	out := fs.String("out", "grade-out", "output folder `DIR`")
	resume := fs.Bool("resume", false, "keep the results already in --out for the same content, grader and settings; grade only the rest")
	shardFlag := fs.String("shard", "", "grade only the slice `K/N` of the submissions (sorted by name, every N-th from the K-th); combine with grade merge")
	progress := fs.String("progress", "auto", "progress `display`: auto (a bar on a terminal, lines otherwise) | bar | lines | none")

	opts := grader.DefaultOptions()
	fs.DurationVar(&opts.BuildTimeout, "build-timeout", opts.BuildTimeout, "limit for each image build (passed to each grade)")
	fs.DurationVar(&opts.StartTimeout, "start-timeout", opts.StartTimeout, "limit for the container to answer HTTP (passed to each grade)")
	fs.DurationVar(&opts.ProbeTimeout, "probe-timeout", opts.ProbeTimeout, "limit for each endpoint probe (passed to each grade)")
	timeout := fs.Duration("timeout", 15*time.Minute, "limit for grading one submission (passed to each grade)")
	configPath := fs.String("config", "", "instructor settings `FILE` (passed to each grade)")
	only := fs.String("only", "", "run only these check `ids` (comma-separated; passed to each grade)")
	skipIDs := fs.String("skip", "", "leave out these check `ids` (comma-separated; passed to each grade)")
	fs.BoolVar(&opts.Baseline, "baseline", false, "also build the single-stage Dockerfile (passed to each grade)")

	var paths []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, batchUsage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return 0
			}
			fmt.Fprintf(stderr, "grade batch: %v (see grade batch --help)\n", err)
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "grade batch: "+format+"\n", a...)
		return 2
	}
	if len(paths) == 0 && *repos == "" {
		return usageErr("nothing to grade: give submission folders (PATH...) or --repos FILE (see grade batch --help)")
	}
	if *jobs < 1 {
		return usageErr("-j must be 1 or more (got %d)", *jobs)
	}
	switch *progress {
	case "auto", "bar", "lines", "none":
	default:
		return usageErr("--progress must be auto, bar, lines or none (got %q)", *progress)
	}
	var engs []batch.Engine
	for _, e := range engines {
		eng, err := batch.ParseEngine(e, *jobs)
		if err != nil {
			return usageErr("%v", err)
		}
		engs = append(engs, eng)
	}
	if len(engs) == 0 {
		engs = []batch.Engine{{Slots: *jobs}}
	}
	var shard batch.Shard
	if *shardFlag != "" {
		var err error
		if shard, err = batch.ParseShard(*shardFlag); err != nil {
			return usageErr("%v", err)
		}
	}
	var deadline time.Time
	if *before != "" {
		if *repos == "" {
			return usageErr("--before applies to the repositories of --repos")
		}
		var err error
		if deadline, err = time.Parse(time.RFC3339, *before); err != nil {
			return usageErr("--before wants an RFC 3339 time such as 2026-03-01T23:59:00Z: %v", err)
		}
	}

	// The instructor's settings: checked once here rather than by every
	// child, and fingerprinted for --resume.
	lab, err := configure(*configPath, *only, *skipIDs, &opts)
	if err != nil {
		return usageErr("%v", err)
	}
	var configText string
	if *configPath != "" {
		b, err := os.ReadFile(*configPath)
		if err != nil {
			return usageErr("--config: %v", err)
		}
		configText = string(b)
	}
	var childArgs []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(instructorFlags, f.Name) {
			v := f.Value.String()
			if f.Name == "config" {
				if abs, err := filepath.Abs(v); err == nil {
					v = abs
				}
			}
			childArgs = append(childArgs, "--"+f.Name+"="+v)
		}
	})
	exe, err := os.Executable()
	if err != nil {
		return usageErr("cannot find the grade binary to run: %v", err)
	}
	manifest := batch.Manifest{
		Grader:   batch.GraderID(graderVersion(), exe),
		Settings: settingsFingerprint(lab, &opts, *timeout, configText),
		Config:   configText,
		Only:     splitIDs(*only),
		Skip:     splitIDs(*skipIDs),
		Shard:    shard.String(),
	}

	// The submissions.
	if *cacheDir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return usageErr("no user cache folder (%v): give --cache DIR", err)
		}
		*cacheDir = filepath.Join(c, "grade", "repos")
	}
	// The children run in their own folders: give them absolute paths.
	if abs, err := filepath.Abs(*cacheDir); err == nil {
		*cacheDir = abs
	}
	folders, err := batch.Discover(paths, *out, *cacheDir)
	if err != nil {
		return usageErr("%v", err)
	}
	var roster []batch.Repo
	if *repos != "" {
		f, err := os.Open(*repos)
		if err != nil {
			return usageErr("--repos: %v", err)
		}
		roster, err = batch.ParseRoster(f)
		f.Close()
		if err != nil {
			return usageErr("--repos %s: %v", *repos, err)
		}
		if _, err := exec.LookPath("git"); err != nil && len(roster) > 0 {
			return usageErr("--repos needs the git command, which is not installed")
		}
	}
	subs, err := batch.Combine(folders, roster)
	if err != nil {
		return usageErr("%v", err)
	}
	subs = shard.Select(subs)
	fetcher := &batch.Fetcher{Cache: *cacheDir, Before: deadline, Timeout: *gitTimeout}
	child := &batch.Child{Exe: exe, Args: childArgs, Limit: *timeout + 2*time.Minute}

	// Ctrl-C: the first interrupts the children (they clean up) and stops
	// scheduling; the second makes them quit at once; the third quits.
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	mode := *progress
	if mode == "auto" {
		mode = "lines"
		if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			mode = "bar"
		}
	}
	ui := newBatchUI(stderr, mode, len(subs))
	go func() {
		n := 0
		for range sigs {
			n++
			switch n {
			case 1:
				ui.Note("grade batch: interrupted — stopping the running gradings (they remove their containers) and writing what is done; press Ctrl-C again to stop them at once")
				interrupt()
			case 2:
				ui.Note("grade batch: stopping the running gradings at once; remove what is left with: docker rm -f $(docker ps -aq --filter label=lab.grade)")
				child.Interrupt()
			default:
				os.Exit(2)
			}
		}
	}()

	res, err := batch.Run(ctx, batch.Options{
		Out:         *out,
		Submissions: subs,
		Engines:     engs,
		Grade:       child.Grade,
		Fetch:       fetcher.Fetch,
		Resume:      *resume,
		Lab:         lab,
		Manifest:    manifest,
		Started:     ui.Started,
		Finished:    ui.Finished,
	})
	ui.Close(res.Interrupted)
	if err != nil {
		fmt.Fprintln(stderr, "grade batch:", err)
		return 2
	}
	passed, failed, ungradable := 0, 0, 0
	for _, e := range res.Entries {
		switch {
		case !e.Gradable():
			ungradable++
		case e.Report.Passed:
			passed++
		default:
			failed++
		}
	}
	if res.Interrupted {
		fmt.Fprintf(stderr, "grade batch: interrupted — %d of %d submissions graded and written to %s; run the same command with --resume to grade the rest\n",
			len(res.Entries), len(subs), *out)
		return 2
	}
	fmt.Fprintf(stdout, "graded %d submission(s): %d passed, %d failed, %d not graded → %s (%s, %s, %s/, %s)\n",
		len(res.Entries), passed, failed, ungradable, *out, batch.GradebookFile, batch.ResultsFile, batch.FeedbackDir, batch.HTMLFile)
	if ungradable > 0 {
		fmt.Fprintf(stderr, "grade batch: %d submission(s) could not be graded; the error column of %s says why\n",
			ungradable, filepath.Join(*out, batch.GradebookFile))
		return 1
	}
	return 0
}

// stringList collects a repeated flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// settingsFingerprint hashes the effective settings every child grades
// with: timeouts (after --config), the settings file's content, the checks
// selected, the baseline.
func settingsFingerprint(lab *grader.Lab, opts *grader.Options, timeout time.Duration, configText string) string {
	sum := sha256.Sum256([]byte(configText))
	only := append([]string(nil), opts.Only...)
	skip := append([]string(nil), opts.Skip...)
	slices.Sort(only)
	slices.Sort(skip)
	return batch.Fingerprint(map[string]string{
		"lab":           lab.ID,
		"build_timeout": opts.BuildTimeout.String(),
		"start_timeout": opts.StartTimeout.String(),
		"probe_timeout": opts.ProbeTimeout.String(),
		"timeout":       timeout.String(),
		"config":        hex.EncodeToString(sum[:]),
		"only":          strings.Join(only, ","),
		"skip":          strings.Join(skip, ","),
		"baseline":      fmt.Sprint(opts.Baseline),
	})
}

const mergeUsage = `Usage:
  grade merge [--out DIR] DIR...

Combine the outputs of sharded batches (grade batch --shard K/N --out DIR)
into one gradebook.csv, results.jsonl, feedback/ and report.html, the same
as one batch over all the submissions would have written (every output is
in name order). The shards must come from the same grader and settings.

Flags:
`

func runMerge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("grade merge", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, on one line
	out := fs.String("out", "grade-out", "output folder `DIR`")
	var dirs []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, mergeUsage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return 0
			}
			fmt.Fprintf(stderr, "grade merge: %v (see grade merge --help)\n", err)
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		dirs = append(dirs, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(dirs) == 0 {
		fmt.Fprintln(stderr, "grade merge: give the output folders of the shards (see grade merge --help)")
		return 2
	}
	entries, m, err := batch.Merge(dirs)
	if err != nil {
		fmt.Fprintln(stderr, "grade merge:", err)
		return 2
	}
	lab, err := labFromManifest(m)
	if err != nil {
		fmt.Fprintln(stderr, "grade merge:", err)
		return 2
	}
	if err := batch.WriteOutputs(*out, lab, entries, m); err != nil {
		fmt.Fprintln(stderr, "grade merge:", err)
		return 2
	}
	fmt.Fprintf(stdout, "merged %d submission(s) from %d folder(s) → %s\n", len(entries), len(dirs), *out)
	return 0
}

// labFromManifest rebuilds the instructor's lab (points, required checks)
// from the settings a batch recorded.
func labFromManifest(m batch.Manifest) (*grader.Lab, error) {
	opts := grader.DefaultOptions()
	path := ""
	if m.Config != "" {
		f, err := os.CreateTemp("", "grade-merge-config-*.yaml")
		if err != nil {
			return nil, err
		}
		defer os.Remove(f.Name())
		if _, err := f.WriteString(m.Config); err != nil {
			f.Close()
			return nil, err
		}
		f.Close()
		path = f.Name()
	}
	return configure(path, strings.Join(m.Only, ","), strings.Join(m.Skip, ","), &opts)
}

// batchUI shows the batch's progress on stderr: a bar with counts, ETA and
// the current failures on a terminal (mpb), one plain line per finished
// submission otherwise. It is safe on a nil *batchUI.
type batchUI struct {
	w     io.Writer
	mode  string // bar, lines, none
	total int

	mu        sync.Mutex
	start     time.Time
	graded    int // finished by grading (not resumed)
	done      int
	failed    int
	notGraded int
	running   []string
	failures  []string // latest names that failed or were not graded

	p   *mpb.Progress
	bar *mpb.Bar
}

func newBatchUI(w io.Writer, mode string, total int) *batchUI {
	ui := &batchUI{w: w, mode: mode, total: total, start: time.Now()}
	if mode == "bar" && total > 0 {
		ui.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond))
		ui.bar = ui.p.AddBar(int64(total),
			mpb.PrependDecorators(
				decor.CountersNoUnit("%d/%d", decor.WCSyncSpace),
			),
			mpb.AppendDecorators(
				decor.Any(func(decor.Statistics) string { return ui.status() }),
			),
		)
	}
	return ui
}

// status is the text right of the bar: ETA, failures, what runs.
func (ui *batchUI) status() string {
	ui.mu.Lock()
	defer ui.mu.Unlock()
	eta := "ETA –"
	if ui.done == ui.total {
		eta = "done in " + shortDuration(time.Since(ui.start))
	} else if ui.graded > 0 {
		per := time.Since(ui.start) / time.Duration(ui.graded)
		eta = "ETA " + shortDuration(per*time.Duration(ui.total-ui.done))
	}
	parts := []string{eta}
	if ui.failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", ui.failed))
	}
	if ui.notGraded > 0 {
		parts = append(parts, fmt.Sprintf("%d not graded", ui.notGraded))
	}
	if len(ui.failures) > 0 {
		parts = append(parts, "latest: "+strings.Join(ui.failures, ", "))
	}
	if len(ui.running) > 0 {
		parts = append(parts, "grading "+strings.Join(ui.running, ", "))
	}
	return strings.Join(parts, " · ")
}

func (ui *batchUI) Started(s *batch.Submission, attempt int, eng batch.Engine) {
	ui.mu.Lock()
	ui.running = append(ui.running, s.Name)
	ui.mu.Unlock()
	if attempt > 1 {
		ui.Note(fmt.Sprintf("        %s: not gradable, grading it again (attempt %d, %s)", s.Name, attempt, eng))
	}
}

func (ui *batchUI) Finished(p batch.Progress) {
	e := p.Entry
	ui.mu.Lock()
	if i := slices.Index(ui.running, e.Name); i >= 0 {
		ui.running = slices.Delete(ui.running, i, i+1)
	}
	ui.done = p.Done
	if !p.Resumed {
		ui.graded++
	}
	bad := !e.Gradable() || !e.Report.Passed
	if !e.Gradable() {
		ui.notGraded++
	} else if !e.Report.Passed {
		ui.failed++
	}
	if bad {
		ui.failures = append(ui.failures, e.Name)
		if len(ui.failures) > 3 {
			ui.failures = ui.failures[len(ui.failures)-3:]
		}
	}
	ui.mu.Unlock()

	var b strings.Builder
	fmt.Fprintf(&b, "[%d/%d] %s: ", p.Done, p.Total, e.Name)
	if e.Gradable() {
		fmt.Fprintf(&b, "%d/%d", e.Report.Score, e.Report.MaxScore)
		if e.Report.BonusScore > 0 {
			fmt.Fprintf(&b, " +%d bonus", e.Report.BonusScore)
		}
	} else {
		b.WriteString("NOT GRADED — " + e.Reason())
	}
	if p.Resumed {
		b.WriteString(" (resumed)")
	} else {
		b.WriteString(" (" + shortDuration(p.Duration) + ")")
	}
	ui.Note(b.String())
	if ui != nil && ui.bar != nil {
		ui.bar.Increment()
	}
}

// Note prints a line above the bar, or as a plain line.
func (ui *batchUI) Note(line string) {
	if ui == nil || ui.mode == "none" {
		return
	}
	if ui.p != nil {
		if _, err := ui.p.Write([]byte(line + "\n")); err == nil {
			return
		}
	}
	fmt.Fprintln(ui.w, line)
}

// Close ends the bar (leaving it on screen).
func (ui *batchUI) Close(interrupted bool) {
	if ui == nil || ui.p == nil {
		return
	}
	if !ui.bar.Completed() {
		ui.bar.Abort(false)
	}
	ui.p.Wait()
}

// shortDuration: 45s, 1m02s, 1h05m.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
