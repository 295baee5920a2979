package checks

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/gradelab/grade/grader/session"
)

// resolvedUser is the image's USER resolved to a numeric UID.
type resolvedUser struct {
	Spec string // as configured, e.g. "appuser" or "1000:1000"; "" means root
	Name string // user part
	UID  int
	// Known is false when the name is not in the image's /etc/passwd.
	Known bool
	// Via tells how the UID was found ("numeric", "/etc/passwd", "default").
	Via string
}

// resolveUser resolves a USER value through the image's own /etc/passwd,
// as the engine does when it starts a container. Numeric ids need no
// passwd file, which is how scratch images run as non-root.
func resolveUser(spec string, fsys *session.Filesystem) resolvedUser {
	u := resolvedUser{Spec: spec}
	name, _, _ := strings.Cut(spec, ":")
	u.Name = name
	if name == "" {
		u.UID, u.Known, u.Via = 0, true, "default"
		return u
	}
	if n, err := strconv.Atoi(name); err == nil {
		u.UID, u.Known, u.Via = n, true, "numeric"
		return u
	}
	data, err := fsys.ReadFile("/etc/passwd", 1<<20)
	if err != nil {
		return u
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) >= 3 && f[0] == name {
			if n, err := strconv.Atoi(f[2]); err == nil {
				u.UID, u.Known, u.Via = n, true, "/etc/passwd"
				return u
			}
		}
	}
	return u
}

func (u resolvedUser) String() string {
	switch u.Via {
	case "default":
		return "no USER (root, UID 0)"
	case "numeric":
		return fmt.Sprintf("USER %s (UID %d)", u.Spec, u.UID)
	}
	if !u.Known {
		return fmt.Sprintf("USER %s (not in the image's /etc/passwd)", u.Spec)
	}
	return fmt.Sprintf("USER %s (UID %d in /etc/passwd)", u.Spec, u.UID)
}
