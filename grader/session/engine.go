package session

// Which Docker Engine grade talks to, and how.
//
// testcontainers-go reads DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)
// once per process and knows neither the docker CLI's contexts nor ssh://.
// So the session resolves the engine the way the docker CLI does, before the
// first testcontainers call, and exports the result into the environment:
//
//  1. DOCKER_HOST, when set (unix://, tcp:// with DOCKER_TLS_VERIFY and
//     DOCKER_CERT_PATH, ssh://);
//  2. else the docker CLI's context: DOCKER_CONTEXT, or currentContext in
//     $DOCKER_CONFIG/config.json (default ~/.docker/config.json);
//  3. else the default socket /var/run/docker.sock, when it exists;
//  4. else the rootless Docker, Podman and Colima sockets.
//
// An ssh:// engine is reached like the docker CLI reaches it: one
// `ssh … -- HOST docker system dial-stdio` per connection. The session serves
// a private unix socket that forwards each connection to such a process, and
// points DOCKER_HOST at it. The same relay speaks TLS for a context whose TLS
// settings the environment variables cannot express (a CA without a client
// certificate, or skip-verify without files).

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// defaultSocket is the engine's socket when nothing else is configured.
const defaultSocket = "/var/run/docker.sock"

// Where an endpoint was found, besides a context or another socket.
const (
	fromDockerHost    = "DOCKER_HOST"
	fromDefaultSocket = "the default socket"
)

// endpoint is where the Docker Engine is, as the user's environment names it.
type endpoint struct {
	Host   string // DOCKER_HOST form: unix://, tcp://, ssh://
	Source string // where it was found, for messages: DOCKER_HOST, docker context "x", …
	// Context is the docker CLI context it came from, "" otherwise.
	Context string
	// TLS is a context's TLS material (tcp:// only); nil for DOCKER_HOST,
	// whose TLS comes from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
	TLS *contextTLS
}

// contextTLS is the TLS material the docker CLI stores with a context.
type contextTLS struct {
	Dir           string // contexts/tls/<sha256 of the name>/docker
	CA, Cert, Key string // paths of the files present, "" when absent
	SkipVerify    bool
}

func (t *contextTLS) complete() bool { return t.CA != "" && t.Cert != "" && t.Key != "" }
func (t *contextTLS) any() bool      { return t.CA != "" || t.Cert != "" || t.Key != "" || t.SkipVerify }

// environ is what resolution reads from the machine; tests fake it.
type environ struct {
	getenv func(string) string
	home   string
	exists func(path string) bool
}

func osEnviron() environ {
	home, _ := os.UserHomeDir()
	return environ{
		getenv: os.Getenv,
		home:   home,
		exists: func(p string) bool { _, err := os.Stat(p); return err == nil },
	}
}

// dockerConfigDir is the docker CLI's configuration folder.
func dockerConfigDir(e environ) string {
	if d := e.getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	return filepath.Join(e.home, ".docker")
}

// resolveEndpoint finds the engine the docker CLI would use.
func resolveEndpoint(e environ) (endpoint, error) {
	if h := e.getenv("DOCKER_HOST"); h != "" {
		return endpoint{Host: h, Source: fromDockerHost}, nil
	}
	name := e.getenv("DOCKER_CONTEXT")
	if name == "" {
		var err error
		if name, err = currentContext(dockerConfigDir(e)); err != nil {
			return endpoint{}, err
		}
	}
	if name != "" && name != "default" {
		return contextEndpoint(e, name)
	}
	if e.exists(defaultSocket) {
		return endpoint{Host: "unix://" + defaultSocket, Source: fromDefaultSocket}, nil
	}
	for _, s := range otherSockets(e) {
		if e.exists(s.path) {
			return endpoint{Host: "unix://" + s.path, Source: s.source}, nil
		}
	}
	// Nothing answers anywhere; the error will name the default socket.
	return endpoint{Host: "unix://" + defaultSocket, Source: fromDefaultSocket}, nil
}

// otherSockets are the engines' sockets besides the default one, in the
// order they are tried.
func otherSockets(e environ) []struct{ path, source string } {
	var out []struct{ path, source string }
	add := func(p, source string) { out = append(out, struct{ path, source string }{p, source}) }
	if xdg := e.getenv("XDG_RUNTIME_DIR"); xdg != "" {
		add(filepath.Join(xdg, "docker.sock"), "the rootless Docker socket")
		add(filepath.Join(xdg, "podman", "podman.sock"), "the Podman socket")
	}
	add("/run/podman/podman.sock", "the Podman socket")
	if e.home != "" {
		add(filepath.Join(e.home, ".colima", "default", "docker.sock"), "the Colima socket")
		add(filepath.Join(e.home, ".colima", "docker.sock"), "the Colima socket")
	}
	return out
}

// currentContext reads currentContext from the docker CLI's config.json; ""
// when the file or the key is absent.
func currentContext(dir string) (string, error) {
	p := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the docker CLI's configuration: %w", err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("the docker CLI's configuration %s is not valid JSON: %w", p, err)
	}
	return cfg.CurrentContext, nil
}

// contextEndpoint reads a context the docker CLI stored in
// contexts/meta/<sha256(name)>/meta.json, and its TLS files.
func contextEndpoint(e environ, name string) (endpoint, error) {
	dir := dockerConfigDir(e)
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	metaPath := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(metaPath)
	if errors.Is(err, fs.ErrNotExist) {
		return endpoint{}, fmt.Errorf("docker context %q does not exist (no %s)", name, metaPath)
	}
	if err != nil {
		return endpoint{}, fmt.Errorf("read docker context %q: %w", name, err)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string
			SkipTLSVerify bool
		}
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return endpoint{}, fmt.Errorf("docker context %q: %s is not valid JSON: %w", name, metaPath, err)
	}
	ep := meta.Endpoints["docker"]
	if ep.Host == "" {
		return endpoint{}, fmt.Errorf("docker context %q has no Docker endpoint (%s)", name, metaPath)
	}
	out := endpoint{Host: ep.Host, Source: fmt.Sprintf("docker context %q", name), Context: name}
	t := &contextTLS{Dir: filepath.Join(dir, "contexts", "tls", id, "docker"), SkipVerify: ep.SkipTLSVerify}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"ca.pem", &t.CA}, {"cert.pem", &t.Cert}, {"key.pem", &t.Key}} {
		if p := filepath.Join(t.Dir, f.name); e.exists(p) {
			*f.dst = p
		}
	}
	if t.any() {
		out.TLS = t
	}
	return out, nil
}

// engine is the resolved engine and how the process reaches it.
type engine struct {
	endpoint
	// host is the DOCKER_HOST the clients dial: the endpoint itself, or the
	// relay's socket.
	host      string
	probeHost string            // where published ports answer
	env       map[string]string // exported into the environment; "" unsets
	relay     *relay            // ssh:// and TLS the environment cannot express
	ssh       []string          // the ssh command line without dial-stdio, for hints
}

// newEngine prepares ep: what to export, where ports answer, and the relay
// (created, not yet listening).
func newEngine(ep endpoint, e environ) (*engine, error) {
	u, err := url.Parse(ep.Host)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%s %q is not an address like unix:///var/run/docker.sock, tcp://HOST:2376 or ssh://USER@HOST", ep.Source, ep.Host)
	}
	g := &engine{endpoint: ep, host: ep.Host, probeHost: probeHostFor(ep.Host), env: map[string]string{}}
	fromContext := ep.Context != ""
	if fromContext {
		g.env["DOCKER_HOST"] = ep.Host
		g.env["DOCKER_TLS_VERIFY"], g.env["DOCKER_CERT_PATH"] = "", ""
	}
	switch u.Scheme {
	case "ssh":
		dial, resolve, err := sshCommands(e, u, ep.Source)
		if err != nil {
			return nil, err
		}
		g.ssh = dial[:len(dial)-3]
		if h := sshHostname(resolve); h != "" {
			g.probeHost = probeHostOf(h)
		}
		r, err := newRelay(ep.Host, commandDialer(dial))
		if err != nil {
			return nil, err
		}
		r.warm = true // an ssh handshake per connection adds up
		g.useRelay(r)
	case "tcp", "http", "https":
		switch {
		case fromContext && ep.TLS != nil && ep.TLS.complete():
			g.env["DOCKER_CERT_PATH"] = ep.TLS.Dir
			if !ep.TLS.SkipVerify {
				g.env["DOCKER_TLS_VERIFY"] = "1"
			}
		case fromContext && ep.TLS != nil:
			cfg, err := ep.TLS.config(u.Hostname())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ep.Source, err)
			}
			addr := u.Host
			if u.Port() == "" {
				addr = net.JoinHostPort(u.Hostname(), "2376")
			}
			r, err := newRelay(ep.Host, tlsDialer(addr, cfg))
			if err != nil {
				return nil, err
			}
			g.useRelay(r)
		case !fromContext && e.getenv("DOCKER_TLS_VERIFY") != "" && e.getenv("DOCKER_CERT_PATH") == "":
			// Like the docker CLI: the certificates default to its folder.
			g.env["DOCKER_CERT_PATH"] = dockerConfigDir(e)
		}
	case "unix", "npipe":
		// A socket found by looking (Podman, Colima, …) must be named to
		// testcontainers-go, which would look for the default one.
		if ep.Source != fromDockerHost && ep.Source != fromDefaultSocket {
			g.env["DOCKER_HOST"] = ep.Host
		}
	default:
		return nil, fmt.Errorf("%s %q: grade cannot reach an engine over %s:// (use unix://, tcp:// or ssh://)", ep.Source, ep.Host, u.Scheme)
	}
	return g, nil
}

func (g *engine) useRelay(r *relay) {
	g.relay = r
	g.host = "unix://" + r.sock
	g.env["DOCKER_HOST"] = g.host
	// The relay is a plain unix socket: TLS, if any, is the relay's business.
	g.env["DOCKER_TLS_VERIFY"], g.env["DOCKER_CERT_PATH"] = "", ""
}

// export puts the engine into the process environment for testcontainers
// and the engine clients.
func (g *engine) export() {
	for k, v := range g.env {
		if v == "" {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, v)
		}
	}
}

// String names the engine for messages, e.g.
// `ssh://grader@build-box (DOCKER_HOST)`.
func (g *engine) String() string { return g.Host + " (" + g.Source + ")" }

// hint tells the user how to check the engine that did not answer.
func (g *engine) hint() string {
	switch {
	case g.ssh != nil:
		return fmt.Sprintf("grade reaches this engine like the docker CLI does, with `%s docker system dial-stdio`: "+
			"that command must work without a prompt (use a key or ssh-agent; set GRADE_SSH_COMMAND for other ssh options), "+
			"and the remote host needs the docker CLI; then run grade again", strings.Join(g.ssh, " "))
	case g.Context != "":
		return fmt.Sprintf("check the context with `docker --context %s version`, or choose another with `docker context use`, then run grade again", g.Context)
	case strings.HasPrefix(g.Host, "tcp://") || strings.HasPrefix(g.Host, "https://"):
		return "check the address and the TLS settings with `docker version` in the same environment " +
			"(DOCKER_HOST; for TLS, DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH holding ca.pem, cert.pem and key.pem), then run grade again"
	}
	return hintDocker
}

// ping checks that the engine answers, with a client of its own: unlike
// testcontainers-go, which would quietly fall back to the default socket.
func (g *engine) ping(ctx context.Context) error {
	timeout := 10 * time.Second
	if g.relay != nil {
		timeout = 45 * time.Second // ssh: ConnectTimeout=30 and the handshake
		g.relay.clearFailure()
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return err
	}
	defer cli.Close()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil && g.relay != nil {
		if f := g.relay.failure(2 * time.Second); f != "" {
			return errors.New(f)
		}
	}
	return err
}

var (
	engineMu  sync.Mutex
	theEngine *engine
	theErr    error
)

// setupEngine resolves the engine from the process environment and exports
// it. configure calls it once, before the first testcontainers call.
func setupEngine() {
	engineMu.Lock()
	defer engineMu.Unlock()
	e := osEnviron()
	ep, err := resolveEndpoint(e)
	if err != nil {
		theErr = err
		return
	}
	theEngine, theErr = newEngine(ep, e)
	if theErr == nil {
		theEngine.export()
	}
}

// currentEngine is what setupEngine resolved.
func currentEngine() (*engine, error) {
	engineMu.Lock()
	defer engineMu.Unlock()
	return theEngine, theErr
}

// probeHostOf turns an engine host name into the address of its published
// ports: an unspecified address (tcp://0.0.0.0:2375) means this machine.
func probeHostOf(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if h == "" {
		return "127.0.0.1"
	}
	if ip, err := netip.ParseAddr(h); err == nil && ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return h
}

// isLoopbackHost reports whether h is this machine's loopback.
func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// ---------------------------------------------------------------------------
// ssh

// sshCommands returns the command that opens one connection to the engine
// (`ssh … -- HOST docker system dial-stdio`) and the one that asks ssh
// which host name it really connects to (`ssh … -G -- HOST`).
// GRADE_SSH_COMMAND replaces `ssh`, e.g. "ssh -F /path/to/ssh_config".
func sshCommands(e environ, u *url.URL, source string) (dial, resolve []string, err error) {
	if u.Hostname() == "" {
		return nil, nil, fmt.Errorf("%s %q names no host", source, u.Redacted())
	}
	if _, set := u.User.Password(); set {
		return nil, nil, fmt.Errorf("%s %q must not contain a password: use an ssh key or ssh-agent", source, u.Redacted())
	}
	if u.Path != "" && u.Path != "/" {
		return nil, nil, fmt.Errorf("%s %q: an ssh:// address has no path (use ssh://USER@HOST[:PORT])", source, u.Redacted())
	}
	base := strings.Fields(e.getenv("GRADE_SSH_COMMAND"))
	if len(base) == 0 {
		base = []string{"ssh"}
	}
	var login []string
	if name := u.User.Username(); name != "" {
		login = append(login, "-l", name)
	}
	if p := u.Port(); p != "" {
		login = append(login, "-p", p)
	}
	dial = append(append(append(append([]string{}, base...),
		"-o", "ConnectTimeout=30", "-o", "BatchMode=yes", "-T"), login...),
		"--", u.Hostname(), "docker", "system", "dial-stdio")
	resolve = append(append(append([]string{}, base...), login...), "-G", "--", u.Hostname())
	return dial, resolve, nil
}

// sshHostname is the host name ssh connects to after its configuration
// (an alias's HostName), or "" when ssh cannot tell.
func sshHostname(argv []string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == "hostname" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// relay: a private unix socket whose connections are forwarded to the engine

// stream is one connection to the engine.
type stream interface {
	io.ReadWriteCloser
	CloseWrite() error
}

type dialFunc func(r *relay) (stream, error)

// relay serves sock in its private folder dir, for the whole process: the
// session lists both among its temporary files, so Close removes them, and
// the next session of the process listens again (ensure).
type relay struct {
	target string // the engine's address, for messages
	dir    string
	sock   string
	dial   dialFunc

	// warm keeps one connection dialled ahead (an ssh process that has
	// started its handshake), so that a new connection does not wait for it.
	warm bool

	mu     sync.Mutex
	ln     *net.UnixListener
	failed string // the last connection's failure, for messages
	spare  *spareStream
}

// spareStream is a connection dialled ahead of need.
type spareStream struct {
	s     stream
	err   error
	ready chan struct{} // closed when dialled
	at    time.Time
}

func newRelay(target string, dial dialFunc) (*relay, error) {
	dir, err := os.MkdirTemp("", "grade-engine-")
	if err != nil {
		return nil, err
	}
	return &relay{target: target, dir: dir, sock: filepath.Join(dir, "docker.sock"), dial: dial}, nil
}

// ensure listens on the socket unless it already does; it recreates the
// folder and the socket a previous session's Close removed.
func (r *relay) ensure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		if fi, err := os.Lstat(r.sock); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		r.ln.Close()
		r.ln = nil
	}
	if err := os.Mkdir(r.dir, 0o700); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, err := os.Lstat(r.dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			return fmt.Errorf("%s is not grade's private folder", r.dir)
		}
	}
	_ = os.Remove(r.sock)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: r.sock, Net: "unix"})
	if err != nil {
		return fmt.Errorf("serve the engine's connections: %w", err)
	}
	ln.SetUnlinkOnClose(false) // Close removes the path; a new listener may own it
	r.ln = ln
	go r.serve(ln)
	return nil
}

// stop closes the listener, the spare connection, and removes the socket
// and its folder.
func (r *relay) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	if sp := r.spare; sp != nil {
		r.spare = nil
		go func() {
			if <-sp.ready; sp.s != nil {
				sp.s.Close()
			}
		}()
	}
	os.Remove(r.sock)
	os.Remove(r.dir)
}

// connect returns a connection to the engine: the spare one when it is
// fresh, and dials the next spare.
func (r *relay) connect() (stream, error) {
	if !r.warm {
		return r.dial(r)
	}
	r.mu.Lock()
	sp := r.spare
	r.spare = r.dialAhead()
	r.mu.Unlock()
	if sp != nil {
		<-sp.ready
		if sp.err == nil && time.Since(sp.at) < time.Minute && !exited(sp.s) {
			return sp.s, nil
		}
		if sp.s != nil {
			sp.s.Close()
		}
	}
	return r.dial(r)
}

func (r *relay) dialAhead() *spareStream {
	sp := &spareStream{ready: make(chan struct{}), at: time.Now()}
	go func() {
		sp.s, sp.err = r.dial(r)
		close(sp.ready)
	}()
	return sp
}

// exited reports whether the stream's process has already ended.
func exited(s stream) bool {
	c, ok := s.(*cmdStream)
	if !ok {
		return false
	}
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

func (r *relay) serve(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go r.handle(c)
	}
}

// handle forwards one connection both ways. When one direction ends, the
// other gets a few seconds to drain before both are closed.
func (r *relay) handle(down *net.UnixConn) {
	up, err := r.connect()
	if err != nil {
		r.setFailure(err.Error())
		down.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(up, down)
		up.CloseWrite()
		done <- struct{}{}
	}()
	go func() {
		io.Copy(down, up)
		down.CloseWrite()
		done <- struct{}{}
	}()
	<-done
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	down.Close()
	up.Close()
}

func (r *relay) setFailure(msg string) {
	r.mu.Lock()
	r.failed = msg
	r.mu.Unlock()
}

func (r *relay) clearFailure() { r.setFailure("") }

// failure is the last connection's failure, waiting up to wait for one to
// be recorded (a process's exit is seen shortly after its output ends).
func (r *relay) failure(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		r.mu.Lock()
		f := r.failed
		r.mu.Unlock()
		if f != "" || time.Now().After(deadline) {
			return f
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// commandDialer starts argv per connection, its stdin and stdout being the
// connection, like the docker CLI's connection helper.
func commandDialer(argv []string) dialFunc {
	return func(r *relay) (stream, error) {
		inR, inW, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		outR, outW, err := os.Pipe()
		if err != nil {
			inR.Close()
			inW.Close()
			return nil, err
		}
		stderr := &tail{max: 2048}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, stderr
		newProcessGroup(cmd)
		err = cmd.Start()
		inR.Close()
		outW.Close()
		if err != nil {
			inW.Close()
			outR.Close()
			return nil, fmt.Errorf("`%s`: %w", strings.Join(argv, " "), err)
		}
		c := &cmdStream{in: inW, out: outR, cmd: cmd, exited: make(chan struct{})}
		go func() {
			err := cmd.Wait()
			if err != nil && !c.killed.Load() {
				msg := fmt.Sprintf("`%s` failed (%v)", strings.Join(argv, " "), err)
				if s := strings.TrimSpace(stderr.String()); s != "" {
					msg += ": " + s
				}
				r.setFailure(msg)
			}
			close(c.exited)
		}()
		return c, nil
	}
}

// cmdStream is a connection made of a process's stdin and stdout.
type cmdStream struct {
	in, out   *os.File
	cmd       *exec.Cmd
	exited    chan struct{}
	killed    atomic.Bool
	closeOnce sync.Once
}

func (c *cmdStream) Read(p []byte) (int, error)  { return c.out.Read(p) }
func (c *cmdStream) Write(p []byte) (int, error) { return c.in.Write(p) }
func (c *cmdStream) CloseWrite() error           { return c.in.Close() }

// Close ends the input and waits a little for the process to end, then
// kills it.
func (c *cmdStream) Close() error {
	c.closeOnce.Do(func() {
		c.in.Close()
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			c.killed.Store(true)
			c.cmd.Process.Kill()
			<-c.exited
		}
		c.out.Close()
	})
	return nil
}

// newProcessGroup puts the command in a process group of its own where the
// platform has them, so that the Ctrl-C meant for grade does not cut the
// engine's connections while grade removes its containers.
func newProcessGroup(cmd *exec.Cmd) {
	attr := &syscall.SysProcAttr{}
	if f := reflect.ValueOf(attr).Elem().FieldByName("Setpgid"); f.IsValid() && f.Kind() == reflect.Bool {
		f.SetBool(true)
		cmd.SysProcAttr = attr
	}
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// config is the TLS configuration the docker CLI builds from a context.
func (t *contextTLS) config(serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: t.SkipVerify}
	if t.CA != "" && !t.SkipVerify {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no certificate", t.CA)
		}
		cfg.RootCAs = pool
	}
	if t.Cert != "" || t.Key != "" {
		if t.Cert == "" || t.Key == "" {
			return nil, fmt.Errorf("%s needs both cert.pem and key.pem", t.Dir)
		}
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// tlsDialer opens a TLS connection to addr per connection.
func tlsDialer(addr string, cfg *tls.Config) dialFunc {
	return func(*relay) (stream, error) {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 30 * time.Second}, Config: cfg}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("TLS connection to %s: %w", addr, err)
		}
		return c.(*tls.Conn), nil
	}
}

// ---------------------------------------------------------------------------
// diagnostics that need the engine's host

// remoteEngineError is ErrRemoteEngine with the reason: the engine runs on
// another host, or its containers are not processes this machine can see
// (a virtual machine such as Docker Desktop's or Colima's).
type remoteEngineError struct {
	host string // the engine's host when known to be another machine
}

func (e *remoteEngineError) Error() string {
	if e.host != "" && !isLoopbackHost(e.host) {
		return "the Docker Engine runs on " + e.host + ", not on this machine"
	}
	return "the Docker Engine's containers are not processes of this machine (the engine runs in a virtual machine or another namespace)"
}

func (e *remoteEngineError) Is(target error) bool { return target == ErrRemoteEngine }

// checkHostProcess makes sure pid, as the engine reports it, is the
// container's process on this machine: its cgroup names the container. A
// pid from an engine in a virtual machine would be some other process here.
func checkHostProcess(pid int, containerID string) error {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &remoteEngineError{}
	case err != nil:
		return nil // cannot tell; reading its sockets will say more
	case containerID != "" && !strings.Contains(string(b), containerID):
		return &remoteEngineError{}
	}
	return nil
}
