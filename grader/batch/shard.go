package batch

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is the slice K of N of a batch (1 ≤ K ≤ N); the zero Shard is the
// whole batch.
type Shard struct{ K, N int }

// ParseShard reads "K/N".
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return Shard{}, fmt.Errorf("--shard wants K/N with 1 ≤ K ≤ N (e.g. 1/4), got %q", s)
	}
	return Shard{K: k, N: n}, nil
}

func (s Shard) String() string {
	if s.N == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// Select returns the submissions of shard s: sorted by name, those whose
// index i has i % N == K-1. Every submission is in exactly one shard, and
// the choice depends only on the names.
func (s Shard) Select(subs []Submission) []Submission {
	sorted := append([]Submission(nil), subs...)
	SortSubmissions(sorted)
	if s.N <= 1 {
		return sorted
	}
	var out []Submission
	for i, sub := range sorted {
		if i%s.N == s.K-1 {
			out = append(out, sub)
		}
	}
	return out
}
