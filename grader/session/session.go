// Package session is grade's only door to the Docker Engine. A Session builds
// images, reads their configuration and filesystem, runs containers and
// probes them, and records every resource it creates so that Close removes
// them all: containers and temporary files always, the images it built when
// asked to (otherwise they stay as build cache, like `docker build`, until
// `grade clean`).
package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	tc "github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Labels put on every container the grader creates.
const (
	LabelGrader = "lab.grade"     // value: "1"
	LabelRun    = "lab.grade.run" // value: the run id
)

// Limits bound what a student's container may use.
type Limits struct {
	MemoryBytes int64
	NanoCPUs    int64
	Pids        int64
}

// DefaultLimits: 128 MiB, one CPU, 64 processes.
func DefaultLimits() Limits {
	return Limits{MemoryBytes: 128 << 20, NanoCPUs: 1e9, Pids: 64}
}

// Options configure a Session.
type Options struct {
	// Store records the images the session builds; nil records nothing.
	Store *Store
	// Keep leaves built images in place at Close (tagged, as build cache).
	Keep bool
}

// Session owns one submission's Docker resources.
type Session struct {
	opts      Options
	runID     string
	provider  *tc.DockerProvider
	cli       client.APIClient
	probeHost string
	local     bool // the engine runs on this host: /proc of its containers is readable

	mu         sync.Mutex
	containers map[string]bool // ids of containers to remove at Close
	tempFiles  []string
	open       []*Filesystem // closed at Close
	built      []builtImage  // images this session built, for Close without Keep
	closed     bool
}

var configureOnce sync.Once

// configure sets the testcontainers-go settings the grader depends on. It
// must run before the first testcontainers call: that library reads its
// configuration once per process. It resolves the engine (DOCKER_HOST, the
// docker CLI's context, the default, Podman and Colima sockets; see
// engine.go) and exports it as DOCKER_HOST, DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH, which is all testcontainers-go reads.
func configure() {
	configureOnce.Do(func() {
		// Ryuk (the reaper) would be pulled from a registry; the grader cleans
		// up after itself by label instead. The value must be exactly "true".
		if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
			os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
		// A pinned API version disables negotiation; the engines this grader
		// meets (API 1.41) are older than the client's default.
		os.Unsetenv("DOCKER_API_VERSION")
		setupEngine()
		// testcontainers guesses the host of published ports from /.dockerenv
		// and the bridge gateway, which is wrong on hosts that merely look
		// like containers. The grader knows where it publishes ports: on this
		// machine's loopback for a local engine, on the engine's host (the
		// tcp:// or ssh:// host) for a remote one.
		if os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" {
			probe := probeHostFor(os.Getenv("DOCKER_HOST"))
			if eng, err := currentEngine(); err == nil {
				probe = eng.probeHost
			}
			os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", probe)
		}
		tclog.SetDefault(tclog.NewNoopLogger())
	})
}

// probeHostFor is the address where ports published by the engine at
// dockerHost can be reached: the engine's host for tcp:// and ssh://,
// this machine's loopback for a local socket (and for tcp://0.0.0.0).
func probeHostFor(dockerHost string) string {
	u, err := url.Parse(dockerHost)
	if err != nil || dockerHost == "" {
		return "127.0.0.1"
	}
	switch u.Scheme {
	case "tcp", "ssh", "http", "https":
		return probeHostOf(u.Hostname())
	}
	return "127.0.0.1"
}

// New connects to the Docker Engine (see configure) and checks that it
// answers. Failures are environment errors.
func New(ctx context.Context, opts Options) (*Session, error) {
	configure()
	eng, err := currentEngine()
	if err != nil {
		return nil, Environment(fmt.Errorf("cannot tell which Docker Engine to use: %w", err),
			"fix or unset DOCKER_CONTEXT, or choose a context with `docker context use`, or set DOCKER_HOST; then run grade again")
	}
	var tempFiles []string
	if r := eng.relay; r != nil {
		// The relay's socket serves this process; Close removes it with the
		// session's temporary files and the next session listens again.
		if err := r.ensure(); err != nil {
			r.stop()
			return nil, Environment(fmt.Errorf("cannot reach the Docker Engine at %s: %w", eng, err), eng.hint())
		}
		tempFiles = []string{r.sock, r.dir}
	}
	fail := func(err error) (*Session, error) {
		if eng.relay != nil {
			eng.relay.stop()
		}
		return nil, err
	}
	// Ping before testcontainers: it would fall back to the default socket
	// when the configured engine does not answer.
	if err := eng.ping(ctx); err != nil {
		return fail(Environment(fmt.Errorf("the Docker Engine at %s does not answer: %w", eng, err), eng.hint()))
	}
	p, err := tc.NewDockerProvider(tc.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return fail(Environment(fmt.Errorf("cannot reach the Docker Engine at %s: %w", eng, err), eng.hint()))
	}
	cli := p.Client()
	if got := cli.DaemonHost(); got != eng.host {
		return fail(Environment(fmt.Errorf("testcontainers-go connects to %s, not to the Docker Engine at %s", got, eng),
			"remove tc.host (and docker.host) from ~/.testcontainers.properties, or point it at the same engine, then run grade again"))
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fail(Environment(fmt.Errorf("the Docker Engine at %s does not answer: %w", eng, err), eng.hint()))
	}
	host := os.Getenv("TESTCONTAINERS_HOST_OVERRIDE")
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &Session{
		opts:      opts,
		runID:     hex.EncodeToString(b),
		provider:  p,
		cli:       cli,
		probeHost: host,
		// Ports are published on, and probed at, this machine's loopback
		// only when the engine runs here; Listeners checks the rest.
		local:      isLoopbackHost(host),
		containers: map[string]bool{},
		tempFiles:  tempFiles,
	}, nil
}

const hintDocker = "start Docker (e.g. `sudo systemctl start docker` or `sudo dockerd &`) or point DOCKER_HOST at a running engine, then run grade again"

// RunID identifies this session's resources (label lab.grade.run).
func (s *Session) RunID() string { return s.runID }

// Client is the engine client the session uses.
func (s *Session) Client() client.APIClient { return s.cli }

func (s *Session) trackContainer(id string) {
	s.mu.Lock()
	s.containers[id] = true
	s.mu.Unlock()
}

func (s *Session) tempFile(pattern string) (*os.File, error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.tempFiles = append(s.tempFiles, f.Name())
	s.mu.Unlock()
	return f, nil
}

// Close removes every container the session created (also those a failed
// call left behind, found by label), its temporary files, and, unless the
// session keeps images, the images it built. It uses its own deadline so it
// still works after ctx was cancelled (Ctrl-C, timeout).
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ids := make([]string, 0, len(s.containers))
	for id := range s.containers {
		ids = append(ids, id)
	}
	files := s.tempFiles
	built := s.built
	for _, f := range s.open {
		f.Close()
	}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	// Sweep by label too: a create that failed half-way may have left one.
	if list, err := s.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelRun+"="+s.runID),
	}); err == nil {
		for _, c := range list.Items {
			ids = append(ids, c.ID)
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		_, err := s.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %.12s: %w", id, err))
		}
	}
	if !s.opts.Keep {
		errs = append(errs, removeImages(ctx, s.cli, built)...)
	}
	// Temporary files go last: one of them may be the relay socket through
	// which the engine is reached (ssh://).
	for _, f := range files {
		if err := os.RemoveAll(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
func isConflict(err error) bool { return cerrdefs.IsConflict(err) }

// EnvironmentError is a failure of the grader or its environment (engine
// unreachable, base image unavailable, interrupted), never the student's.
type EnvironmentError struct {
	Err  error
	Hint string
}

func (e *EnvironmentError) Error() string { return e.Err.Error() }
func (e *EnvironmentError) Unwrap() error { return e.Err }

// Environment wraps err as an EnvironmentError with a hint for the user.
func Environment(err error, hint string) error {
	return &EnvironmentError{Err: err, Hint: hint}
}

// Interrupted is the environment error of a run stopped by its context:
// Ctrl-C, or the grader's own time limit.
func Interrupted(ctx context.Context, during string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return Environment(fmt.Errorf("the grader's time limit ran out %s", during),
			"grade again with a longer --timeout; if it keeps happening the engine is overloaded")
	}
	return Environment(fmt.Errorf("grading was interrupted %s", during), "")
}

// IsEnvironment reports whether err is the environment's fault.
func IsEnvironment(err error) bool {
	var e *EnvironmentError
	return errors.As(err, &e) || errors.Is(err, context.Canceled)
}
