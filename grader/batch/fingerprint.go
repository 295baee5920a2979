package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Fingerprint hashes the instructor's settings (effective timeouts, the
// settings file's content, --only/--skip, ...) given as name → value. The
// order of the map does not matter; any changed value changes it.
func Fingerprint(settings map[string]string) string {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		// Length-prefixed, so no value can imitate another key.
		io.WriteString(h, strconv.Itoa(len(k))+":"+k+"="+strconv.Itoa(len(settings[k]))+":"+settings[k]+"\n")
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:32]
}

// GraderID identifies the grade build: its version, and for a development
// build ("dev") also a hash of the executable, since "dev" names no code.
func GraderID(version, exe string) string {
	if version != "dev" && version != "" {
		return version
	}
	f, err := os.Open(exe)
	if err != nil {
		return "dev"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "dev"
	}
	return "dev+" + hex.EncodeToString(h.Sum(nil))[:16]
}

// HashDir hashes a submission folder: every file's path, executable bit
// and content, every symlink's target and every folder, in name order.
// .git folders are left out. The result is "sha256:<hex>".
func HashDir(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if d.Name() == ".git" && p != dir {
				return filepath.SkipDir
			}
			io.WriteString(h, "D "+strconv.Quote(rel)+"\n")
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			io.WriteString(h, "L "+strconv.Quote(rel)+" "+strconv.Quote(target)+"\n")
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			fh := sha256.New()
			_, err = io.Copy(fh, f)
			f.Close()
			if err != nil {
				return err
			}
			exec := "-"
			if info.Mode()&0o111 != 0 {
				exec = "x"
			}
			io.WriteString(h, "F "+strconv.Quote(rel)+" "+exec+" "+hex.EncodeToString(fh.Sum(nil))+"\n")
		default:
			io.WriteString(h, "O "+strconv.Quote(rel)+" "+strings.ToLower(d.Type().String())+"\n")
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
