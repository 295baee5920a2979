package dockerfile

import (
	"strings"

	"github.com/distribution/reference"
)

// Scratch is the empty image's name.
const Scratch = "scratch"

// NormalizeImage returns the fully qualified form of an image reference, the
// way BuildKit resolves a FROM operand: "alpine" → "docker.io/library/alpine:latest",
// "golang:1.21" → "docker.io/library/golang:1.21". Digests are kept. "scratch"
// stays "scratch"; a string that is no valid reference is returned trimmed
// and lowercased, so comparisons still behave.
func NormalizeImage(s string) string {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, Scratch) {
		return Scratch
	}
	ref, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return strings.ToLower(s)
	}
	return reference.TagNameOnly(ref).String()
}

// FamiliarImage returns the short form of an image reference as `docker
// images` prints it: "docker.io/library/alpine:3.18" → "alpine:3.18". A
// missing tag becomes ":latest".
func FamiliarImage(s string) string {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, Scratch) {
		return Scratch
	}
	ref, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return s
	}
	return reference.FamiliarString(reference.TagNameOnly(ref))
}

// SameImage reports whether two image references name the same image after
// normalisation (registry, "library/" namespace and the default tag).
func SameImage(a, b string) bool {
	return NormalizeImage(a) == NormalizeImage(b)
}
