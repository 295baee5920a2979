package session

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	tc "github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// RunRequest asks for an image to be started.
type RunRequest struct {
	Port         int           // container port that must answer HTTP
	StartTimeout time.Duration // until it answers
	Limits       Limits
}

// Container is a started container of a student's image.
type Container struct {
	ID      string
	Port    int
	BaseURL string // e.g. http://127.0.0.1:49153; "" when the port was never published
	s       *Session
	http    *http.Client
}

// StartError is a container that did not come up answering HTTP: the
// engine refused to start it, it exited, or it never answered in time.
type StartError struct {
	Err      error
	TimedOut bool
	Timeout  time.Duration
	// Exited is set when the container stopped; ExitCode and OOMKilled tell how.
	Exited    bool
	ExitCode  int
	OOMKilled bool
	// EngineError is the engine's message when it could not start the
	// program at all (e.g. "exec format error", "no such file or directory").
	EngineError string
}

func (e *StartError) Error() string {
	switch {
	case e.EngineError != "":
		return "the engine could not start the program: " + e.EngineError
	case e.OOMKilled:
		return "the container was killed for using too much memory"
	case e.Exited:
		return fmt.Sprintf("the container exited with code %d", e.ExitCode)
	case e.TimedOut:
		return fmt.Sprintf("nothing answered HTTP within %s", e.Timeout)
	}
	return cleanEngineError(e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// Run starts img with the lab's limits, publishes req.Port on the probe host
// and waits until the port answers any HTTP response. On a StartError the
// container is returned too, so its state, logs and sockets can be examined.
func (s *Session) Run(ctx context.Context, img *Image, req RunRequest) (*Container, error) {
	port := network.MustParsePort(fmt.Sprintf("%d/tcp", req.Port))
	pids := req.Limits.Pids
	bindIP := netip.MustParseAddr("0.0.0.0")
	if s.local {
		bindIP = netip.MustParseAddr("127.0.0.1")
	}
	creq := tc.GenericContainerRequest{Started: true, ContainerRequest: tc.ContainerRequest{
		Image:        img.ID,
		ExposedPorts: []string{port.String()},
		Labels:       map[string]string{LabelGrader: "1", LabelRun: s.runID},
		WaitingFor: wait.ForHTTP("/").WithPort(port.String()).
			WithStatusCodeMatcher(func(int) bool { return true }).
			WithStartupTimeout(req.StartTimeout).
			WithPollInterval(100 * time.Millisecond),
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{port: {{HostIP: bindIP, HostPort: "0"}}}
			hc.Memory, hc.MemorySwap = req.Limits.MemoryBytes, req.Limits.MemoryBytes
			hc.NanoCPUs = req.Limits.NanoCPUs
			hc.PidsLimit = &pids
			hc.CapDrop = []string{"ALL"}
			hc.SecurityOpt = []string{"no-new-privileges:true"}
			hc.Privileged = false
			hc.Binds, hc.Mounts = nil, nil
		},
	}}

	ctr, err := tc.GenericContainer(ctx, creq)
	if ctr != nil {
		s.trackContainer(ctr.GetContainerID())
	}
	if ctr == nil {
		if ctx.Err() != nil {
			return nil, Interrupted(ctx, "while the container started")
		}
		return nil, &StartError{Err: err, EngineError: cleanEngineError(err)}
	}
	c := &Container{ID: ctr.GetContainerID(), Port: req.Port, s: s, http: &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true,
			DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext},
	}}
	ictx := context.WithoutCancel(ctx)
	if ins, ierr := s.cli.ContainerInspect(ictx, c.ID, client.ContainerInspectOptions{}); ierr == nil &&
		ins.Container.NetworkSettings != nil {
		if b := ins.Container.NetworkSettings.Ports[port]; len(b) > 0 && b[0].HostPort != "" {
			c.BaseURL = "http://" + net.JoinHostPort(s.probeHost, b[0].HostPort)
		}
	}
	if err == nil {
		return c, nil
	}
	if ctx.Err() != nil {
		return c, Interrupted(ctx, "while the container started")
	}
	se := &StartError{Err: err}
	st, serr := c.State(ictx)
	switch {
	case serr == nil && !st.Running && st.Error != "":
		se.EngineError = st.Error
	case strings.Contains(err.Error(), "container start: "):
		se.EngineError = cleanEngineError(err)
	case serr == nil && (st.Status == "exited" || st.OOMKilled):
		se.Exited, se.ExitCode, se.OOMKilled = true, st.ExitCode, st.OOMKilled
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "deadline exceeded"):
		se.TimedOut, se.Timeout = true, req.StartTimeout
	}
	if serr == nil && !st.Running && !se.Exited && se.EngineError == "" {
		se.Exited, se.ExitCode, se.OOMKilled = true, st.ExitCode, st.OOMKilled
	}
	return c, se
}

// State is what the engine says about a container now.
type State struct {
	Status    string // created, running, exited, …
	Running   bool
	ExitCode  int
	OOMKilled bool
	Error     string // the engine's error when it could not start the program
	Pid       int
}

// State inspects the container.
func (c *Container) State(ctx context.Context) (State, error) {
	ins, err := c.s.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return State{}, err
	}
	st := ins.Container.State
	if st == nil {
		return State{}, errors.New("no state")
	}
	return State{Status: string(st.Status), Running: st.Running, ExitCode: st.ExitCode,
		OOMKilled: st.OOMKilled, Error: st.Error, Pid: st.Pid}, nil
}

// Logs returns the last lines (stdout and stderr interleaved) of the container.
func (c *Container) Logs(ctx context.Context, lines int) (string, error) {
	rc, err := c.s.cli.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(lines),
	})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var buf bytes.Buffer
	_, err = stdcopy.StdCopy(&buf, &buf, io.LimitReader(rc, 64<<10))
	return strings.TrimRight(buf.String(), "\n"), err
}

// Process is one process of a running container as `ps` sees it from the host.
type Process struct {
	UID  int
	Pid  int // host pid
	Comm string
}

// MainProcess returns the container's main process, with its numeric UID.
func (c *Container) MainProcess(ctx context.Context) (Process, error) {
	st, err := c.State(ctx)
	if err != nil {
		return Process{}, err
	}
	if !st.Running {
		return Process{}, fmt.Errorf("the container is not running (%s, exit code %d)", st.Status, st.ExitCode)
	}
	top, err := c.s.cli.ContainerTop(ctx, c.ID, client.ContainerTopOptions{Arguments: []string{"-o", "uid,pid,comm"}})
	if err != nil {
		return Process{}, err
	}
	var first *Process
	for _, row := range top.Processes {
		if len(row) < 3 {
			continue
		}
		uid, err1 := strconv.Atoi(strings.TrimSpace(row[0]))
		pid, err2 := strconv.Atoi(strings.TrimSpace(row[1]))
		if err1 != nil || err2 != nil {
			continue
		}
		p := Process{UID: uid, Pid: pid, Comm: strings.TrimSpace(row[2])}
		if pid == st.Pid {
			return p, nil
		}
		if first == nil {
			first = &p
		}
	}
	if first != nil {
		return *first, nil
	}
	return Process{}, errors.New("the engine listed no process for the container")
}

// Listener is a listening TCP socket inside the container.
type Listener struct {
	Addr netip.AddrPort
}

// ErrRemoteEngine says that a diagnostic needs the engine's host.
var ErrRemoteEngine = errors.New("the Docker Engine runs on another host; its containers' sockets cannot be read from here")

// Listeners returns the TCP sockets the container listens on, read from
// /proc/<pid>/net/tcp{,6} of its main process. It needs the engine on this
// host and permission to read its processes; otherwise its error is
// ErrRemoteEngine (errors.Is) with a message that says why.
func (c *Container) Listeners(ctx context.Context) ([]Listener, error) {
	if !c.s.local {
		return nil, &remoteEngineError{host: c.s.probeHost}
	}
	st, err := c.State(ctx)
	if err != nil {
		return nil, err
	}
	if !st.Running || st.Pid == 0 {
		return nil, errors.New("the container is not running")
	}
	if err := checkHostProcess(st.Pid, c.ID); err != nil {
		return nil, err
	}
	var out []Listener
	read := 0
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", st.Pid, name))
		if err != nil {
			continue
		}
		ls, err := parseProcNet(f)
		f.Close()
		if err != nil {
			continue
		}
		read++
		out = append(out, ls...)
	}
	if read == 0 {
		return nil, errors.New("cannot read the container's sockets from /proc (run grade on the engine's host as root)")
	}
	return out, nil
}

// parseProcNet reads the LISTEN sockets of a /proc/net/tcp or tcp6 table.
func parseProcNet(r io.Reader) ([]Listener, error) {
	var out []Listener
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "0A" { // 0A = TCP_LISTEN
			continue
		}
		ap, err := parseHexAddrPort(f[1])
		if err != nil {
			return nil, err
		}
		out = append(out, Listener{Addr: ap})
	}
	return out, sc.Err()
}

// parseHexAddrPort decodes "0100007F:1F90" (IPv4) or the 32-digit IPv6 form:
// the address is stored as 32-bit words in host (little-endian) order.
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var raw []byte
	for i := 0; i+8 <= len(a); i += 8 {
		w, err := strconv.ParseUint(a[i:i+8], 16, 32)
		if err != nil {
			return netip.AddrPort{}, err
		}
		raw = append(raw, byte(w), byte(w>>8), byte(w>>16), byte(w>>24))
	}
	addr, ok := netip.AddrFromSlice(raw)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// Response is an HTTP answer of the student's server.
type Response struct {
	StatusCode  int
	ContentType string
	Body        []byte // at most 1 MiB
}

// Do sends one HTTP request to the container's published port.
func (c *Container) Do(ctx context.Context, method, path string, body []byte) (*Response, error) {
	if c.BaseURL == "" {
		return nil, errors.New("the container's port is not published")
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &Response{StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: b}, nil
}
