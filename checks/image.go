package checks

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/dockerfile"
	"github.com/gradelab/grade/grader/session"
)

// ImageBuild builds Dockerfile.multistage. It owns the image: when the build
// fails it reports why, and every check that needs the image is skipped.
var ImageBuild = &grader.Check{
	ID:         "image.build",
	Title:      "The multi-stage image builds",
	Doc:        "Builds Dockerfile.multistage with the Docker Engine (classic builder) within the build timeout. The engine's result decides; on failure the failing step and the end of its output are shown.",
	Checkpoint: 2,
	Points:     10,
	Owns:       grader.ArtifactImage,
	Run: func(p *grader.Pass) grader.Outcome {
		img, err := p.Image(p.Lab().Dockerfile)
		if err != nil {
			o := buildFailure(p.Lab().Dockerfile, err)
			if f, ferr := p.Dockerfile(p.Lab().Dockerfile); ferr == nil && o.Status == grader.StatusFail {
				o = explainUnknownStage(f, o)
			}
			return o
		}
		return grader.Passed(fmt.Sprintf("built %s in %.1fs", shortID(img.ID), img.BuildDuration.Seconds()))
	},
}

// buildFailure turns a build error into the outcome of a build check.
func buildFailure(dockerfileName string, err error) grader.Outcome {
	var be *session.BuildError
	if !errors.As(err, &be) {
		return grader.Errored(grader.EnvironmentMessage(err))
	}
	if be.TimedOut {
		msg := fmt.Sprintf("the build did not finish within %s", be.Timeout)
		if be.Step != "" {
			msg += "; it was running: " + be.Step
		}
		return grader.Failed(msg, "a build step never ends (a RUN that waits or starts a server?); RUN steps must finish — start the server with CMD, not RUN")
	}
	msg := "the build failed: " + be.Error()
	if be.Step != "" {
		msg = fmt.Sprintf("the build failed at %s: %s", be.Step, be.Error())
	}
	if len(be.Output) > 0 {
		msg += "\n" + strings.Join(be.Output, "\n")
	}
	hint := "fix the failing step; run `docker build -f " + dockerfileName + " .` to see the whole log"
	low := strings.ToLower(be.Error() + " " + strings.Join(be.Output, " "))
	switch {
	case strings.Contains(low, "copy failed") || strings.Contains(low, "not found in build context"):
		hint = "a COPY source does not exist: check the path (in COPY --from=builder it is the path inside the builder stage, e.g. /app/server) and that the file is not excluded by .dockerignore"
	case strings.Contains(low, "invalid from flag value") || strings.Contains(low, "pull access denied"):
		hint = "COPY --from must name an earlier stage (FROM golang:1.21 AS builder … COPY --from=builder …)"
	case strings.Contains(low, "undefined:") || strings.Contains(low, "syntax error") || strings.Contains(low, ".go:"):
		hint = "the Go program does not compile: fix the error shown above (file:line:column)"
	case strings.Contains(low, "unknown instruction") || strings.Contains(low, "dockerfile parse error"):
		hint = "the Dockerfile has a syntax error at the line shown"
	}
	return grader.Failed(msg, hint)
}

// explainUnknownStage points a failed build at a COPY --from that names no
// stage: the classic builder then tries to pull an image of that name, and
// its error says nothing about stages.
func explainUnknownStage(f *dockerfile.File, o grader.Outcome) grader.Outcome {
	for _, st := range f.Stages {
		for _, c := range st.CopiesFrom {
			if c.Stage != nil || strings.ContainsAny(c.Ref, ":/@") {
				continue
			}
			var names []string
			for _, s := range f.Stages[:st.Index] {
				names = append(names, s.Label())
			}
			o.Hint = fmt.Sprintf("COPY --from=%s (line %d) names no earlier stage, so the engine looked for an image called %q; the earlier stages are: %s. Name the builder with `FROM golang:1.21 AS builder` and use the same name in COPY --from",
				c.Ref, c.Line, c.Ref, strings.Join(names, ", "))
			return o.At(f.Name, c.Line)
		}
	}
	return o
}

// ImageSize compares the final image's size with the lab's limit.
var ImageSize = &grader.Check{
	ID:         "image.size",
	Title:      "The final image is under 20 MB",
	Doc:        "Sums the sizes of the final image's layers (uncompressed, as `docker images` shows) and compares it with the 20 MB (20,000,000 bytes) limit. Only the final stage becomes the image, so a small runtime base plus the binary fits.",
	Checkpoint: 4,
	Points:     15,
	Requires:   []grader.Artifact{grader.ArtifactImage},
	Run: func(p *grader.Pass) grader.Outcome {
		img, _ := p.Image(p.Lab().Dockerfile)
		return judgeSize(img, p.Lab().SizeLimit)
	},
}

func judgeSize(img *session.Image, limit int64) grader.Outcome {
	msg := fmt.Sprintf("%s (%d bytes), limit %s", grader.FormatSize(img.SizeBytes), img.SizeBytes, grader.FormatSize(limit))
	if img.SizeBytes <= limit {
		return grader.Passed(msg)
	}
	if l, ok := img.Largest(); ok {
		msg += fmt.Sprintf("; the largest layer adds %s: %s", grader.FormatSize(l.SizeBytes), shorten(l.CreatedBy, 90))
	}
	return grader.Failed(msg, "only the final stage becomes the image: make the last stage `FROM alpine:3.18` (or scratch) and copy just the binary from the builder (`COPY --from=builder /app/server .`); `-ldflags=\"-w -s\"` trims it further")
}

// ImageNoToolchain looks for the Go toolchain and Go sources in the image.
var ImageNoToolchain = &grader.Check{
	ID:         "image.no-toolchain",
	Title:      "No compiler or source code ships",
	Doc:        "Walks the final image's filesystem for a Go toolchain (a `go` binary, /usr/local/go) and *.go source files. They belong in the builder stage only.",
	Checkpoint: 4,
	Points:     5,
	Requires:   []grader.Artifact{grader.ArtifactFilesystem},
	Run: func(p *grader.Pass) grader.Outcome {
		fsys, _ := p.Filesystem(p.Lab().Dockerfile)
		return judgeToolchain(fsys)
	},
}

func judgeToolchain(fsys *session.Filesystem) grader.Outcome {
	var toolchain, sources []string
	fsys.Walk(func(e *session.Entry) bool {
		base := path.Base(e.Path)
		switch {
		case e.Path == "/usr/local/go":
			toolchain = append(toolchain, e.Path)
		case strings.HasPrefix(e.Path, "/usr/local/go/"):
		case (base == "go" || base == "gofmt") && e.IsRegular() && e.Mode&0o111 != 0:
			toolchain = append(toolchain, e.Path)
		case strings.HasSuffix(base, ".go") && e.IsRegular():
			sources = append(sources, e.Path)
		}
		return true
	})
	if len(toolchain) == 0 && len(sources) == 0 {
		return grader.Passed(fmt.Sprintf("no Go toolchain and no *.go files among %d paths", fsys.Len()))
	}
	sort.Strings(sources)
	var parts []string
	if len(toolchain) > 0 {
		parts = append(parts, "Go toolchain at "+strings.Join(toolchain, ", "))
	}
	if len(sources) > 0 {
		parts = append(parts, fmt.Sprintf("%d Go source file(s): %s", len(sources), listSome(sources, 5)))
	}
	return grader.Failed("the image ships "+strings.Join(parts, "; "),
		"the final stage must not start FROM golang or COPY . . — copy only the compiled binary from the builder (`COPY --from=builder /app/server .`)")
}

// ImageStaticBinary checks that the program the image runs is static.
var ImageStaticBinary = &grader.Check{
	ID:         "image.static-binary",
	Title:      "The server is a static binary",
	Doc:        "Resolves the program ENTRYPOINT/CMD runs (against WORKDIR and PATH) in the image and reads its ELF headers: no dynamic loader (PT_INTERP) and no shared libraries. The Go build information shows CGO_ENABLED and -ldflags as evidence.",
	Checkpoint: 6,
	Points:     5,
	Requires:   []grader.Artifact{grader.ArtifactFilesystem},
	Run: func(p *grader.Pass) grader.Outcome {
		img, _ := p.Image(p.Lab().Dockerfile)
		fsys, _ := p.Filesystem(p.Lab().Dockerfile)
		return judgeStatic(img, fsys)
	},
}

func judgeStatic(img *session.Image, fsys *session.Filesystem) grader.Outcome {
	prog, bin, err := programBinary(img, fsys)
	switch {
	case errors.Is(err, errNoCommand):
		return grader.Failed("the image has no CMD or ENTRYPOINT", `end the final stage with CMD ["./server"]`)
	case errors.Is(err, errNotELF):
		return grader.Failed(fmt.Sprintf("%s (run by %s) is not an ELF executable", prog.Path, quoteArgv(prog.Argv)),
			`CMD must run the compiled Go server, e.g. CMD ["./server"]`)
	case err != nil:
		return grader.Failed(fmt.Sprintf("CMD path not found: %s runs %s, but %v", quoteArgv(prog.Argv), prog.Name, err),
			"copy the binary to the path CMD runs: with `WORKDIR /app` and `COPY --from=builder /app/server .`, use CMD [\"./server\"]")
	}
	msg := fmt.Sprintf("%s: %s", prog.Path, bin.Describe())
	if bin.Machine != imageArch(img) {
		return grader.Failed(msg+fmt.Sprintf("; the image is %s/%s — exec format error", img.OS, img.Architecture),
			"build for the image's platform: drop GOARCH (or set GOARCH=amd64) in the builder's go build")
	}
	if bin.Static() {
		return grader.Passed(msg)
	}
	need := bin.Interp
	if _, err := fsys.Resolve(bin.Interp); err != nil && bin.Interp != "" {
		need += " (missing in the image: starting it fails with \"no such file or directory\")"
	}
	if len(bin.Needed) > 0 {
		need += ", libraries " + strings.Join(bin.Needed, ", ")
	}
	return grader.Failed(msg+"; it needs "+need, staticHint(bin))
}

// staticHint says how to get a static binary, naming the build setting
// that made this one dynamic when Go's build information shows it.
func staticHint(bin binary) string {
	hint := "build a static binary: `CGO_ENABLED=0 GOOS=linux go build -ldflags=\"-w -s\" -o server .` — a dynamically linked binary cannot run on alpine (musl) or scratch"
	if mode, _ := bin.Setting("-buildmode"); mode == "pie" {
		return "drop -buildmode=pie (a PIE asks for the glibc loader); " + hint
	}
	if cgo, _ := bin.Setting("CGO_ENABLED"); cgo == "1" {
		return "it was built with CGO_ENABLED=1; " + hint
	}
	return hint
}

// ImageNonRoot resolves the image's configured user.
var ImageNonRoot = &grader.Check{
	ID:       "image.non-root",
	Title:    "The image is configured to run as a non-root user",
	Doc:      "Resolves the image's USER to a UID through the image's own /etc/passwd (numeric ids need none, so it works on scratch). Root, UID 0 or no USER fail.",
	Points:   5,
	Requires: []grader.Artifact{grader.ArtifactFilesystem},
	Run: func(p *grader.Pass) grader.Outcome {
		img, _ := p.Image(p.Lab().Dockerfile)
		fsys, _ := p.Filesystem(p.Lab().Dockerfile)
		return judgeImageUser(img, fsys)
	},
}

func judgeImageUser(img *session.Image, fsys *session.Filesystem) grader.Outcome {
	u := resolveUser(img.Config.User, fsys)
	switch {
	case u.Spec == "":
		return grader.Failed("the image has no USER: it runs as root (UID 0)",
			"create an unprivileged user in the final stage and switch to it: `RUN adduser -D -u 1000 appuser` then `USER appuser` (on scratch: `USER 65534:65534`)")
	case !u.Known:
		return grader.Failed(fmt.Sprintf("USER %s is unknown in the image: there is no %q in its /etc/passwd, so the container cannot start", u.Spec, u.Name),
			"create the user in the final stage before USER (`RUN adduser -D -u 1000 appuser`) — a user created in the builder stage does not exist in the final image — or use a numeric USER 1000")
	case u.UID == 0:
		return grader.Failed(u.String()+" is root", "switch to an unprivileged user: `USER appuser` (UID 1000), not root")
	}
	return grader.Passed(u.String())
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

func shorten(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}

func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
