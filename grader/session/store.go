package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/moby/client"
)

// Store is the grader's record of the images it built, so that `grade
// clean` can remove them all: the tagged final images and the untagged
// builder-stage images, which carry no label.
type Store struct {
	Path string
}

// DefaultStore is $GRADE_STATE_DIR/images, or images in the user's cache
// folder (e.g. ~/.cache/grade/images).
func DefaultStore() (*Store, error) {
	dir := os.Getenv("GRADE_STATE_DIR")
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(c, "grade")
	}
	return &Store{Path: filepath.Join(dir, "images")}, nil
}

type builtImage struct {
	ID  string
	Ref string
}

// Record appends image ids (and the tag they were given, if any).
func (st *Store) Record(ids []string, ref string) error {
	if err := os.MkdirAll(filepath.Dir(st.Path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(st.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%s\t%s\n", id, ref)
	}
	_, err = f.WriteString(b.String()) // one write: concurrent graders append whole lines
	return err
}

func (st *Store) read() ([]builtImage, error) {
	f, err := os.Open(st.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []builtImage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, ref, _ := strings.Cut(sc.Text(), "\t")
		if id != "" {
			out = append(out, builtImage{ID: id, Ref: ref})
		}
	}
	return out, sc.Err()
}

// Images returns the ids of every image the store has recorded.
func (st *Store) Images() ([]string, error) {
	recs, err := st.read()
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	return ids, err
}

// CleanResult says what Clean did.
type CleanResult struct {
	Removed int      // images deleted
	Kept    []string // images still in use (by a container or another build's cache)
}

// Clean removes every image the store recorded (the tags grade gave and the
// images its builds created, builder stages included), without force: an
// image that another image or a container still uses stays. Images other
// stores recorded (another user, another GRADE_STATE_DIR) are left alone.
// The record is then rewritten to hold only what stayed.
func Clean(ctx context.Context, cli client.APIClient, st *Store) (CleanResult, error) {
	recorded, err := st.read()
	if err != nil {
		return CleanResult{}, err
	}
	list, err := cli.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil {
		return CleanResult{}, Environment(fmt.Errorf("list images: %w", err), hintDocker)
	}
	var res CleanResult
	before := len(list.Items)
	errs := removeImages(ctx, cli, recorded)
	after, err := cli.ImageList(ctx, client.ImageListOptions{All: true})
	if err == nil {
		res.Removed = before - len(after.Items)
		present := map[string]bool{}
		for _, im := range after.Items {
			present[im.ID] = true
		}
		var keep []builtImage
		for _, b := range recorded {
			if present[b.ID] {
				keep = append(keep, b)
				res.Kept = append(res.Kept, b.ID)
			}
		}
		sort.Strings(res.Kept)
		_ = os.Remove(st.Path)
		if len(keep) > 0 {
			for _, k := range keep {
				_ = st.Record([]string{k.ID}, k.Ref)
			}
		}
	}
	return res, errors.Join(errs...)
}

// removeImages removes tags in the grader's namespace, then the recorded ids
// that carry no other tag, repeating while it makes progress (a parent can
// go once its children went). Never forced: what is still in use stays.
// Parents are not pruned implicitly: an untagged parent that existed before
// grade built on it is not grade's to remove; every image a grade build
// created is recorded and removed by its own id.
func removeImages(ctx context.Context, cli client.APIClient, imgs []builtImage) []error {
	var errs []error
	refs := map[string]bool{}
	ids := map[string]bool{}
	for _, b := range imgs {
		if b.Ref != "" {
			refs[b.Ref] = true
		}
		ids[b.ID] = true
	}
	for ref := range refs {
		if _, err := cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: false}); err != nil &&
			!isNotFound(err) && !isConflict(err) {
			errs = append(errs, fmt.Errorf("remove %s: %w", ref, err))
		}
	}
	for progress := true; progress && len(ids) > 0; {
		progress = false
		for id := range ids {
			ii, err := cli.ImageInspect(ctx, id)
			if isNotFound(err) {
				delete(ids, id)
				progress = true
				continue
			}
			if err != nil {
				continue
			}
			if foreignTag(ii.RepoTags) {
				delete(ids, id) // someone else tagged it: not ours to remove
				continue
			}
			if _, err := cli.ImageRemove(ctx, id, client.ImageRemoveOptions{PruneChildren: false}); err == nil || isNotFound(err) {
				delete(ids, id)
				progress = true
			}
		}
	}
	return errs
}

func foreignTag(tags []string) bool {
	for _, t := range tags {
		if !strings.HasPrefix(t, RepositoryPrefix+"/") && t != "<none>:<none>" {
			return true
		}
	}
	return false
}
