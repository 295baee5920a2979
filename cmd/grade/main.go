// Command grade grades a Docker lab submission by evidence: it builds the
// student's Dockerfile, inspects the image, runs the container, probes its
// endpoints and prints a checkpoint scorecard.
//
//	grade [flags] [DIR]     grade the submission in DIR (default .)
//	grade clean             remove every image grade has built
//	grade version           print the version
//
// Exit codes: 0 every required check passed, 1 a required check failed,
// 2 the grader could not grade (usage, Docker, base image, timeout, bug).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/gradelab/grade/checks"
	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/report"
	"github.com/gradelab/grade/grader/session"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func graderVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage:
  grade [flags] [DIR]   grade the Multi-Stage Build submission in DIR (default .)
  grade batch [flags] PATH...   grade a whole class (see grade batch --help)
  grade merge DIR...    combine the outputs of sharded batches
  grade clean           remove every image grade has built (tags and builder stages)
  grade version         print grade's version

Exit codes: 0 all required checks pass · 1 a required check failed · 2 could not grade

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "clean":
			return runClean(args[1:], stdout, stderr)
		case "batch":
			return runBatch(args[1:], stdout, stderr)
		case "merge":
			return runMerge(args[1:], stdout, stderr)
		case "version", "--version":
			fmt.Fprintln(stdout, "grade", graderVersion())
			return 0
		}
	}

	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, on one line
	var outs targetList
	opts := grader.DefaultOptions()
	fs.Var(flagFunc(outs.addFormat), "format", "report `format`: "+strings.Join(report.Formats(), "|")+" (repeatable: one grading, many reports)")
	fs.Var(flagFunc(outs.addOutput), "output", "write the report of the --format just before to `FILE` instead of stdout")
	colorMode := fs.String("color", "auto", "color the text scorecard: auto (only on a terminal, never with NO_COLOR) | always | never")
	fs.DurationVar(&opts.BuildTimeout, "build-timeout", opts.BuildTimeout, "limit for each image build")
	fs.DurationVar(&opts.StartTimeout, "start-timeout", opts.StartTimeout, "limit for the container to answer HTTP")
	fs.DurationVar(&opts.ProbeTimeout, "probe-timeout", opts.ProbeTimeout, "limit for each endpoint probe")
	timeout := fs.Duration("timeout", 15*time.Minute, "limit for the whole grading run (exit 2 when reached)")
	noKeep := fs.Bool("no-keep", false, "remove this run's images at the end (default: keep them as build cache until 'grade clean')")
	fs.BoolVar(&opts.Baseline, "baseline", false, "also build the single-stage Dockerfile and report how much smaller the multi-stage image is")
	configPath := fs.String("config", "", "instructor settings `FILE` (YAML/JSON: points, required, size_limit, timeouts, only, skip); never read from the submission")
	only := fs.String("only", "", "run only these check `ids` (comma-separated)")
	skipIDs := fs.String("skip", "", "leave out these check `ids` (comma-separated)")
	verbose := fs.Bool("verbose", false, "show passing checks' evidence and the whole build log")
	fs.Usage = func() {}

	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return 0
			}
			fmt.Fprintf(stderr, "grade: %v (see grade --help)\n", err)
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) > 1 {
		fmt.Fprintf(stderr, "grade: one submission folder at a time (got %d: %s); run grade once per folder\n", len(positional), strings.Join(positional, " "))
		return 2
	}
	dir := "."
	if len(positional) == 1 {
		dir = positional[0]
	}
	targets, err := outs.targets()
	if err != nil {
		fmt.Fprintln(stderr, "grade:", err)
		return 2
	}
	switch *colorMode {
	case "auto", "always", "never":
	default:
		fmt.Fprintf(stderr, "grade: --color must be auto, always or never (got %q)\n", *colorMode)
		return 2
	}
	lab, err := configure(*configPath, *only, *skipIDs, &opts)
	if err != nil {
		fmt.Fprintln(stderr, "grade:", err)
		return 2
	}
	opts.Keep = !*noKeep
	opts.GraderVersion = graderVersion()
	if st, err := session.DefaultStore(); err == nil {
		opts.Store = st
	}

	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		fmt.Fprintln(stderr, "grade: interrupted — removing its containers (press Ctrl-C again to quit at once)")
		interrupt()
		<-sigs
		fmt.Fprintf(stderr, "grade: quit; remove what is left with: docker rm -f $(docker ps -aq --filter label=%s)\n", session.LabelGrader)
		os.Exit(2)
	}()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var status *statusLine
	if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		status = &statusLine{w: stderr}
		opts.Progress = status.Show
	}
	rep, err := grader.Grade(ctx, lab, dir, opts)
	status.Clear()
	if err != nil {
		fmt.Fprintln(stderr, "grade:", err)
		return 2
	}
	for _, t := range targets {
		if err := t.write(rep, stdout, *colorMode, *verbose); err != nil {
			fmt.Fprintln(stderr, "grade:", err)
			return 2
		}
	}
	if os.Getenv("GITHUB_ACTIONS") == "true" {
		if err := githubActions(rep, os.Getenv, stdout); err != nil {
			fmt.Fprintln(stderr, "grade: GitHub Actions:", err)
		}
	}
	if !rep.Gradable {
		for _, c := range rep.Checks {
			if c.Status == grader.StatusError {
				fmt.Fprintf(stderr, "grade: could not grade: %s\n", firstLine(c.Message))
				break
			}
		}
	}
	return rep.ExitCode()
}

// configure applies the instructor's settings file and --only/--skip to
// the lab's defaults. Timeouts the file sets replace the flags' values.
func configure(path, only, skip string, opts *grader.Options) (*grader.Lab, error) {
	cfg := &grader.Config{}
	if path != "" {
		var err error
		if cfg, err = grader.LoadConfig(path); err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
	}
	cfg.Only = append(cfg.Only, splitIDs(only)...)
	cfg.Skip = append(cfg.Skip, splitIDs(skip)...)
	return cfg.Apply(checks.Multistage, opts)
}

func splitIDs(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// statusLine shows the current step on one terminal line, overwritten by
// the next step and cleared before the scorecard prints.
type statusLine struct {
	w     io.Writer
	shown bool
}

func (s *statusLine) Show(step string) {
	fmt.Fprintf(s.w, "\r\x1b[K… %s", step)
	s.shown = true
}

func (s *statusLine) Clear() {
	if s != nil && s.shown {
		fmt.Fprint(s.w, "\r\x1b[K")
	}
}

// target is one report to write: a format and where to.
type target struct {
	format string
	path   string // "" for stdout
}

// targetList collects --format and --output flags in the order given:
// each --output names the file of the --format right before it.
type targetList struct {
	list []target
	err  error
}

func (l *targetList) addFormat(f string) error {
	if !slices.Contains(report.Formats(), f) {
		return fmt.Errorf("unknown format %q: use one of %s", f, strings.Join(report.Formats(), ", "))
	}
	l.list = append(l.list, target{format: f})
	return nil
}

func (l *targetList) addOutput(path string) error {
	n := len(l.list)
	if n == 0 || l.list[n-1].path != "" {
		return fmt.Errorf("--output %s must follow the --format it is for, e.g. --format json --output report.json", path)
	}
	l.list[n-1].path = path
	return nil
}

// targets returns what to write: text to stdout when no format was asked
// for; only one report may go to stdout; when every report goes to a file,
// the text scorecard still goes to stdout for the log.
func (l *targetList) targets() ([]target, error) {
	if len(l.list) == 0 {
		return []target{{format: "text"}}, nil
	}
	toStdout := 0
	for _, t := range l.list {
		if t.path == "" {
			toStdout++
		}
	}
	if toStdout > 1 {
		return nil, errors.New("only one --format can go to stdout: give the others an --output FILE")
	}
	ts := append([]target{}, l.list...)
	if toStdout == 0 {
		ts = append(ts, target{format: "text"})
	}
	return ts, nil
}

// flagFunc adapts a function to flag.Value for a repeatable flag.
type flagFunc func(string) error

func (f flagFunc) String() string     { return "" }
func (f flagFunc) Set(s string) error { return f(s) }

func (t target) write(rep *grader.Report, stdout io.Writer, colorMode string, verbose bool) error {
	w := stdout
	var f *os.File
	if t.path != "" {
		var err error
		f, err = os.Create(t.path)
		if err != nil {
			return fmt.Errorf("cannot write the report: %w", err)
		}
		w = f
	}
	o := report.Options{Verbose: verbose, Color: useColor(colorMode, w)}
	err := report.Render(w, t.format, rep, o)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// useColor: never with NO_COLOR, never off a terminal unless forced.
func useColor(mode string, w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func runClean(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "grade clean takes no arguments (got %s)\n", strings.Join(args, " "))
		return 2
	}
	st, err := session.DefaultStore()
	if err != nil {
		fmt.Fprintln(stderr, "grade clean:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := session.New(ctx, session.Options{})
	if err != nil {
		fmt.Fprintln(stderr, "grade clean:", grader.EnvironmentMessage(err))
		return 2
	}
	defer s.Close()
	res, err := session.Clean(ctx, s.Client(), st)
	fmt.Fprintf(stdout, "removed %d image(s)", res.Removed)
	if len(res.Kept) > 0 {
		fmt.Fprintf(stdout, "; %d still in use by containers or other builds' cache (kept)", len(res.Kept))
	}
	fmt.Fprintln(stdout)
	if err != nil {
		fmt.Fprintln(stderr, "grade clean:", err)
		return 2
	}
	return 0
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
