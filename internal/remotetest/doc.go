// Package remotetest grades the reference solution through Docker Engines
// that are not the machine's default socket, for real: a second dockerd
// listening on TCP with TLS certificates the tests generate (reached through
// DOCKER_HOST and through a docker CLI context), and ssh:// through a
// throwaway OpenSSH server on 127.0.0.1. Its helpers start and remove those
// engines; its tests (Linux, root, Docker, OpenSSH) run in `go test ./...`.
package remotetest
