package batch

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gradelab/grade/grader"
)

// update rewrites the golden files under testdata/ (go test -update).
// It is the package's only golden-file flag: reuse it in other test files.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const htmlGolden = "testdata/html/report.golden.html"

// The student whose name tries to run JavaScript, and the markup an error
// message tries to inject.
const (
	htmlEvilName = `<script>document.title="pwned"</script>`
	htmlEvilErr  = `docker: <img src=x onerror="document.title='pwned'"> unreachable`
)

// htmlTestLab is the contract's lab: its seven checkpoints and sixteen checks.
func htmlTestLab() *grader.Lab {
	lab := &grader.Lab{
		ID:         "multistage",
		Title:      "Lab 2: Multi-Stage Build Migration",
		Dockerfile: "Dockerfile.multistage",
		SizeLimit:  20_000_000,
		Port:       8080,
		Checkpoints: []grader.Checkpoint{
			// Out of order on purpose: the page sorts by number.
			{N: 2, Title: "Earlier stages can build artifacts"},
			{N: 1, Title: "Multi-stage builds use multiple FROM statements"},
			{N: 3, Title: "COPY --from=<stage> copies files between stages"},
			{N: 4, Title: "Only the final stage becomes the image"},
			{N: 5, Title: "Build stages can use different base images"},
			{N: 6, Title: "Static binaries (CGO_ENABLED=0) enable minimal base images"},
			{N: 7, Title: "scratch is the ultimate minimal base (0MB)"},
		},
	}
	for _, c := range []struct {
		id, title  string
		checkpoint int
		points     int
		bonus      bool
	}{
		{"dockerfile.found", "Dockerfile.multistage exists and parses", 0, 5, false},
		{"dockerfile.multi-stage", "At least two FROM stages", 1, 10, false},
		{"dockerfile.copy-from", "Final stage copies from an earlier stage", 3, 10, false},
		{"dockerfile.distinct-bases", "Final stage uses a different base image", 5, 5, false},
		{"dockerfile.non-root", "Final stage sets a non-root USER", 0, 5, false},
		{"image.build", "The image builds", 2, 10, false},
		{"image.size", "Final image is at most 20 MB", 4, 15, false},
		{"image.no-toolchain", "No Go toolchain or sources in the image", 4, 5, false},
		{"image.static-binary", "The server is a static binary", 6, 5, false},
		{"image.non-root", "The image runs as a non-root user", 0, 5, false},
		{"runtime.start", "The container starts and answers on 8080", 0, 5, false},
		{"runtime.non-root", "The server process is not root", 0, 5, false},
		{"runtime.health", "GET /health answers healthy", 0, 5, false},
		{"runtime.info", "GET /info answers", 0, 5, false},
		{"runtime.echo", "POST /echo echoes", 0, 5, false},
		{"bonus.scratch", "Dockerfile.scratch builds FROM scratch and runs", 7, 10, true},
	} {
		lab.Checks = append(lab.Checks, &grader.Check{
			ID: c.id, Title: c.title, Checkpoint: c.checkpoint, Points: c.points, Bonus: c.bonus,
		})
	}
	return lab
}

// htmlReport builds a finished report on lab: every check passes unless
// listed in not (id → status), and the image, when size > 0, has that size.
func htmlReport(lab *grader.Lab, name string, started time.Time, size int64, not map[string]grader.Status) *grader.Report {
	r := &grader.Report{
		SchemaVersion: grader.SchemaVersion,
		Lab:           lab.ID,
		LabTitle:      lab.Title,
		Submission:    name,
		GraderVersion: "test",
		StartedAt:     started,
		SizeLimit:     lab.SizeLimit,
	}
	if size > 0 {
		r.Image = &grader.ImageSummary{ID: "sha256:0123", SizeBytes: size, User: "appuser"}
	}
	for _, c := range lab.Checks {
		res := grader.Result{ID: c.ID, Title: c.Title, Required: !c.Bonus, Status: grader.StatusPass, MaxScore: c.Points}
		if c.Checkpoint != 0 {
			n := c.Checkpoint
			res.Checkpoint = &n
		}
		if s, ok := not[c.ID]; ok {
			res.Status = s
			res.Message = c.ID + " " + string(s) + "ed for " + name
		}
		r.Checks = append(r.Checks, res)
	}
	r.Finish(lab)
	return r
}

// htmlEntries is a class of six: a perfect submission, three failing ones
// (one named like a script), one the grader could not grade, and one with no
// report at all. Four are graded; checkpoint 6 passes for two of them.
func htmlEntries(lab *grader.Lab) []Entry {
	day := time.Date(2026, 10, 27, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	fail, skip, errs := grader.StatusFail, grader.StatusSkip, grader.StatusError
	runtimeSkipped := map[string]grader.Status{
		"runtime.start": fail, "runtime.non-root": skip, "runtime.health": skip,
		"runtime.info": skip, "runtime.echo": skip,
	}
	bob := map[string]grader.Status{"image.size": fail, "image.static-binary": fail, "bonus.scratch": skip}
	for k, v := range runtimeSkipped {
		bob[k] = v
	}
	return []Entry{
		{Name: "alice", Source: "subs/alice", Report: htmlReport(lab, "alice", day.Add(10*time.Minute), 7_620_000, nil)},
		{Name: "Bob Smith", Source: "subs/Bob Smith", Report: htmlReport(lab, "Bob Smith", day.Add(12*time.Minute), 24_300_000, bob)},
		{Name: htmlEvilName, Source: "subs/evil", Report: htmlReport(lab, htmlEvilName, day.Add(14*time.Minute), 1_050_000_000, map[string]grader.Status{
			"dockerfile.multi-stage": fail, "dockerfile.copy-from": fail, "dockerfile.distinct-bases": fail,
			"dockerfile.non-root": fail, "image.size": fail, "image.no-toolchain": fail,
			"image.static-binary": fail, "image.non-root": fail, "runtime.non-root": fail, "bonus.scratch": skip,
		})},
		{Name: "carol", Source: "subs/carol", Report: htmlReport(lab, "carol", day.Add(16*time.Minute), 13_200_000, map[string]grader.Status{
			"dockerfile.non-root": fail, "image.non-root": fail, "runtime.non-root": fail, "bonus.scratch": skip,
		})},
		{Name: "dave", Source: "subs/dave", Report: htmlReport(lab, "dave", day.Add(5*time.Hour+30*time.Minute), 0, map[string]grader.Status{
			"image.build": errs, "image.size": skip, "image.no-toolchain": skip, "image.static-binary": skip,
			"image.non-root": skip, "runtime.start": skip, "runtime.non-root": skip, "runtime.health": skip,
			"runtime.info": skip, "runtime.echo": skip, "bonus.scratch": skip,
		}), Error: htmlEvilErr},
		{Name: "eve #1?", Source: "https://git.example/eve.git", Error: "git clone: repository not found"},
	}
}

func htmlRender(t *testing.T, lab *grader.Lab, entries []Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, lab, entries); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return buf.Bytes()
}

func TestWriteHTMLGolden(t *testing.T) {
	lab := htmlTestLab()
	got := htmlRender(t, lab, htmlEntries(lab))
	if *update {
		if err := os.MkdirAll(filepath.Dir(htmlGolden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(htmlGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(htmlGolden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestWriteHTMLGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report.html differs from %s (go test -run TestWriteHTMLGolden -update rewrites it)\n--- got:\n%s", htmlGolden, got)
	}
	if again := htmlRender(t, lab, htmlEntries(lab)); !bytes.Equal(got, again) {
		t.Error("two renderings of the same entries differ")
	}
}

// htmlRemote matches anything that would make the browser fetch from the
// network: a src/href/xlink:href/action/poster/srcset to http(s) or a
// protocol-relative URL, a CSS url() or @import of one.
var htmlRemote = regexp.MustCompile(`(?i)((src|href|action|poster|srcset|data)\s*=\s*["']?\s*(https?:)?//)|(url\(\s*["']?\s*(https?:)?//)|@import`)

func TestWriteHTMLSelfContained(t *testing.T) {
	lab := htmlTestLab()
	out := htmlRender(t, lab, htmlEntries(lab))
	if m := htmlRemote.Find(out); m != nil {
		t.Errorf("report.html loads a remote resource: %q", m)
	}
	for _, s := range []string{"http://", "https://"} {
		// The only URL in the input is eve's Source, which the page does not show.
		if i := bytes.Index(out, []byte(s)); i >= 0 {
			t.Errorf("report.html contains %q at byte %d: %q", s, i, out[max(0, i-60):min(len(out), i+60)])
		}
	}
	// Exactly one script element: the page's own table sorter, inline.
	if n := bytes.Count(out, []byte("<script")); n != 1 {
		t.Errorf("report.html has %d <script elements, want 1 (the inline sorter)", n)
	}
	if bytes.Contains(out, []byte("<script src")) || bytes.Contains(out, []byte("<link")) {
		t.Error("report.html references an external script or stylesheet")
	}
}

func TestWriteHTMLEscapes(t *testing.T) {
	lab := htmlTestLab()
	out := string(htmlRender(t, lab, htmlEntries(lab)))
	for _, bad := range []string{htmlEvilName, "<img src=x", `onerror="document`} {
		if strings.Contains(out, bad) {
			t.Errorf("untrusted text %q reached the page unescaped", bad)
		}
	}
	for _, want := range []string{
		`&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;`,
		`&lt;img src=x onerror=&#34;document.title=&#39;pwned&#39;&#34;&gt; unreachable`,
		`href="feedback/Bob%20Smith.md"`,
		`href="feedback/eve%20%231%3F.md"`,
		`href="feedback/%3Cscript%3Edocument.title=%22pwned%22%3C%2Fscript%3E.md"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestWriteHTMLContent(t *testing.T) {
	lab := htmlTestLab()
	out := string(htmlRender(t, lab, htmlEntries(lab)))
	for _, want := range []string{
		"<title>Lab 2: Multi-Stage Build Migration — class report</title>",
		"6 submissions",
		`<time datetime="2026-10-27T14:30:00&#43;01:00">2026-10-27</time>`, // dave's, the newest, though not gradable
		"2 submissions were not graded",
		"git clone: repository not found",
		"limit 20 MB",
		"(log scale)",
		`<tr data-checkpoint="4" class="weakest">`,
		`<tr data-checkpoint="6" class="weakest">`,
		`<tr data-checkpoint="7">`, // 25%, but optional (bonus only)
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	bins := regexp.MustCompile(`<rect class="bar" data-bin="([0-9]+)–([0-9]+)" data-count="([0-9]+)"`).FindAllStringSubmatch(out, -1)
	if len(bins) != 10 {
		t.Fatalf("histogram has %d bins, want 10", len(bins))
	}
	counts := map[string]int{}
	total := 0
	for _, b := range bins {
		n, _ := strconv.Atoi(b[3])
		counts[b[1]+"–"+b[2]] = n
		total += n
	}
	// Scores: alice 100, carol 85, Bob 55, the script 35 (dave and eve excluded).
	if total != 4 || counts["90–100"] != 1 || counts["80–89"] != 1 || counts["50–59"] != 1 || counts["30–39"] != 1 {
		t.Errorf("histogram counts %v, want alice/carol/Bob/script in 90–100/80–89/50–59/30–39", counts)
	}
	// Checkpoint order and rates.
	cps := regexp.MustCompile(`(?s)<tr data-checkpoint="([0-9])"[^>]*>.*?<td class="num">([0-9]+)%</td>\s*<td class="num">([0-9]+) / ([0-9]+)</td>`).FindAllStringSubmatch(out, -1)
	var got []string
	for _, m := range cps {
		got = append(got, m[1]+":"+m[2]+"%:"+m[3]+"/"+m[4])
	}
	want := "1:75%:3/4 2:100%:4/4 3:75%:3/4 4:50%:2/4 5:75%:3/4 6:50%:2/4 7:25%:1/4"
	if strings.Join(got, " ") != want {
		t.Errorf("checkpoint rates\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// Bob's image (24.3 MB) and the script's (1.05 GB) are over the limit.
	if n := strings.Count(out, `class="dot over"`); n != 2 {
		t.Errorf("%d images drawn over the limit, want 2", n)
	}
	if n := strings.Count(out, `<circle class="dot`); n != 4 {
		t.Errorf("%d images drawn, want 4 (graded ones only)", n)
	}
}

func TestWriteHTMLEdgeCases(t *testing.T) {
	lab := htmlTestLab()
	if err := WriteHTML(&bytes.Buffer{}, nil, nil); err == nil {
		t.Error("WriteHTML(nil lab) succeeded")
	}
	out := string(htmlRender(t, lab, nil))
	for _, want := range []string{"0 submissions", "No graded submission.", "No graded submission has an image."} {
		if !strings.Contains(out, want) {
			t.Errorf("empty batch: page lacks %q", want)
		}
	}
	if strings.Contains(out, `class="weakest"`) {
		t.Error("empty batch: a checkpoint is marked weakest")
	}
	// Everyone perfect: no weakest checkpoint; close sizes: linear axis.
	day := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	all := []Entry{
		{Name: "a", Report: htmlReport(lab, "a", day, 7_000_000, nil)},
		{Name: "b", Report: htmlReport(lab, "b", day, 9_000_000, nil)},
	}
	out = string(htmlRender(t, lab, all))
	if strings.Contains(out, `class="weakest"`) {
		t.Error("all checkpoints at 100%, yet one is marked weakest")
	}
	if strings.Contains(out, "log scale") {
		t.Error("sizes 7–9 MB drawn on a log scale")
	}
	if !strings.Contains(out, "2 submissions") || strings.Contains(out, "not graded (no report") {
		t.Error("all graded: the page should not announce exclusions")
	}
	// Not gradable without an Error: the page shows the error check's message.
	broken := htmlReport(lab, "c", day, 0, map[string]grader.Status{"image.build": grader.StatusError})
	out = string(htmlRender(t, lab, append(all, Entry{Name: "c", Report: broken})))
	if !strings.Contains(out, "image.build: image.build errored for c") || !strings.Contains(out, "1 submission was not graded") {
		t.Error("a not-gradable report without Error: its error check's message is not shown")
	}
}

// htmlChromium finds the headless browser, or fails the test: the browser
// test is part of the suite, not optional.
func htmlChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: the report.html browser test needs it " +
		"(Debian: apt-get install -y chromium)")
	return ""
}

// htmlRunChromium runs headless Chromium with args after the common flags and
// returns its standard output.
func htmlRunChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	common := []string{
		"--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=3000",
	}
	cmd := exec.CommandContext(ctx, bin, append(common, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func TestHTMLInChromium(t *testing.T) {
	bin := htmlChromium(t)
	lab := htmlTestLab()
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, htmlRender(t, lab, htmlEntries(lab)), 0o644); err != nil {
		t.Fatal(err)
	}
	fileURL := "file://" + filepath.ToSlash(page)

	dom := string(htmlRunChromium(t, bin, "--dump-dom", fileURL))
	if !strings.Contains(dom, "</html>") {
		t.Fatalf("chromium dumped no page:\n%s", dom)
	}
	// No injected script ran: the title is the page's own.
	title := regexp.MustCompile(`(?s)<title>(.*?)</title>`).FindStringSubmatch(dom)
	if title == nil || title[1] != "Lab 2: Multi-Stage Build Migration — class report" {
		t.Errorf("document title after rendering = %q, want the page's own (did a student's name run as script?)", title)
	}
	if strings.Contains(dom, "pwned") && strings.Contains(strings.SplitN(dom, "</head>", 2)[0], "pwned") {
		t.Error("a student's text reached the document head")
	}
	// The script name is shown as text, in its link.
	if !strings.Contains(dom, `&lt;script&gt;document.title="pwned"&lt;/script&gt;</a>`) {
		t.Error("the <script> student's name is not on the page as text")
	}
	if strings.Contains(dom, "<img") {
		t.Error("an error message became an <img> element")
	}
	for _, name := range []string{">alice</a>", ">Bob Smith</a>", ">carol</a>", ">dave</a>", ">eve #1?</a>"} {
		if !strings.Contains(dom, name) {
			t.Errorf("rendered page lacks the student link %s", name)
		}
	}
	// The histogram: ten bars, four students in them.
	bars := regexp.MustCompile(`<rect [^>]*data-bin="[^"]*"[^>]*data-count="([0-9]+)"`).FindAllStringSubmatch(dom, -1)
	sum := 0
	for _, b := range bars {
		n, _ := strconv.Atoi(b[1])
		sum += n
	}
	if len(bars) != 10 || sum != 4 {
		t.Errorf("rendered histogram: %d bars holding %d students, want 10 bars holding 4", len(bars), sum)
	}
	// Checkpoint 6: its visible row text says 50%.
	row := regexp.MustCompile(`(?s)<tr data-checkpoint="6"[^>]*>(.*?)</tr>`).FindStringSubmatch(dom)
	if row == nil {
		t.Fatal("rendered page has no row for checkpoint 6")
	}
	text := strings.Join(strings.Fields(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(row[1], " ")), " ")
	if !regexp.MustCompile(`^Checkpoint 6 .*Static binaries.* 50% 2 / 4$`).MatchString(text) {
		t.Errorf("checkpoint 6 row reads %q, want %q", text, "Checkpoint 6 … 50% 2 / 4")
	}
	if !strings.Contains(dom, "2 submissions were not graded") {
		t.Error("rendered page does not say how many submissions were excluded")
	}

	// A screenshot: a real, non-blank PNG.
	shot := filepath.Join(t.TempDir(), "report.png")
	htmlRunChromium(t, bin, "--hide-scrollbars", "--window-size=1200,3000", "--screenshot="+shot, fileURL)
	if dst := os.Getenv("GRADE_HTML_SCREENSHOT"); dst != "" { // for a person to look at
		if b, err := os.ReadFile(shot); err == nil {
			_ = os.WriteFile(dst, b, 0o644)
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 1000 || b.Dy() < 1000 {
		t.Errorf("screenshot is %dx%d, want 1200x3000", b.Dx(), b.Dy())
	}
	colors := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[[3]uint32{r >> 12, g >> 12, bl >> 12}] = true
		}
	}
	if len(colors) < 8 {
		t.Errorf("screenshot looks blank: %d distinct colours", len(colors))
	}
}
