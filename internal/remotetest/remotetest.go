//go:build linux

package remotetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Requirements says what is missing to run these tests, or nil.
func Requirements() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (a second dockerd and sshd need it)")
	}
	for _, bin := range []string{"dockerd", "docker", "ip", "sshd", "ssh", "ssh-keygen"} {
		if _, err := lookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing: %s (Debian: apt-get install docker.io iproute2 openssh-server openssh-client)", strings.Join(missing, ", "))
	}
	return nil
}

// lookPath finds bin in PATH or in the sbin folders, which a non-login PATH
// may lack.
func lookPath(bin string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, bin)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", bin)
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ---------------------------------------------------------------------------
// certificates

// Certs are a CA, a server certificate for 127.0.0.1 and a client
// certificate, as files.
type Certs struct {
	CA, ServerCert, ServerKey string
	// ClientDir holds ca.pem, cert.pem and key.pem: a DOCKER_CERT_PATH.
	ClientDir string
}

// WriteCerts generates a CA and the certificates it signs into dir.
func WriteCerts(dir string) (*Certs, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "grade remotetest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	issue := func(serial int64, name string, usage x509.ExtKeyUsage, ips []net.IP) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
	}
	serverCert, serverKey, err := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		return nil, err
	}
	clientCert, clientKey, err := issue(3, "grade", x509.ExtKeyUsageClientAuth, nil)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	c := &Certs{
		CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server-cert.pem"),
		ServerKey: filepath.Join(dir, "server-key.pem"), ClientDir: filepath.Join(dir, "client"),
	}
	files := map[string][]byte{
		c.CA: caPEM, c.ServerCert: serverCert, c.ServerKey: serverKey,
		filepath.Join(c.ClientDir, "ca.pem"): caPEM, filepath.Join(c.ClientDir, "cert.pem"): clientCert,
		filepath.Join(c.ClientDir, "key.pem"): clientKey,
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ---------------------------------------------------------------------------
// a second dockerd

// Daemon is a throwaway dockerd listening on tcp://127.0.0.1 with TLS, its
// data, state and bridge its own.
type Daemon struct {
	Dir    string
	Host   string // tcp://127.0.0.1:PORT
	Certs  *Certs
	Driver string // the storage driver it runs with
	Bridge string // the network bridge it attaches containers to
	Log    string

	cmd    *exec.Cmd
	exited chan struct{}
}

// bridgeLock serializes the choice of a bridge subnet between concurrent
// test runs on the same machine.
const bridgeLock = "/run/lock/grade-remotetest.lock"

// StartDaemon starts dockerd in dir. The machine's own dockerd keeps its
// bridge, iptables and storage: this one gets a bridge of its own, no
// iptables rules (published ports go through docker-proxy), its own data
// root and exec root, and the first storage driver that works here.
func StartDaemon(ctx context.Context, dir string) (*Daemon, error) {
	certs, err := WriteCerts(filepath.Join(dir, "certs"))
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	d := &Daemon{Dir: dir, Host: fmt.Sprintf("tcp://127.0.0.1:%d", port), Certs: certs, Log: filepath.Join(dir, "dockerd.log")}
	if d.Bridge, err = createBridge(); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o600); err != nil {
		d.Stop()
		return nil, err
	}
	bin, err := lookPath("dockerd")
	if err != nil {
		d.Stop()
		return nil, err
	}
	var tried []string
	for _, driver := range []string{"overlay2", "fuse-overlayfs", "vfs"} {
		os.RemoveAll(filepath.Join(dir, "data"))
		os.RemoveAll(filepath.Join(dir, "exec"))
		err := d.start(ctx, bin, port, driver)
		if err == nil {
			return d, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v", driver, err))
		if ctx.Err() != nil {
			break
		}
	}
	log := d.LogTail(25)
	d.Stop()
	return nil, fmt.Errorf("dockerd did not start (%s); its log ends:\n%s", strings.Join(tried, "; "), log)
}

func (d *Daemon) start(ctx context.Context, bin string, port int, driver string) error {
	logf, err := os.OpenFile(d.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "---- grade remotetest: dockerd --storage-driver %s\n", driver)
	cmd := exec.Command(bin,
		"--config-file", filepath.Join(d.Dir, "daemon.json"),
		"--data-root", filepath.Join(d.Dir, "data"),
		"--exec-root", filepath.Join(d.Dir, "exec"),
		"--pidfile", filepath.Join(d.Dir, "dockerd.pid"),
		"--host", fmt.Sprintf("tcp://127.0.0.1:%d", port),
		"--tlsverify", "--tlscacert", d.Certs.CA, "--tlscert", d.Certs.ServerCert, "--tlskey", d.Certs.ServerKey,
		"--storage-driver", driver,
		"--bridge", d.Bridge, "--iptables=false", "--ip-masq=false", "--ip-forward=false",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group (a Ctrl-C of `go test` reaches the tests, which
	// stop it), and SIGTERM should the tests die without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	logf.Close()
	d.cmd, d.exited, d.Driver = cmd, make(chan struct{}), driver
	go func() { cmd.Wait(); close(d.exited) }()

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return errors.New("it exited")
		case <-ctx.Done():
			d.stopProcess()
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := d.Docker(pctx, nil, "version", "--format", "{{.Server.Version}}")
		cancel()
		if err == nil && len(bytes.TrimSpace(out)) > 0 {
			return nil
		}
	}
	d.stopProcess()
	return errors.New("it did not answer within 60s")
}

// Env is the environment that points the docker CLI and grade at the
// daemon through DOCKER_HOST and its TLS variables.
func (d *Daemon) Env() []string {
	return []string{"DOCKER_HOST=" + d.Host, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + d.Certs.ClientDir}
}

// Docker runs the docker CLI against the daemon.
func (d *Daemon) Docker(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(CleanEnv(os.Environ()), d.Env()...)
	cmd.Stdin = stdin
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out, nil
}

// LoadImages copies images from the environment's engine (the machine's
// default one) into the daemon, with docker save | docker load.
func (d *Daemon) LoadImages(ctx context.Context, images ...string) error {
	save := exec.CommandContext(ctx, "docker", append([]string{"save"}, images...)...)
	var saveErr bytes.Buffer
	save.Stderr = &saveErr
	out, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	if err := save.Start(); err != nil {
		return err
	}
	_, lerr := d.Docker(ctx, out, "load", "--quiet")
	io.Copy(io.Discard, out)
	serr := save.Wait()
	if serr != nil {
		return fmt.Errorf("docker save %s on this machine's engine: %w: %s (run `make images` first)",
			strings.Join(images, " "), serr, strings.TrimSpace(saveErr.String()))
	}
	return lerr
}

// LogTail is the end of the daemon's log.
func (d *Daemon) LogTail(lines int) string {
	b, _ := os.ReadFile(d.Log)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// stopProcess ends dockerd: SIGTERM (it stops its containers and its
// containerd), then SIGKILL to its process group after 30s.
func (d *Daemon) stopProcess() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.exited
	}
	d.cmd = nil
}

// Stop ends the daemon and removes what it made: leftover mounts under its
// folder, its bridge, and the folder (data root included).
func (d *Daemon) Stop() error {
	d.stopProcess()
	var errs []error
	if err := unmountUnder(d.Dir); err != nil {
		errs = append(errs, err)
	}
	if d.Bridge != "" {
		if out, err := exec.Command("ip", "link", "delete", d.Bridge).CombinedOutput(); err != nil &&
			!strings.Contains(string(out), "Cannot find device") {
			errs = append(errs, fmt.Errorf("ip link delete %s: %v: %s", d.Bridge, err, out))
		}
		d.Bridge = ""
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 {
			p := strings.ReplaceAll(fields[1], `\040`, " ")
			if strings.HasPrefix(p, dir+"/") {
				points = append(points, p)
			}
		}
	}
	var errs []error
	for i := len(points) - 1; i >= 0; i-- {
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", points[i], err))
		}
	}
	return errors.Join(errs...)
}

// createBridge makes a bridge for the daemon on a /24 that no interface
// of this machine uses. Its name carries this process's id, so that a
// later run can remove the bridge of a run that died.
func createBridge() (string, error) {
	unlock, err := lockFile(bridgeLock)
	if err != nil {
		return "", err
	}
	defer unlock()
	removeStaleBridges()
	name := fmt.Sprintf("grt%x", os.Getpid())
	used, err := usedNetworks()
	if err != nil {
		return "", err
	}
	for third := 240; third < 256; third++ {
		cidr := fmt.Sprintf("172.29.%d.1/24", third)
		_, n, _ := net.ParseCIDR(cidr)
		if overlaps(n, used) {
			continue
		}
		for _, args := range [][]string{
			{"link", "add", "name", name, "type", "bridge"},
			{"addr", "add", cidr, "dev", name},
			{"link", "set", name, "up"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				exec.Command("ip", "link", "delete", name).Run()
				return "", fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
		return name, nil
	}
	return "", errors.New("no free /24 in 172.29.240.0/20 for a bridge")
}

// removeStaleBridges deletes the bridges of runs whose process is gone.
func removeStaleBridges() {
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		hex, ok := strings.CutPrefix(i.Name, "grt")
		if !ok {
			continue
		}
		pid, err := strconv.ParseInt(hex, 16, 32)
		if err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			exec.Command("ip", "link", "delete", i.Name).Run()
		}
	}
}

func usedNetworks() ([]*net.IPNet, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []*net.IPNet
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			out = append(out, n)
		}
	}
	return out, nil
}

func overlaps(n *net.IPNet, used []*net.IPNet) bool {
	for _, u := range used {
		if n.Contains(u.IP) || u.Contains(n.IP) {
			return true
		}
	}
	return false
}

// lockFile takes an exclusive lock on path; the returned func releases it.
func lockFile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// ---------------------------------------------------------------------------
// an OpenSSH server

// SSHD is a throwaway OpenSSH server on 127.0.0.1 that lets root in with a
// key the tests generated.
type SSHD struct {
	Dir  string
	Port int
	// Config is an ssh_config for the client: the key, the server's host
	// key, and the alias AliasHost (HostName 127.0.0.1, Port, User root).
	Config string
	Log    string

	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// AliasHost is a Host of SSHD.Config that only ssh's configuration knows.
const AliasHost = "grade-remotetest-engine"

// StartSSHD starts sshd -D in dir.
func StartSSHD(ctx context.Context, dir string) (*SSHD, error) {
	sshd, err := lookPath("sshd")
	if err != nil {
		return nil, err
	}
	keygen, err := lookPath("ssh-keygen")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, key := range []string{"host_ed25519", "id_ed25519"} {
		if out, err := exec.CommandContext(ctx, keygen, "-q", "-t", "ed25519", "-N", "", "-C", "grade-remotetest",
			"-f", filepath.Join(dir, key)).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	// sshd's privilege separation needs this folder (the Debian service
	// creates it at start).
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &SSHD{Dir: dir, Port: port, Config: filepath.Join(dir, "ssh_config"), Log: filepath.Join(dir, "sshd.log")}
	pub, err := os.ReadFile(filepath.Join(dir, "id_ed25519.pub"))
	if err != nil {
		return nil, err
	}
	hostPub, err := os.ReadFile(filepath.Join(dir, "host_ed25519.pub"))
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"authorized_keys": string(pub),
		"known_hosts":     fmt.Sprintf("[127.0.0.1]:%d %s", port, hostPub),
		"sshd_config": fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
LogLevel VERBOSE
`, port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys")),
		"ssh_config": fmt.Sprintf(`Host %s
  HostName 127.0.0.1
  Port %d
  User root
Host *
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  LogLevel ERROR
`, AliasHost, port, filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "known_hosts")),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	if out, err := exec.CommandContext(ctx, sshd, "-t", "-f", filepath.Join(dir, "sshd_config")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sshd -t: %v: %s", err, out)
	}
	logf, err := os.Create(s.Log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	logf.Close()
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			b, _ := os.ReadFile(s.Log)
			return nil, fmt.Errorf("sshd exited: %s", b)
		case <-time.After(200 * time.Millisecond):
		}
		if banner(port) {
			return s, nil
		}
	}
	s.Stop()
	return nil, errors.New("sshd did not answer within 15s")
}

// banner reports whether an SSH server answers on port.
func banner(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "SSH-2.0-")
}

// SSHCommand is a GRADE_SSH_COMMAND that uses the server's client
// configuration instead of ~/.ssh.
func (s *SSHD) SSHCommand() string { return "ssh -F " + s.Config }

// Stop ends the server and its session processes.
func (s *SSHD) Stop() {
	s.once.Do(func() {
		if s.cmd == nil {
			return
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	})
}

// ---------------------------------------------------------------------------

// CleanEnv is env without the settings that choose a Docker Engine or the
// way grade reaches it, so that each test says exactly which engine it means.
func CleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
			"DOCKER_API_VERSION", "TESTCONTAINERS_HOST_OVERRIDE", "TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE",
			"GRADE_SSH_COMMAND", "GRADE_STATE_DIR", "TMPDIR":
			continue
		}
		out = append(out, kv)
	}
	return out
}
