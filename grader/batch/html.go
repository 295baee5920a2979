package batch

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gradelab/grade/grader"
)

// WriteHTML writes the class report, report.html: one self-contained page
// for the instructor with the lab's title, the number of submissions and the
// date of the newest report; the score distribution; the pass rate of each of
// the lab's checkpoints (the weakest highlighted) and of each check; the
// image sizes against the lab's size limit; and a table of every student,
// whose name links to feedback/<name>.md, the scorecard the batch writes
// next to report.html.
//
// Entries without a report, or whose report is not gradable, are listed as
// "not graded" with their error and left out of every distribution; the page
// says how many were. Students are listed in the order of entries (the table
// can be re-sorted in the browser).
//
// The output depends on its arguments alone (no clock, no random ids), so a
// batch re-run on the same reports writes the same bytes.
//
// Charts are inline SVG produced by this file's html/template, and the page
// has no external resource at all: it opens offline, from a mail attachment
// or an LMS upload. A chart library was considered and rejected:
// github.com/go-echarts/go-echarts/v2 (v2.6.7) ships no JavaScript of its
// own; every chart it renders loads echarts.min.js with a <script src> from
// its AssetsHost (a CDN by default), so a self-contained page would need the
// ~1 MB echarts bundle vendored into this repository and inlined into every
// report, plus a fixed ChartID per chart to stay deterministic — and the
// charts, drawn on a canvas at run time, could not be checked in the HTML.
// The three charts needed here (a histogram, percentage bars and a strip
// chart with a limit line) are a few dozen lines of SVG arithmetic, escaped
// by html/template like the rest of the page, and add no dependency.
func WriteHTML(w io.Writer, lab *grader.Lab, entries []Entry) error {
	if lab == nil {
		return errors.New("batch: WriteHTML needs a lab")
	}
	page := htmlBuild(lab, entries)
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, page); err != nil {
		return fmt.Errorf("batch: rendering report.html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// htmlPage is everything the template shows.
type htmlPage struct {
	Title       string // the lab's title
	Date        string // day of the newest report, "2006-01-02"; "" when none
	DateTime    string // the newest report's StartedAt, RFC 3339
	Total       int    // entries
	Graded      int    // entries with a gradable report
	Excluded    int    // Total - Graded
	Passed      int    // graded entries that passed every required check
	Mean        string // mean score of the graded entries
	Median      string
	MaxScore    int
	Hist        htmlHist
	Checkpoints []htmlRate
	Checks      []htmlRate
	Sizes       htmlSizes
	Students    []htmlStudent
}

// htmlRate is the pass rate of one checkpoint or check over the graded entries.
type htmlRate struct {
	N       int    // checkpoint number, 0 for a check
	ID      string // check id, "" for a checkpoint
	Title   string
	Pass    int
	Total   int
	Pct     int // rounded percentage
	Weakest bool
	Bonus   bool
}

// htmlHist is the score histogram, laid out for an SVG viewBox of
// htmlHistW × htmlHistH.
type htmlHist struct {
	Bars   []htmlBar
	YTicks []htmlTick
	Axis   float64 // y of the x axis
	Left   float64 // x of the y axis
	Right  float64
	Empty  bool // no graded entry
}

type htmlBar struct {
	Label      string // "90–100"
	Lo, Hi     int    // the bin's score range, inclusive
	Count      int
	X, Y, W, H float64
	LabelX     float64 // centre of the bar
}

type htmlTick struct {
	Pos   float64 // x or y in the viewBox
	Label string
}

// htmlSizes is the strip chart of image sizes, laid out for an SVG viewBox
// of htmlSizeW × htmlSizeH.
type htmlSizes struct {
	Points   []htmlPoint
	Ticks    []htmlTick
	Log      bool
	Limit    int64   // bytes; 0 when the lab sets none
	LimitX   float64 // x of the limit line
	LimitTxt string  // "20 MB"
	Within   int     // images at most Limit
	Over     int
	NoImage  int // graded entries without an image
	Median   string
	Left     float64
	Right    float64
	Top      float64
	Axis     float64
}

type htmlPoint struct {
	Name  string
	Size  int64
	Human string
	X, Y  float64
	Over  bool
}

// htmlStudent is one row of the students' table.
type htmlStudent struct {
	Name     string
	Href     string // feedback/<name>.md, path-escaped
	Graded   bool
	Score    int
	MaxScore int
	Bonus    int
	Passed   bool
	Gradable bool
	HasImage bool
	Size     int64
	SizeTxt  string
	Failed   []htmlFailed
	Error    string // why it is not graded
}

type htmlFailed struct {
	ID      string
	Message string
}

// Geometry of the charts (SVG user units; the SVGs scale to the page width).
const (
	htmlHistW   = 640
	htmlHistH   = 260
	htmlSizeW   = 640
	htmlSizeH   = 176
	htmlLanes   = 5  // rows of the strip chart, so that close sizes don't overlap
	htmlLaneGap = 16 // vertical distance between lanes
)

func htmlBuild(lab *grader.Lab, entries []Entry) *htmlPage {
	p := &htmlPage{Title: lab.Title, Total: len(entries)}
	if p.Title == "" {
		p.Title = lab.ID
	}

	var graded []*Entry
	var newest time.Time
	for i := range entries {
		e := &entries[i]
		if e.Report != nil && e.Report.StartedAt.After(newest) {
			newest = e.Report.StartedAt
		}
		if e.Gradable() {
			graded = append(graded, e)
		}
	}
	if !newest.IsZero() {
		p.Date = newest.Format("2006-01-02")
		p.DateTime = newest.Format(time.RFC3339)
	}
	p.Graded = len(graded)
	p.Excluded = p.Total - p.Graded

	p.MaxScore = htmlMaxScore(lab, graded)
	scores := make([]int, 0, len(graded))
	for _, e := range graded {
		scores = append(scores, e.Report.Score)
		if e.Report.Passed {
			p.Passed++
		}
	}
	p.Mean, p.Median = htmlMeanMedian(scores)
	p.Hist = htmlHistogram(scores, p.MaxScore)
	p.Checkpoints = htmlCheckpointRates(lab, graded)
	p.Checks = htmlCheckRates(lab, graded)

	limit := lab.SizeLimit
	if limit <= 0 {
		for _, e := range graded {
			if e.Report.SizeLimit > 0 {
				limit = e.Report.SizeLimit
				break
			}
		}
	}
	p.Sizes = htmlSizeChart(graded, limit)

	for i := range entries {
		p.Students = append(p.Students, htmlStudentRow(&entries[i]))
	}
	return p
}

// htmlMaxScore is the top of the score axis: the graded reports' max_score,
// else the lab's required points, else 100.
func htmlMaxScore(lab *grader.Lab, graded []*Entry) int {
	m := 0
	for _, e := range graded {
		m = max(m, e.Report.MaxScore)
	}
	if m > 0 {
		return m
	}
	for _, c := range lab.Checks {
		if !c.Bonus {
			m += c.Points
		}
	}
	if m > 0 {
		return m
	}
	return 100
}

func htmlMeanMedian(scores []int) (mean, median string) {
	if len(scores) == 0 {
		return "–", "–"
	}
	sum := 0
	for _, s := range scores {
		sum += s
	}
	s := append([]int(nil), scores...)
	sort.Ints(s)
	var med float64
	if n := len(s); n%2 == 1 {
		med = float64(s[n/2])
	} else {
		med = float64(s[n/2-1]+s[n/2]) / 2
	}
	return htmlNum(float64(sum) / float64(len(scores))), htmlNum(med)
}

// htmlHistogram bins scores in 10-point bins: 0–9, 10–19, …; the last bin
// includes maxScore (90–100).
func htmlHistogram(scores []int, maxScore int) htmlHist {
	const left, right, top, bottom = 44.0, 12.0, 22.0, 42.0
	h := htmlHist{Left: left, Right: htmlHistW - right, Axis: htmlHistH - bottom, Empty: len(scores) == 0}
	nbins := max(1, (maxScore+9)/10)
	counts := make([]int, nbins)
	for _, s := range scores {
		i := min(max(s, 0)/10, nbins-1)
		counts[i]++
	}
	maxCount := 0
	for _, c := range counts {
		maxCount = max(maxCount, c)
	}
	step := max(1, int(htmlNiceStep(float64(maxCount)/6)))
	yMax := max(1, (maxCount+step-1)/step*step)
	plotW := htmlHistW - left - right
	plotH := h.Axis - top
	slot := plotW / float64(nbins)
	for i, c := range counts {
		lo, hi := i*10, i*10+9
		if i == nbins-1 {
			hi = max(maxScore, lo)
		}
		bh := plotH * float64(c) / float64(yMax)
		x := left + float64(i)*slot + slot*0.1
		h.Bars = append(h.Bars, htmlBar{
			Label: fmt.Sprintf("%d–%d", lo, hi), Lo: lo, Hi: hi, Count: c,
			X: x, W: slot * 0.8, Y: h.Axis - bh, H: bh, LabelX: x + slot*0.4,
		})
	}
	for v := 0; v <= yMax; v += step {
		h.YTicks = append(h.YTicks, htmlTick{Pos: h.Axis - plotH*float64(v)/float64(yMax), Label: strconv.Itoa(v)})
	}
	return h
}

// htmlCheckpointRates is the share of graded entries whose report marks each
// of the lab's checkpoints as pass, by checkpoint number. The lowest rate
// among the required checkpoints is marked Weakest (every tie), unless it is
// 100%. A checkpoint evidenced only by bonus checks (scratch, in this lab) is
// optional: it is shown, tagged, but never called the weakest while a
// required one exists, since most students rightly skip it.
func htmlCheckpointRates(lab *grader.Lab, graded []*Entry) []htmlRate {
	cps := append([]grader.Checkpoint(nil), lab.Checkpoints...)
	sort.SliceStable(cps, func(i, j int) bool { return cps[i].N < cps[j].N })
	var rates []htmlRate
	for _, cp := range cps {
		r := htmlRate{N: cp.N, Title: cp.Title, Total: len(graded)}
		bonus, required := 0, 0
		for _, c := range lab.Checks {
			if c.Checkpoint == cp.N {
				if c.Bonus {
					bonus++
				} else {
					required++
				}
			}
		}
		r.Bonus = bonus > 0 && required == 0
		for _, e := range graded {
			for _, res := range e.Report.Checkpoints {
				if res.N == cp.N && res.Status == grader.StatusPass {
					r.Pass++
					break
				}
			}
		}
		r.Pct = htmlPct(r.Pass, r.Total)
		rates = append(rates, r)
	}
	anyRequired := false
	for _, r := range rates {
		anyRequired = anyRequired || !r.Bonus
	}
	lowest := -1
	for _, r := range rates {
		if (!r.Bonus || !anyRequired) && (lowest < 0 || r.Pass < lowest) {
			lowest = r.Pass
		}
	}
	if len(graded) > 0 && lowest >= 0 && lowest < len(graded) {
		for i := range rates {
			rates[i].Weakest = rates[i].Pass == lowest && (!rates[i].Bonus || !anyRequired)
		}
	}
	return rates
}

// htmlCheckRates is the pass rate of each check id, in the lab's scorecard
// order, then any id the lab does not list (in the order first seen).
func htmlCheckRates(lab *grader.Lab, graded []*Entry) []htmlRate {
	var rates []htmlRate
	index := map[string]int{}
	add := func(id, title string, bonus bool) {
		if _, ok := index[id]; !ok {
			index[id] = len(rates)
			rates = append(rates, htmlRate{ID: id, Title: title, Bonus: bonus, Total: len(graded)})
		}
	}
	for _, c := range lab.Checks {
		add(c.ID, c.Title, c.Bonus)
	}
	for _, e := range graded {
		for _, c := range e.Report.Checks {
			add(c.ID, c.Title, !c.Required)
			if c.Status == grader.StatusPass {
				rates[index[c.ID]].Pass++
			}
		}
	}
	for i := range rates {
		rates[i].Pct = htmlPct(rates[i].Pass, rates[i].Total)
	}
	return rates
}

func htmlPct(n, total int) int {
	if total == 0 {
		return 0
	}
	return int(math.Round(100 * float64(n) / float64(total)))
}

// htmlSizeChart places each graded image on a horizontal size axis. The axis
// is logarithmic when the largest image is more than 20 times the smallest
// (a class spans 5 MB alpine images to 1 GB golang ones), linear otherwise;
// it always includes the limit.
func htmlSizeChart(graded []*Entry, limit int64) htmlSizes {
	const left, right, top = 24.0, 28.0, 34.0
	s := htmlSizes{Limit: limit, Left: left, Right: htmlSizeW - right, Top: top}
	s.Axis = top + htmlLanes*htmlLaneGap
	if limit > 0 {
		s.LimitTxt = grader.FormatSize(limit)
	}
	for _, e := range graded {
		img := e.Report.Image
		if img == nil || img.SizeBytes <= 0 {
			s.NoImage++
			continue
		}
		pt := htmlPoint{Name: e.Name, Size: img.SizeBytes, Human: grader.FormatSize(img.SizeBytes)}
		if limit > 0 && img.SizeBytes > limit {
			pt.Over = true
			s.Over++
		} else {
			s.Within++
		}
		s.Points = append(s.Points, pt)
	}
	if len(s.Points) == 0 {
		return s
	}
	// Lanes by size order: neighbours on the axis go to different rows.
	sort.SliceStable(s.Points, func(i, j int) bool { return s.Points[i].Size < s.Points[j].Size })
	lo, hi := s.Points[0].Size, s.Points[len(s.Points)-1].Size
	if n := len(s.Points); n%2 == 1 {
		s.Median = grader.FormatSize(s.Points[n/2].Size)
	} else {
		s.Median = grader.FormatSize((s.Points[n/2-1].Size + s.Points[n/2].Size) / 2)
	}
	s.Log = float64(hi) > 20*float64(lo)
	if limit > 0 {
		lo, hi = min(lo, limit), max(hi, limit)
	}
	plotW := s.Right - s.Left
	var x func(v float64) float64
	if s.Log {
		// From a 1-2-5 value below the smallest to one above the largest.
		a := math.Log10(htmlNiceFloor(float64(lo) / 1.2))
		b := math.Log10(htmlNiceStep(float64(hi) * 1.2))
		x = func(v float64) float64 { return s.Left + (math.Log10(v)-a)/(b-a)*plotW }
		mults := []float64{1, 2, 5}
		if b-a > 3.5 {
			mults = []float64{1}
		}
		for e := math.Floor(a); e <= math.Ceil(b); e++ {
			for _, m := range mults {
				v := m * math.Pow(10, e)
				if l := math.Log10(v); l >= a-1e-9 && l <= b+1e-9 {
					s.Ticks = append(s.Ticks, htmlTick{Pos: x(v), Label: grader.FormatSize(int64(math.Round(v)))})
				}
			}
		}
	} else {
		top := float64(hi) * 1.1
		step := htmlNiceStep(top / 5)
		end := math.Ceil(top/step) * step
		x = func(v float64) float64 { return s.Left + v/end*plotW }
		for v := 0.0; v <= end*1.0001; v += step {
			label := grader.FormatSize(int64(math.Round(v)))
			if v == 0 {
				label = "0"
			}
			s.Ticks = append(s.Ticks, htmlTick{Pos: x(v), Label: label})
		}
	}
	for i := range s.Points {
		s.Points[i].X = x(float64(s.Points[i].Size))
		s.Points[i].Y = s.Top + htmlLaneGap/2 + float64(i%htmlLanes)*htmlLaneGap
	}
	if limit > 0 {
		s.LimitX = x(float64(limit))
	}
	return s
}

// htmlNiceFloor rounds v down to 1, 2 or 5 times a power of ten.
func htmlNiceFloor(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{5, 2, 1} {
		if m*p <= v {
			return m * p
		}
	}
	return p
}

// htmlNiceStep rounds v up to 1, 2 or 5 times a power of ten.
func htmlNiceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func htmlStudentRow(e *Entry) htmlStudent {
	st := htmlStudent{Name: e.Name, Href: htmlFeedbackHref(e.Name), Graded: e.Gradable()}
	r := e.Report
	if r != nil {
		st.Score, st.MaxScore, st.Bonus = r.Score, r.MaxScore, r.BonusScore
		st.Passed, st.Gradable = r.Passed, r.Gradable
		if r.Image != nil && r.Image.SizeBytes > 0 {
			st.HasImage, st.Size, st.SizeTxt = true, r.Image.SizeBytes, grader.FormatSize(r.Image.SizeBytes)
		}
		for _, c := range r.Checks {
			if c.Status == grader.StatusFail {
				st.Failed = append(st.Failed, htmlFailed{ID: c.ID, Message: c.Message})
			}
		}
	}
	if !st.Graded {
		st.Error = e.Reason() // the same words as the student's feedback file
	}
	return st
}

// htmlFeedbackHref is the link to a student's scorecard, relative to
// report.html: feedback/<name>.md with the name path-escaped, so that spaces,
// '#', '?', '/' and the like stay part of the file name.
func htmlFeedbackHref(name string) string {
	return "feedback/" + url.PathEscape(name) + ".md"
}

// htmlNum formats a coordinate or a statistic with at most one decimal.
func htmlNum(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		s = "0"
	}
	return s
}

var htmlTemplate = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"n": htmlNum,
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
	"add": func(a, b float64) float64 { return a + b },
}).Parse(htmlSource))

const htmlSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} — class report</title>
<style>
:root { --fg: #1d2330; --muted: #5d6675; --line: #d9dee6; --bg: #ffffff; --panel: #f6f8fb;
  --bar: #3b6fd8; --ok: #1f8a4c; --bad: #c8372d; --warn: #fff4d6; --warnline: #e0a800; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1040px; margin: 0 auto; padding: 24px 20px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; line-height: 1.2; }
header p { margin: 0; color: var(--muted); }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.stats { display: flex; flex-wrap: wrap; gap: 12px; margin: 18px 0 0; padding: 0; list-style: none; }
.stats li { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.stats b { display: block; font-size: 22px; }
.stats span { color: var(--muted); font-size: 13px; }
.note { color: var(--muted); font-size: 14px; margin: 6px 0; }
.excluded { background: var(--warn); border-left: 4px solid var(--warnline); padding: 6px 10px; color: var(--fg); }
svg { display: block; width: 100%; height: auto; max-width: 760px; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; fill: var(--fg); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .bar { fill: var(--bar); }
svg .count { font-weight: 600; }
svg .muted { fill: var(--muted); }
svg .limit { stroke: var(--bad); stroke-width: 2; stroke-dasharray: 6 4; }
svg .limit-label { fill: var(--bad); font-weight: 600; }
svg .dot { fill: var(--ok); fill-opacity: .75; stroke: #fff; stroke-width: 1; }
svg .dot.over { fill: var(--bad); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 13px; color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.rate td { vertical-align: middle; }
.rate .label { white-space: nowrap; font-weight: 600; }
.rate .meter { width: 34%; }
.meter div { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; height: 14px; overflow: hidden; }
.meter span { display: block; height: 100%; background: var(--bar); }
tr.weakest { background: var(--warn); }
tr.weakest .meter span { background: var(--bad); }
.tag { display: inline-block; font-size: 12px; border-radius: 4px; padding: 0 6px; margin-left: 6px; background: var(--bad); color: #fff; font-weight: 600; }
.tag.bonus { background: var(--muted); }
code { font: 13px ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.failed code { display: inline-block; background: #fdeceb; color: #8f1f17; border-radius: 4px; padding: 0 5px; margin: 1px 2px 1px 0; }
.yes { color: var(--ok); font-weight: 600; }
.no { color: var(--bad); font-weight: 600; }
.ng { display: inline-block; background: #eceff3; color: var(--muted); border-radius: 4px; padding: 0 6px; font-weight: 600; white-space: nowrap; }
.err { color: var(--muted); font-size: 14px; overflow-wrap: anywhere; }
.students td:first-child { overflow-wrap: anywhere; min-width: 11em; max-width: 20em; }
.students small { color: var(--muted); }
.students th[data-key] { cursor: pointer; user-select: none; }
.students th[data-key]::after { content: " \2195"; color: var(--line); }
.legend { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin: 0 4px 0 12px; vertical-align: baseline; }
a { color: #1f55b8; }
@media print { main { max-width: none; padding: 0; } .students th[data-key]::after { content: ""; } }
</style>
</head>
<body>
<main>
<header>
<h1>{{.Title}}</h1>
<p>Class report · {{.Total}} {{plural .Total "submission" "submissions"}}{{if .Date}} · <time datetime="{{.DateTime}}">{{.Date}}</time>{{end}}</p>
<ul class="stats">
<li><b>{{.Graded}}</b><span>graded</span></li>
<li><b>{{.Passed}}</b><span>passed every required check</span></li>
<li><b>{{.Mean}}</b><span>mean score / {{.MaxScore}}</span></li>
<li><b>{{.Median}}</b><span>median score</span></li>
<li><b>{{.Excluded}}</b><span>not graded</span></li>
</ul>
{{- if .Excluded}}
<p class="note excluded">{{.Excluded}} {{plural .Excluded "submission was" "submissions were"}} not graded (no report, or the grader failed) and {{plural .Excluded "is" "are"}} excluded from the charts and pass rates below; see the table of students.</p>
{{- end}}
</header>

<section id="distribution">
<h2>Score distribution</h2>
{{- if .Hist.Empty}}
<p class="note">No graded submission.</p>
{{- else}}
<svg viewBox="0 0 640 260" role="img" aria-label="Histogram of scores in 10-point bins">
{{- range .Hist.YTicks}}
<line class="grid" x1="{{n $.Hist.Left}}" y1="{{n .Pos}}" x2="{{n $.Hist.Right}}" y2="{{n .Pos}}"/>
<text class="muted" x="{{n (add $.Hist.Left -6)}}" y="{{n (add .Pos 4)}}" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- range .Hist.Bars}}
<rect class="bar" data-bin="{{.Label}}" data-count="{{.Count}}" x="{{n .X}}" y="{{n .Y}}" width="{{n .W}}" height="{{n .H}}"><title>{{.Label}} points: {{.Count}} {{plural .Count "student" "students"}}</title></rect>
{{- if .Count}}
<text class="count" x="{{n .LabelX}}" y="{{n (add .Y -5)}}" text-anchor="middle">{{.Count}}</text>
{{- end}}
<text class="muted" x="{{n .LabelX}}" y="{{n (add $.Hist.Axis 16)}}" text-anchor="middle">{{.Label}}</text>
{{- end}}
<line class="axis" x1="{{n .Hist.Left}}" y1="{{n .Hist.Axis}}" x2="{{n .Hist.Right}}" y2="{{n .Hist.Axis}}"/>
<text class="muted" x="{{n .Hist.Right}}" y="{{n (add .Hist.Axis 36)}}" text-anchor="end">score (points out of {{.MaxScore}})</text>
<text class="muted" x="4" y="12">students</text>
</svg>
{{- end}}
</section>

<section id="checkpoints">
<h2>Checkpoints</h2>
<p class="note">Share of the {{.Graded}} graded {{plural .Graded "submission" "submissions"}} whose scorecard passes each of the lab's checkpoints.</p>
<table class="rate">
<thead><tr><th>Checkpoint</th><th>Title</th><th class="num">Pass rate</th><th class="num">Passed</th><th>Bar</th></tr></thead>
<tbody>
{{- range .Checkpoints}}
<tr data-checkpoint="{{.N}}"{{if .Weakest}} class="weakest"{{end}}>
<td class="label">Checkpoint {{.N}}</td>
<td>{{.Title}}{{if .Bonus}}<span class="tag bonus">optional</span>{{end}}{{if .Weakest}}<span class="tag">weakest</span>{{end}}</td>
<td class="num">{{.Pct}}%</td>
<td class="num">{{.Pass}} / {{.Total}}</td>
<td class="meter"><div><span style="width: {{.Pct}}%"></span></div></td>
</tr>
{{- end}}
</tbody>
</table>
</section>

<section id="checks">
<h2>Checks</h2>
<table class="rate">
<thead><tr><th>Check</th><th>Title</th><th class="num">Pass rate</th><th class="num">Passed</th><th>Bar</th></tr></thead>
<tbody>
{{- range .Checks}}
<tr data-check="{{.ID}}">
<td class="label"><code>{{.ID}}</code></td>
<td>{{.Title}}{{if .Bonus}}<span class="tag bonus">bonus</span>{{end}}</td>
<td class="num">{{.Pct}}%</td>
<td class="num">{{.Pass}} / {{.Total}}</td>
<td class="meter"><div><span style="width: {{.Pct}}%"></span></div></td>
</tr>
{{- end}}
</tbody>
</table>
</section>

<section id="sizes">
<h2>Image sizes</h2>
{{- with .Sizes}}
{{- if .Points}}
<svg viewBox="0 0 640 176" role="img" aria-label="Image sizes{{if .Limit}} against the {{.LimitTxt}} limit{{end}}">
<line class="axis" x1="{{n .Left}}" y1="{{n .Axis}}" x2="{{n .Right}}" y2="{{n .Axis}}"/>
{{- range .Ticks}}
<line class="grid" x1="{{n .Pos}}" y1="{{n $.Sizes.Top}}" x2="{{n .Pos}}" y2="{{n (add $.Sizes.Axis 4)}}"/>
<text class="muted" x="{{n .Pos}}" y="{{n (add $.Sizes.Axis 18)}}" text-anchor="middle">{{.Label}}</text>
{{- end}}
{{- if .Limit}}
<line class="limit" data-limit="{{.Limit}}" x1="{{n .LimitX}}" y1="{{n (add .Top -12)}}" x2="{{n .LimitX}}" y2="{{n .Axis}}"/>
<text class="limit-label" x="{{n .LimitX}}" y="{{n (add .Top -16)}}" text-anchor="middle">limit {{.LimitTxt}}</text>
{{- end}}
{{- range .Points}}
<circle class="dot{{if .Over}} over{{end}}" data-size="{{.Size}}" cx="{{n .X}}" cy="{{n .Y}}" r="6"><title>{{.Name}}: {{.Human}}</title></circle>
{{- end}}
<text class="muted" x="{{n .Right}}" y="{{n (add .Axis 38)}}" text-anchor="end">final image size{{if .Log}} (log scale){{end}}</text>
</svg>
<p class="note"><span class="legend" style="background: var(--ok)"></span>{{.Within}} within the limit<span class="legend" style="background: var(--bad)"></span>{{.Over}} over the limit · median {{.Median}}{{if .Log}} · sizes span more than 20×, so the axis is logarithmic{{end}}.{{if .NoImage}} {{.NoImage}} graded {{plural .NoImage "submission has" "submissions have"}} no image (the build failed).{{end}}</p>
{{- else}}
<p class="note">No graded submission has an image.</p>
{{- end}}
{{- end}}
</section>

<section id="students">
<h2>Students</h2>
<p class="note">Each name links to the student's scorecard in <code>feedback/</code>. Click a column heading to sort.</p>
<table class="students">
<thead><tr><th data-key="name">Student</th><th class="num" data-key="score">Score</th><th data-key="passed">Passed</th><th data-key="gradable">Gradable</th><th class="num" data-key="size">Image</th><th>Failed checks</th></tr></thead>
<tbody>
{{- range $i, $s := .Students}}
<tr data-i="{{$i}}" data-name="{{.Name}}" data-score="{{if .Graded}}{{.Score}}{{else}}-1{{end}}" data-passed="{{if and .Graded .Passed}}1{{else}}0{{end}}" data-gradable="{{if .Gradable}}1{{else}}0{{end}}" data-size="{{if .HasImage}}{{.Size}}{{else}}-1{{end}}">
<td><a href="{{.Href}}">{{.Name}}</a></td>
{{- if .Graded}}
<td class="num">{{.Score}} / {{.MaxScore}}{{if .Bonus}}<br><small>+{{.Bonus}} bonus</small>{{end}}</td>
<td>{{if .Passed}}<span class="yes">yes</span>{{else}}<span class="no">no</span>{{end}}</td>
<td>yes</td>
<td class="num">{{if .HasImage}}{{.SizeTxt}}{{else}}–{{end}}</td>
<td class="failed">{{range .Failed}}<code title="{{.Message}}">{{.ID}}</code> {{else}}–{{end}}</td>
{{- else}}
<td class="num"><span class="ng">not graded</span></td>
<td>–</td>
<td><span class="no">no</span></td>
<td class="num">{{if .HasImage}}{{.SizeTxt}}{{else}}–{{end}}</td>
<td class="err">{{.Error}}</td>
{{- end}}
</tr>
{{- end}}
</tbody>
</table>
</section>
</main>
<script>
(function () {
  "use strict";
  var table = document.querySelector("table.students");
  if (!table) { return; }
  var body = table.tBodies[0];
  var current = "", dir = 1;
  table.querySelectorAll("th[data-key]").forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      dir = key === current ? -dir : (key === "name" ? 1 : -1);
      current = key;
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.getAttribute("data-" + key), y = b.getAttribute("data-" + key);
        var c = key === "name" ? x.localeCompare(y) : Number(x) - Number(y);
        return c * dir || Number(a.getAttribute("data-i")) - Number(b.getAttribute("data-i"));
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
</script>
</body>
</html>
`
