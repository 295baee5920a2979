package batch

import (
	"fmt"
	"strconv"
	"strings"
)

// Engine is a Docker Engine the batch grades on, with its own concurrency.
type Engine struct {
	Host  string // a DOCKER_HOST value; "" is the environment's own engine
	Slots int    // submissions graded on it at once
}

// ParseEngine reads an --engine value, HOST[=N]; N defaults to def.
func ParseEngine(s string, def int) (Engine, error) {
	host, n := s, def
	if i := strings.LastIndex(s, "="); i >= 0 {
		v, err := strconv.Atoi(s[i+1:])
		if err != nil || v < 1 {
			return Engine{}, fmt.Errorf("--engine %q: the concurrency after = must be a number ≥ 1", s)
		}
		host, n = s[:i], v
	}
	if strings.TrimSpace(host) == "" {
		return Engine{}, fmt.Errorf("--engine %q: give a DOCKER_HOST value, e.g. unix:///var/run/docker.sock or tcp://10.0.0.5:2376", s)
	}
	if !strings.Contains(host, "://") {
		return Engine{}, fmt.Errorf("--engine %q: a DOCKER_HOST value has a scheme (unix://, tcp://, ssh://)", s)
	}
	return Engine{Host: host, Slots: n}, nil
}

func (e Engine) String() string {
	if e.Host == "" {
		return "default engine"
	}
	return e.Host
}
