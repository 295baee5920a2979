package session

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeEnv is a machine for resolveEndpoint: variables, a home folder, the
// sockets that exist (by path), and real files under the test's folder.
type fakeEnv struct {
	vars    map[string]string
	home    string
	sockets []string
	root    string // files under it are looked up for real
}

func (f fakeEnv) environ() environ {
	return environ{
		getenv: func(k string) string { return f.vars[k] },
		home:   f.home,
		exists: func(p string) bool {
			if slices.Contains(f.sockets, p) {
				return true
			}
			if f.root != "" && strings.HasPrefix(p, f.root) {
				_, err := os.Stat(p)
				return err == nil
			}
			return false
		},
	}
}

// writeContext stores a context the way `docker context create` does, with
// the named TLS files (ca.pem, cert.pem, key.pem).
func writeContext(t *testing.T, configDir, name, host string, skipVerify bool, tlsFiles ...string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	meta := map[string]any{
		"Name":      name,
		"Metadata":  map[string]any{},
		"Endpoints": map[string]any{"docker": map[string]any{"Host": host, "SkipTLSVerify": skipVerify}},
	}
	b, _ := json.Marshal(meta)
	mustWrite(t, filepath.Join(configDir, "contexts", "meta", id, "meta.json"), b)
	tlsDir := filepath.Join(configDir, "contexts", "tls", id, "docker")
	for _, f := range tlsFiles {
		mustWrite(t, filepath.Join(tlsDir, f), []byte("pem"))
	}
	return tlsDir
}

func mustWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestUnitResolveEndpoint(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	cfg := filepath.Join(root, "cfg")
	tlsDir := writeContext(t, cfg, "tlsctx", "tcp://10.1.2.3:2376", false, "ca.pem", "cert.pem", "key.pem")
	writeContext(t, cfg, "sshctx", "ssh://grader@build-box", false)
	writeContext(t, cfg, "empty", "", false)
	mustWrite(t, filepath.Join(cfg, "config.json"), []byte(`{"auths":{},"currentContext":"sshctx"}`))
	// The same contexts in the default folder, ~/.docker.
	writeContext(t, filepath.Join(home, ".docker"), "homectx", "tcp://home-engine:2375", true)
	mustWrite(t, filepath.Join(home, ".docker", "config.json"), []byte(`{"currentContext":"homectx"}`))
	bad := filepath.Join(root, "bad")
	mustWrite(t, filepath.Join(bad, "config.json"), []byte(`{"currentContext":`))
	noCfg := filepath.Join(root, "nothing")

	xdg := "/run/user/1000"
	tests := []struct {
		name    string
		vars    map[string]string
		sockets []string
		want    endpoint
		wantErr string
	}{
		{name: "DOCKER_HOST wins over contexts",
			vars: map[string]string{"DOCKER_HOST": "tcp://1.2.3.4:2376", "DOCKER_CONTEXT": "tlsctx", "DOCKER_CONFIG": cfg},
			want: endpoint{Host: "tcp://1.2.3.4:2376", Source: "DOCKER_HOST"}},
		{name: "DOCKER_CONTEXT wins over currentContext",
			vars: map[string]string{"DOCKER_CONTEXT": "tlsctx", "DOCKER_CONFIG": cfg},
			want: endpoint{Host: "tcp://10.1.2.3:2376", Source: `docker context "tlsctx"`, Context: "tlsctx",
				TLS: &contextTLS{Dir: tlsDir, CA: filepath.Join(tlsDir, "ca.pem"), Cert: filepath.Join(tlsDir, "cert.pem"), Key: filepath.Join(tlsDir, "key.pem")}}},
		{name: "currentContext of DOCKER_CONFIG",
			vars: map[string]string{"DOCKER_CONFIG": cfg},
			want: endpoint{Host: "ssh://grader@build-box", Source: `docker context "sshctx"`, Context: "sshctx"}},
		{name: "currentContext of ~/.docker, skip-verify without files",
			vars: map[string]string{},
			want: endpoint{Host: "tcp://home-engine:2375", Source: `docker context "homectx"`, Context: "homectx",
				TLS: &contextTLS{Dir: tlsDirOf(filepath.Join(home, ".docker"), "homectx"), SkipVerify: true}}},
		{name: "the default context is the default socket",
			vars: map[string]string{"DOCKER_CONTEXT": "default", "DOCKER_CONFIG": cfg}, sockets: []string{defaultSocket},
			want: endpoint{Host: "unix:///var/run/docker.sock", Source: "the default socket"}},
		{name: "unknown context",
			vars:    map[string]string{"DOCKER_CONTEXT": "nope", "DOCKER_CONFIG": cfg},
			wantErr: `docker context "nope" does not exist`},
		{name: "context without a docker endpoint",
			vars:    map[string]string{"DOCKER_CONTEXT": "empty", "DOCKER_CONFIG": cfg},
			wantErr: `docker context "empty" has no Docker endpoint`},
		{name: "broken config.json",
			vars:    map[string]string{"DOCKER_CONFIG": bad},
			wantErr: "is not valid JSON"},
		{name: "no configuration: default socket",
			vars: map[string]string{"DOCKER_CONFIG": noCfg, "XDG_RUNTIME_DIR": xdg}, sockets: []string{defaultSocket, xdg + "/podman/podman.sock"},
			want: endpoint{Host: "unix:///var/run/docker.sock", Source: "the default socket"}},
		{name: "rootless Docker",
			vars: map[string]string{"DOCKER_CONFIG": noCfg, "XDG_RUNTIME_DIR": xdg}, sockets: []string{xdg + "/docker.sock", xdg + "/podman/podman.sock"},
			want: endpoint{Host: "unix:///run/user/1000/docker.sock", Source: "the rootless Docker socket"}},
		{name: "rootless Podman",
			vars: map[string]string{"DOCKER_CONFIG": noCfg, "XDG_RUNTIME_DIR": xdg}, sockets: []string{xdg + "/podman/podman.sock", "/run/podman/podman.sock"},
			want: endpoint{Host: "unix:///run/user/1000/podman/podman.sock", Source: "the Podman socket"}},
		{name: "rootful Podman",
			vars: map[string]string{"DOCKER_CONFIG": noCfg}, sockets: []string{"/run/podman/podman.sock", filepath.Join(home, ".colima/default/docker.sock")},
			want: endpoint{Host: "unix:///run/podman/podman.sock", Source: "the Podman socket"}},
		{name: "Colima",
			vars: map[string]string{"DOCKER_CONFIG": noCfg}, sockets: []string{filepath.Join(home, ".colima/default/docker.sock")},
			want: endpoint{Host: "unix://" + filepath.Join(home, ".colima/default/docker.sock"), Source: "the Colima socket"}},
		{name: "older Colima",
			vars: map[string]string{"DOCKER_CONFIG": noCfg}, sockets: []string{filepath.Join(home, ".colima/docker.sock")},
			want: endpoint{Host: "unix://" + filepath.Join(home, ".colima/docker.sock"), Source: "the Colima socket"}},
		{name: "no engine anywhere: the default socket, for the message",
			vars: map[string]string{"DOCKER_CONFIG": noCfg},
			want: endpoint{Host: "unix:///var/run/docker.sock", Source: "the default socket"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeEnv{vars: tt.vars, home: home, sockets: tt.sockets, root: root}
			got, err := resolveEndpoint(f.environ())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v %+v\nwant %+v %+v", got, got.TLS, tt.want, tt.want.TLS)
			}
		})
	}
}

func tlsDirOf(configDir, name string) string {
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(configDir, "contexts", "tls", hex.EncodeToString(sum[:]), "docker")
}

func TestUnitNewEngineExports(t *testing.T) {
	root := t.TempDir()
	cfg := filepath.Join(root, "cfg")
	full := &contextTLS{Dir: filepath.Join(root, "tls"), CA: "ca", Cert: "cert", Key: "key"}
	skip := &contextTLS{Dir: filepath.Join(root, "tls"), CA: "ca", Cert: "cert", Key: "key", SkipVerify: true}
	tests := []struct {
		name      string
		ep        endpoint
		vars      map[string]string
		wantEnv   map[string]string
		wantProbe string
		wantRelay bool
	}{
		{name: "default socket: nothing changes",
			ep:      endpoint{Host: "unix:///var/run/docker.sock", Source: "the default socket"},
			wantEnv: map[string]string{}, wantProbe: "127.0.0.1"},
		{name: "DOCKER_HOST unix: nothing changes",
			ep:      endpoint{Host: "unix:///run/user/1000/docker.sock", Source: "DOCKER_HOST"},
			wantEnv: map[string]string{}, wantProbe: "127.0.0.1"},
		{name: "Podman socket is exported",
			ep:      endpoint{Host: "unix:///run/podman/podman.sock", Source: "the Podman socket"},
			wantEnv: map[string]string{"DOCKER_HOST": "unix:///run/podman/podman.sock"}, wantProbe: "127.0.0.1"},
		{name: "DOCKER_HOST tcp with TLS from the environment",
			ep:      endpoint{Host: "tcp://engine.example:2376", Source: "DOCKER_HOST"},
			vars:    map[string]string{"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs"},
			wantEnv: map[string]string{}, wantProbe: "engine.example"},
		{name: "DOCKER_TLS_VERIFY without DOCKER_CERT_PATH: the docker CLI's folder",
			ep:      endpoint{Host: "tcp://engine.example:2376", Source: "DOCKER_HOST"},
			vars:    map[string]string{"DOCKER_TLS_VERIFY": "1", "DOCKER_CONFIG": cfg},
			wantEnv: map[string]string{"DOCKER_CERT_PATH": cfg}, wantProbe: "engine.example"},
		{name: "tcp://0.0.0.0 is this machine",
			ep:      endpoint{Host: "tcp://0.0.0.0:2375", Source: "DOCKER_HOST"},
			wantEnv: map[string]string{}, wantProbe: "127.0.0.1"},
		{name: "context with its TLS files",
			ep:        endpoint{Host: "tcp://10.1.2.3:2376", Source: `docker context "c"`, Context: "c", TLS: full},
			wantEnv:   map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": full.Dir},
			wantProbe: "10.1.2.3"},
		{name: "context with TLS files, skip-verify",
			ep:        endpoint{Host: "tcp://10.1.2.3:2376", Source: `docker context "c"`, Context: "c", TLS: skip},
			wantEnv:   map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2376", "DOCKER_TLS_VERIFY": "", "DOCKER_CERT_PATH": skip.Dir},
			wantProbe: "10.1.2.3"},
		{name: "context without TLS: the environment's TLS is dropped",
			ep:        endpoint{Host: "tcp://10.1.2.3:2375", Source: `docker context "c"`, Context: "c"},
			vars:      map[string]string{"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs"},
			wantEnv:   map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2375", "DOCKER_TLS_VERIFY": "", "DOCKER_CERT_PATH": ""},
			wantProbe: "10.1.2.3"},
		{name: "context with skip-verify and no files: the relay speaks TLS",
			ep:        endpoint{Host: "tcp://10.1.2.3:2376", Source: `docker context "c"`, Context: "c", TLS: &contextTLS{Dir: root, SkipVerify: true}},
			wantProbe: "10.1.2.3", wantRelay: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeEnv{vars: tt.vars}
			if f.vars == nil {
				f.vars = map[string]string{}
			}
			g, err := newEngine(tt.ep, f.environ())
			if err != nil {
				t.Fatal(err)
			}
			if g.relay != nil {
				defer g.relay.stop()
			}
			if (g.relay != nil) != tt.wantRelay {
				t.Fatalf("relay = %v, want %v", g.relay != nil, tt.wantRelay)
			}
			want := tt.wantEnv
			if tt.wantRelay {
				want = map[string]string{"DOCKER_HOST": "unix://" + g.relay.sock, "DOCKER_TLS_VERIFY": "", "DOCKER_CERT_PATH": ""}
				if g.host != want["DOCKER_HOST"] {
					t.Errorf("host = %q, want the relay's socket", g.host)
				}
			} else if g.host != tt.ep.Host {
				t.Errorf("host = %q, want %q", g.host, tt.ep.Host)
			}
			if !reflect.DeepEqual(g.env, want) {
				t.Errorf("env = %v, want %v", g.env, want)
			}
			if g.probeHost != tt.wantProbe {
				t.Errorf("probeHost = %q, want %q", g.probeHost, tt.wantProbe)
			}
		})
	}
}

func TestUnitNewEngineRejects(t *testing.T) {
	f := fakeEnv{vars: map[string]string{}}
	for _, h := range []string{"fd://", "localhost:2375", "ssh://user:secret@host", "ssh://host/var/run/docker.sock", "ssh://"} {
		if g, err := newEngine(endpoint{Host: h, Source: "DOCKER_HOST"}, f.environ()); err == nil {
			if g.relay != nil {
				g.relay.stop()
			}
			t.Errorf("newEngine(%q) accepted it", h)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestUnitSSHCommands(t *testing.T) {
	tests := []struct {
		host, command       string
		wantDial, wantGetIP string
	}{
		{"ssh://grader@build-box:2222", "",
			"ssh -o ConnectTimeout=30 -o BatchMode=yes -T -l grader -p 2222 -- build-box docker system dial-stdio",
			"ssh -l grader -p 2222 -G -- build-box"},
		{"ssh://build-box", "",
			"ssh -o ConnectTimeout=30 -o BatchMode=yes -T -- build-box docker system dial-stdio",
			"ssh -G -- build-box"},
		{"ssh://root@[::1]:22", "ssh -F /etc/grade/ssh_config",
			"ssh -F /etc/grade/ssh_config -o ConnectTimeout=30 -o BatchMode=yes -T -l root -p 22 -- ::1 docker system dial-stdio",
			"ssh -F /etc/grade/ssh_config -l root -p 22 -G -- ::1"},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.host)
		f := fakeEnv{vars: map[string]string{"GRADE_SSH_COMMAND": tt.command}}
		dial, resolve, err := sshCommands(f.environ(), u, "DOCKER_HOST")
		if err != nil {
			t.Fatalf("%s: %v", tt.host, err)
		}
		if got := strings.Join(dial, " "); got != tt.wantDial {
			t.Errorf("%s dial:\n got %s\nwant %s", tt.host, got, tt.wantDial)
		}
		if got := strings.Join(resolve, " "); got != tt.wantGetIP {
			t.Errorf("%s resolve:\n got %s\nwant %s", tt.host, got, tt.wantGetIP)
		}
	}
}

func TestUnitProbeHostForEngines(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://0.0.0.0:2375": "127.0.0.1",
		"tcp://[::]:2375":    "127.0.0.1",
		"ssh://root@[::1]":   "::1",
		"ssh://127.0.0.2":    "127.0.0.2",
	} {
		if got := probeHostFor(in); got != want {
			t.Errorf("probeHostFor(%q) = %q, want %q", in, got, want)
		}
	}
	for h, want := range map[string]bool{"127.0.0.1": true, "127.0.0.2": true, "::1": true, "localhost": true,
		"LOCALHOST": true, "10.0.0.5": false, "build-box": false, "": false} {
		if got := isLoopbackHost(h); got != want {
			t.Errorf("isLoopbackHost(%q) = %v", h, got)
		}
	}
}

// TestHelperFakeSSH is not a test: the relay tests run the test binary as
// their ssh (GRADE_SSH_COMMAND). It answers `-G` with a host name, fails
// like ssh when asked to, and otherwise connects its stdin and stdout to
// GRADE_FAKE_SSH_ADDR, as `docker system dial-stdio` connects them to the
// engine.
func TestHelperFakeSSH(t *testing.T) {
	if os.Getenv("GRADE_FAKE_SSH") == "" {
		return
	}
	args := os.Args
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[i+1:]
	}
	if log := os.Getenv("GRADE_FAKE_SSH_LOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			fmt.Fprintln(f, strings.Join(args, " "))
			f.Close()
		}
	}
	if slices.Contains(args, "-G") {
		fmt.Println("user grader")
		fmt.Println("hostname " + os.Getenv("GRADE_FAKE_SSH_HOSTNAME"))
		os.Exit(0)
	}
	if os.Getenv("GRADE_FAKE_SSH") == "fail" {
		fmt.Fprintln(os.Stderr, "ssh: connect to host build-box port 22: Connection refused")
		os.Exit(255)
	}
	c, err := net.Dial("tcp", os.Getenv("GRADE_FAKE_SSH_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		io.Copy(c, os.Stdin)
		c.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(os.Stdout, c)
	os.Exit(0)
}

// fakeSSH makes the test binary the ssh of the relay, in mode ("ok" or
// "fail"); it returns the file where each invocation's arguments are logged.
func fakeSSH(t *testing.T, mode, addr string) string {
	t.Helper()
	log := filepath.Join(t.TempDir(), "ssh.log")
	t.Setenv("GRADE_FAKE_SSH", mode)
	t.Setenv("GRADE_FAKE_SSH_ADDR", addr)
	t.Setenv("GRADE_FAKE_SSH_LOG", log)
	t.Setenv("GRADE_FAKE_SSH_HOSTNAME", "203.0.113.7")
	return log
}

// viaRelay is an HTTP client whose connections go to the relay's socket.
func viaRelay(r *relay) *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", r.sock)
		},
	}}
}

func getPing(t *testing.T, c *http.Client) (string, error) {
	t.Helper()
	resp, err := c.Get("http://docker/_ping")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func fakeEngine(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			io.WriteString(w, "OK")
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestUnitSSHRelay(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake ssh needs unix sockets and process groups")
	}
	srv := fakeEngine(t)
	log := fakeSSH(t, "ok", srv.Listener.Addr().String())
	f := fakeEnv{vars: map[string]string{"GRADE_SSH_COMMAND": os.Args[0] + " -test.run=^TestHelperFakeSSH$ --"}}
	g, err := newEngine(endpoint{Host: "ssh://grader@build-box:2222", Source: "DOCKER_HOST"}, f.environ())
	if err != nil {
		t.Fatal(err)
	}
	r := g.relay
	if r == nil {
		t.Fatal("no relay for ssh://")
	}
	defer r.stop()
	if g.probeHost != "203.0.113.7" {
		t.Errorf("probeHost = %q, want the host name ssh -G resolves", g.probeHost)
	}
	if g.env["DOCKER_HOST"] != "unix://"+r.sock {
		t.Errorf("DOCKER_HOST = %q, want the relay", g.env["DOCKER_HOST"])
	}
	if err := r.ensure(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(r.dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("relay folder %v %v, want a private folder", fi, err)
	}
	// Sequential connections (no keep-alive): the spare connection serves them.
	c := viaRelay(r)
	c.Transport.(*http.Transport).DisableKeepAlives = true
	for i := 0; i < 3; i++ {
		if body, err := getPing(t, c); err != nil || body != "OK" {
			t.Fatalf("ping %d through the relay: %q, %v", i, body, err)
		}
	}
	b, _ := os.ReadFile(log)
	var dials int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasSuffix(line, "-- build-box docker system dial-stdio") {
			dials++
			if !strings.Contains(line, "-l grader -p 2222") || !strings.Contains(line, "BatchMode=yes") {
				t.Errorf("ssh ran as %q", line)
			}
		}
	}
	if dials < 3 {
		t.Errorf("ssh was run %d times for 3 connections:\n%s", dials, b)
	}

	// A session's Close removes the socket and its folder; the next session
	// listens again at the same address (testcontainers-go keeps DOCKER_HOST).
	os.Remove(r.sock)
	os.Remove(r.dir)
	if err := r.ensure(); err != nil {
		t.Fatal(err)
	}
	if body, err := getPing(t, viaRelay(r)); err != nil || body != "OK" {
		t.Fatalf("ping after the socket was recreated: %q, %v", body, err)
	}
	r.stop()
	if _, err := os.Stat(r.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stop left %s: %v", r.dir, err)
	}
}

func TestUnitSSHRelayFailure(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake ssh needs unix sockets")
	}
	fakeSSH(t, "fail", "")
	f := fakeEnv{vars: map[string]string{"GRADE_SSH_COMMAND": os.Args[0] + " -test.run=^TestHelperFakeSSH$ --"}}
	g, err := newEngine(endpoint{Host: "ssh://build-box", Source: "DOCKER_HOST"}, f.environ())
	if err != nil {
		t.Fatal(err)
	}
	defer g.relay.stop()
	if err := g.relay.ensure(); err != nil {
		t.Fatal(err)
	}
	if _, err := getPing(t, viaRelay(g.relay)); err == nil {
		t.Fatal("a failing ssh answered")
	}
	msg := g.relay.failure(5 * time.Second)
	if !strings.Contains(msg, "Connection refused") || !strings.Contains(msg, "exit status 255") {
		t.Errorf("failure = %q, want ssh's exit status and message", msg)
	}
	if h := g.hint(); !strings.Contains(h, "docker system dial-stdio") || !strings.Contains(h, "GRADE_SSH_COMMAND") {
		t.Errorf("hint = %q", h)
	}
}

func TestUnitTLSRelay(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "OK") }))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	mustWrite(t, ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	addr := srv.Listener.Addr().String()
	other := filepath.Join(dir, "other.pem") // a CA that did not sign the server's certificate
	mustWrite(t, other, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t)}))

	for _, tt := range []struct {
		name string
		tls  *contextTLS
		ok   bool
	}{
		{"a CA without a client certificate", &contextTLS{Dir: dir, CA: ca}, true},
		{"skip-verify without files", &contextTLS{Dir: dir, SkipVerify: true}, true},
		{"the wrong CA", &contextTLS{Dir: dir, CA: other}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := newEngine(endpoint{Host: "tcp://" + addr, Source: `docker context "c"`, Context: "c", TLS: tt.tls}, fakeEnv{}.environ())
			if err != nil {
				t.Fatal(err)
			}
			defer g.relay.stop()
			if err := g.relay.ensure(); err != nil {
				t.Fatal(err)
			}
			body, err := getPing(t, viaRelay(g.relay))
			if tt.ok && (err != nil || body != "OK") {
				t.Fatalf("through the relay: %q, %v (%s)", body, err, g.relay.failure(0))
			}
			if !tt.ok {
				if err == nil {
					t.Fatal("the relay trusted a server the CA did not sign")
				}
				if f := g.relay.failure(time.Second); !strings.Contains(f, "certificate") {
					t.Errorf("failure = %q, want the certificate error", f)
				}
			}
		})
	}
}

func TestUnitRemoteEngineDiagnostics(t *testing.T) {
	c := &Container{ID: "abc", s: &Session{probeHost: "build-box.lan", local: false}}
	_, err := c.Listeners(context.Background())
	if !errors.Is(err, ErrRemoteEngine) {
		t.Fatalf("Listeners on a remote engine: %v, want ErrRemoteEngine", err)
	}
	// checks/runtime.go shows it as "(its sockets could not be read: …)".
	if got, want := "(its sockets could not be read: "+err.Error()+")",
		"(its sockets could not be read: the Docker Engine runs on build-box.lan, not on this machine)"; got != want {
		t.Errorf("message\n got %s\nwant %s", got, want)
	}
	vm := (&remoteEngineError{host: "127.0.0.1"}).Error()
	if !strings.Contains(vm, "virtual machine") {
		t.Errorf("a loopback engine whose processes are not here: %q", vm)
	}
	if runtime.GOOS != "linux" {
		return
	}
	if err := checkHostProcess(os.Getpid(), "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrRemoteEngine) {
		t.Errorf("a pid whose cgroup does not name the container: %v", err)
	}
	if err := checkHostProcess(1<<30, "0123"); !errors.Is(err, ErrRemoteEngine) {
		t.Errorf("a pid that does not exist here: %v", err)
	}
	if err := checkHostProcess(os.Getpid(), ""); err != nil {
		t.Errorf("no container id to compare: %v", err)
	}
}

// selfSigned is the DER of a throwaway self-signed CA certificate.
func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
