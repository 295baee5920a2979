package checks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gradelab/grade/grader"
	"github.com/gradelab/grade/grader/session"
)

// RuntimeStart starts the image and waits until its port answers HTTP. It
// owns the running container: when the container does not come up, it says
// why, with the evidence the engine, the image and the container's sockets give.
var RuntimeStart = &grader.Check{
	ID:       "runtime.start",
	Title:    "The container starts and answers HTTP on port 8080",
	Doc:      "Runs the image with the lab's limits (memory, pids, CPU, no capabilities, no-new-privileges), publishes port 8080 on the loopback address and waits until it answers any HTTP response within the start timeout.",
	Points:   5,
	Requires: []grader.Artifact{grader.ArtifactImage},
	Owns:     grader.ArtifactContainer,
	Run: func(p *grader.Pass) grader.Outcome {
		name := p.Lab().Dockerfile
		c, err := p.Container(name)
		if err == nil {
			return grader.Passed(fmt.Sprintf("port %d answered HTTP (published at %s)", p.Lab().Port, c.BaseURL))
		}
		return diagnoseStart(p, name, c, err)
	},
}

// diagnoseStart explains why the container of a Dockerfile did not answer.
func diagnoseStart(p *grader.Pass, name string, c *session.Container, err error) grader.Outcome {
	var se *session.StartError
	if !errors.As(err, &se) {
		return grader.Errored(grader.EnvironmentMessage(err))
	}
	ctx := context.WithoutCancel(p.Context())
	port := p.Lab().Port
	img, _ := p.Image(name)
	fsys, _ := p.Filesystem(name)

	if se.EngineError != "" || se.Exited {
		// The image's own evidence names the classic mistakes precisely.
		if img != nil && fsys != nil {
			u := resolveUser(img.Config.User, fsys)
			if u.Spec != "" && !u.Known {
				return grader.Failed(fmt.Sprintf("the container could not start: USER %s is unknown in the image (no %q in /etc/passwd)", u.Spec, u.Name),
					"create the user in the final stage before USER: `RUN adduser -D -u 1000 appuser`, or use a numeric USER 1000")
			}
			prog, bin, perr := programBinary(img, fsys)
			switch {
			case errors.Is(perr, errNoCommand):
				return grader.Failed("the container could not start: the image has no CMD or ENTRYPOINT", `end the final stage with CMD ["./server"]`)
			case perr != nil && !errors.Is(perr, errNotELF):
				return grader.Failed(fmt.Sprintf("the container could not start: CMD path not found: %v", perr),
					"CMD must name the binary where the final stage put it: with `WORKDIR /app` and `COPY --from=builder /app/server .` that is CMD [\"./server\"]")
			case perr == nil && bin.Machine != imageArch(img):
				return grader.Failed(fmt.Sprintf("the container could not start: exec format error: %s is a %s binary, the image is %s", prog.Path, machineName(bin.Machine), img.Architecture),
					"build for the image's platform: drop GOARCH=… (or use GOARCH=amd64) in go build")
			case perr == nil && bin.Interp != "":
				if _, ierr := fsys.Resolve(bin.Interp); ierr != nil {
					return grader.Failed(fmt.Sprintf("the container could not start: \"no such file or directory\" — %s is dynamically linked and needs %s, which the image does not have", prog.Path, bin.Interp),
						staticHint(bin))
				}
			}
		}
	}
	switch {
	case se.EngineError != "":
		return grader.Failed("the engine could not start the container: "+se.EngineError,
			"check CMD/ENTRYPOINT and USER of the final stage")
	case se.OOMKilled:
		return grader.Failed(fmt.Sprintf("the container was killed for exceeding its %d MiB memory limit", p.Options().Limits.MemoryBytes>>20),
			"the server must run within the memory limit; look for a leak or an endless allocation at start-up")
	case se.Exited:
		msg := fmt.Sprintf("the container exited with code %d before answering HTTP", se.ExitCode)
		if c != nil {
			if logs, lerr := c.Logs(ctx, 12); lerr == nil && logs != "" {
				msg += "; its last output:\n" + logs
			}
		}
		return grader.Failed(msg, "the server must keep running: run `docker run --rm -p 8080:8080 <image>` and read why it stops")
	}
	// It runs but never answered: look at its sockets.
	msg := fmt.Sprintf("nothing answered HTTP on port %d within %s", port, se.Timeout)
	hint := fmt.Sprintf("the server must listen on all interfaces on port %d: `http.ListenAndServe(\":%d\", …)`", port, port)
	if c == nil {
		return grader.Failed(msg, hint)
	}
	ls, lerr := c.Listeners(ctx)
	if lerr != nil {
		msg += " (its sockets could not be read: " + lerr.Error() + ")"
		return grader.Failed(msg, hint)
	}
	var onPort, loopback, others []string
	for _, l := range ls {
		switch {
		case int(l.Addr.Port()) == port && l.Addr.Addr().IsLoopback():
			loopback = append(loopback, l.Addr.String())
		case int(l.Addr.Port()) == port:
			onPort = append(onPort, l.Addr.String())
		default:
			others = append(others, l.Addr.String())
		}
	}
	switch {
	case len(loopback) > 0 && len(onPort) == 0:
		return grader.Failed(fmt.Sprintf("the server listens on %s only: the loopback address inside the container cannot be reached through the published port", strings.Join(loopback, ", ")),
			fmt.Sprintf("bind to all interfaces: `http.ListenAndServe(\":%d\", …)` instead of \"127.0.0.1:%d\" (or \"localhost:%d\")", port, port, port))
	case len(onPort) > 0:
		return grader.Failed(fmt.Sprintf("port %d is open (%s) but did not answer HTTP within %s", port, strings.Join(onPort, ", "), se.Timeout),
			"the server accepts connections but never answers: make sure it serves HTTP and does not block before responding")
	case len(others) > 0:
		return grader.Failed(fmt.Sprintf("wrong port: the server listens on %s, not on port %d", strings.Join(others, ", "), port),
			fmt.Sprintf("the lab's server listens on port %d (`EXPOSE %d`, `http.ListenAndServe(\":%d\", …)`)", port, port, port))
	}
	if logs, err := c.Logs(ctx, 12); err == nil && logs != "" {
		msg += "; it listens on no port. Its last output:\n" + logs
	} else {
		msg += "; it listens on no port"
	}
	return grader.Failed(msg, hint)
}

// RuntimeNonRoot reads the UID of the container's main process.
var RuntimeNonRoot = &grader.Check{
	ID:       "runtime.non-root",
	Title:    "The server process runs as non-root",
	Doc:      "Reads the numeric UID of the running container's main process from the engine (`docker top -o uid,pid,comm`). It must not be 0.",
	Points:   5,
	Requires: []grader.Artifact{grader.ArtifactImage},
	Run: func(p *grader.Pass) grader.Outcome {
		c, err := p.Container(p.Lab().Dockerfile)
		if c == nil {
			return grader.Skipped("skipped: the container did not start (see runtime.start)")
		}
		proc, perr := c.MainProcess(context.WithoutCancel(p.Context()))
		if perr != nil {
			if err != nil {
				return grader.Skipped("skipped: the container is not running (see runtime.start)")
			}
			return grader.Errored("could not read the container's processes: " + perr.Error())
		}
		msg := fmt.Sprintf("the main process %s runs as UID %d", proc.Comm, proc.UID)
		if proc.UID == 0 {
			return grader.Failed(msg+" (root)", "add `USER appuser` (after `RUN adduser -D -u 1000 appuser`) at the end of the final stage")
		}
		return grader.Passed(msg)
	},
}

// RuntimeHealth probes GET /health.
var RuntimeHealth = &grader.Check{
	ID:       "runtime.health",
	Title:    "GET /health answers healthy",
	Doc:      "GET /health must answer 200 with a JSON object whose \"status\" is \"healthy\".",
	Points:   5,
	Requires: []grader.Artifact{grader.ArtifactContainer},
	Run: func(p *grader.Pass) grader.Outcome {
		c, _ := p.Container(p.Lab().Dockerfile)
		return probeHealth(p, c)
	},
}

func probeHealth(p *grader.Pass, c *session.Container) grader.Outcome {
	obj, o, ok := probeJSON(p, c, http.MethodGet, "/health", nil)
	if !ok {
		return o
	}
	if obj["status"] != "healthy" {
		return grader.Failed(fmt.Sprintf("GET /health → 200 but \"status\" is %v, not \"healthy\"", jsonValue(obj["status"])),
			`the health handler must answer {"status":"healthy","timestamp":"…"}`)
	}
	return grader.Passed(`GET /health → 200 {"status":"healthy",…}`)
}

// RuntimeInfo probes GET /info.
var RuntimeInfo = &grader.Check{
	ID:       "runtime.info",
	Title:    "GET /info answers",
	Doc:      "GET /info must answer 200 with a JSON object (the service's name and version).",
	Points:   5,
	Requires: []grader.Artifact{grader.ArtifactContainer},
	Run: func(p *grader.Pass) grader.Outcome {
		c, _ := p.Container(p.Lab().Dockerfile)
		obj, o, ok := probeJSON(p, c, http.MethodGet, "/info", nil)
		if !ok {
			return o
		}
		return grader.Passed(fmt.Sprintf("GET /info → 200, a JSON object with %d field(s)%s", len(obj), describeService(obj)))
	},
}

func describeService(obj map[string]any) string {
	if s, ok := obj["service"].(string); ok {
		if v, ok := obj["version"].(string); ok {
			return fmt.Sprintf(" (%s %s)", s, v)
		}
		return " (" + s + ")"
	}
	return ""
}

// RuntimeEcho probes POST /echo.
var RuntimeEcho = &grader.Check{
	ID:       "runtime.echo",
	Title:    "POST /echo echoes the message",
	Doc:      "POST /echo with {\"message\":\"Hello\"} must answer 200 with JSON that echoes Hello.",
	Points:   5,
	Requires: []grader.Artifact{grader.ArtifactContainer},
	Run: func(p *grader.Pass) grader.Outcome {
		c, _ := p.Container(p.Lab().Dockerfile)
		obj, o, ok := probeJSON(p, c, http.MethodPost, "/echo", []byte(`{"message":"Hello"}`))
		if !ok {
			return o
		}
		if obj["original"] == "Hello" || strings.Contains(fmt.Sprint(obj["echo"]), "Hello") {
			return grader.Passed(fmt.Sprintf(`POST /echo → 200, "echo": %v`, jsonValue(obj["echo"])))
		}
		return grader.Failed(`POST /echo {"message":"Hello"} → 200 but the answer does not echo "Hello"`,
			`the echo handler must answer {"original":"Hello","echo":"Echo: Hello","timestamp":"…"}`)
	},
}

// probeJSON sends one request with the probe timeout and decodes a JSON
// object from a 200 answer. When ok is false, o is the failing outcome.
func probeJSON(p *grader.Pass, c *session.Container, method, path string, body []byte) (obj map[string]any, o grader.Outcome, ok bool) {
	timeout := p.Options().ProbeTimeout
	ctx, cancel := context.WithTimeout(p.Context(), timeout)
	defer cancel()
	req := method + " " + path
	resp, err := c.Do(ctx, method, path, body)
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		return nil, grader.Failed(fmt.Sprintf("%s did not answer within %s", req, timeout),
			"the handler must write its response and return; look for a handler that blocks (a channel, a lock, an endless loop)"), false
	case err != nil:
		if st, serr := c.State(context.WithoutCancel(p.Context())); serr == nil && !st.Running {
			return nil, grader.Failed(fmt.Sprintf("%s failed: the server stopped (exit code %d) while answering", req, st.ExitCode),
				"the handler crashes the server: run the container and read its output"), false
		}
		return nil, grader.Failed(fmt.Sprintf("%s failed: %v", req, err), "the server must answer this request"), false
	case resp.StatusCode == http.StatusNotFound:
		return nil, grader.Failed(fmt.Sprintf("%s → 404 Not Found", req),
			fmt.Sprintf("the server must handle %s (keep the starter's main.go routes)", path)), false
	case resp.StatusCode != http.StatusOK:
		return nil, grader.Failed(fmt.Sprintf("%s → %d, want 200: %s", req, resp.StatusCode, shorten(string(resp.Body), 120)),
			"the handler must answer 200 with JSON"), false
	}
	if err := json.Unmarshal(resp.Body, &obj); err != nil || obj == nil {
		return nil, grader.Failed(fmt.Sprintf("%s → 200 but the body is not a JSON object: %s", req, shorten(string(resp.Body), 120)),
			"answer with a JSON object and Content-Type: application/json"), false
	}
	return obj, grader.Outcome{}, true
}

func jsonValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
