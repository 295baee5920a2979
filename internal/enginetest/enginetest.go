// Package enginetest holds what the integration tests ask of the real
// Docker Engine: which images exist (to prove `grade clean` restores them)
// and which grader containers remain (to prove none outlives a run).
package enginetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/moby/moby/client"

	"github.com/gradelab/grade/grader/session"
)

// Client returns a client of the engine the grader uses.
func Client(ctx context.Context) (client.APIClient, func(), error) {
	s, err := session.New(ctx, session.Options{})
	if err != nil {
		return nil, nil, err
	}
	return s.Client(), func() { s.Close() }, nil
}

// Images is the set of every image id on the engine, intermediate ones included.
func Images(ctx context.Context, cli client.APIClient) (map[string]bool, error) {
	list, err := cli.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, im := range list.Items {
		out[im.ID] = true
	}
	return out, nil
}

// CleanedUp compares the engine's images after `grade clean` with those
// before the tests: no image grade recorded (in store) may remain, and no
// image that existed before may be gone unless grade's builds produced it. Images that other programs made
// meanwhile on a shared engine are not grade's and are not counted.
func CleanedUp(before, after map[string]bool, recorded []string) (left, gone []string) {
	extra, missing := Diff(before, after)
	for _, id := range extra {
		if slices.Contains(recorded, id) {
			left = append(left, id)
		}
	}
	// An image that existed before may go only if grade recorded it: a
	// build that produced the very same image (same id) made it grade's.
	for _, id := range missing {
		if !slices.Contains(recorded, id) {
			gone = append(gone, id)
		}
	}
	return left, gone
}

// Diff returns the ids only in after (extra) and only in before (gone).
func Diff(before, after map[string]bool) (extra, gone []string) {
	for id := range after {
		if !before[id] {
			extra = append(extra, id)
		}
	}
	for id := range before {
		if !after[id] {
			gone = append(gone, id)
		}
	}
	sort.Strings(extra)
	sort.Strings(gone)
	return extra, gone
}

// GraderContainers lists every container carrying the grader's label.
func GraderContainers(ctx context.Context, cli client.APIClient) ([]string, error) {
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", session.LabelGrader),
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range list.Items {
		out = append(out, fmt.Sprintf("%.12s (%s, %s)", c.ID, c.Image, c.State))
	}
	return out, nil
}

// TempFiles lists the grader's temporary files (grade-* in the temp folder).
func TempFiles() ([]string, error) {
	return filepath.Glob(filepath.Join(os.TempDir(), "grade-fs-*"))
}

// New returns the items of after that are not in before.
func New(before, after []string) []string {
	var out []string
	for _, a := range after {
		if !slices.Contains(before, a) {
			out = append(out, a)
		}
	}
	return out
}
