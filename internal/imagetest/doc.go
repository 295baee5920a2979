// Package imagetest holds the test of grade's own container image (the
// top-level Dockerfile): it builds the image with the real Docker Engine and
// grades test submissions with it the way the README tells users to run it,
// `docker run` with the engine's socket and the submission mounted, as the
// image's non-root user in the socket's group, on the host's network.
//
// The package has no code of its own; see image_test.go.
package imagetest
