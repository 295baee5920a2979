package grader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testLab() *Lab {
	return &Lab{ID: "t", SizeLimit: 20, Checks: []*Check{
		{ID: "a.one", Points: 5},
		{ID: "a.two", Points: 10},
		{ID: "bonus.x", Points: 10, Bonus: true},
	}}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "grade.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigApply(t *testing.T) {
	lab := testLab()
	cfg, err := LoadConfig(writeConfig(t, `
points: {a.two: 20}
required: [a.one]
size_limit: 1000
build_timeout: 2m
start_timeout: 7s
skip: [bonus.x]
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	got, err := cfg.Apply(lab, &opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.Checks[1].Points != 20 || lab.Checks[1].Points != 10 {
		t.Errorf("points: copy has %d (want 20), original %d (want 10 untouched)", got.Checks[1].Points, lab.Checks[1].Points)
	}
	if got.Checks[0].Bonus || !got.Checks[1].Bonus {
		t.Errorf("required: a.one required=%v a.two required=%v, want true/false", !got.Checks[0].Bonus, !got.Checks[1].Bonus)
	}
	if got.SizeLimit != 1000 || lab.SizeLimit != 20 {
		t.Errorf("size limit %d (original %d)", got.SizeLimit, lab.SizeLimit)
	}
	if opts.BuildTimeout != 2*time.Minute || opts.StartTimeout != 7*time.Second || opts.ProbeTimeout != DefaultOptions().ProbeTimeout {
		t.Errorf("timeouts %v %v %v", opts.BuildTimeout, opts.StartTimeout, opts.ProbeTimeout)
	}
	if opts.selected("bonus.x") || !opts.selected("a.one") {
		t.Error("skip not applied")
	}
}

func TestConfigRejects(t *testing.T) {
	for name, text := range map[string]string{
		"unknown key":      "size_limt: 5\n",
		"unknown check":    "points: {image.sise: 3}\n",
		"unknown only":     "only: [nope]\n",
		"negative points":  "points: {a.one: -1}\n",
		"negative timeout": "start_timeout: -1s\n",
		"not a duration":   "build_timeout: soon\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := LoadConfig(writeConfig(t, text))
			if err == nil {
				opts := DefaultOptions()
				_, err = cfg.Apply(testLab(), &opts)
			}
			if err == nil {
				t.Fatalf("%q accepted", text)
			}
			if strings.Contains(err.Error(), "\n") && !strings.Contains(name, "key") && !strings.Contains(name, "duration") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestEmptyConfigChangesNothing(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	got, err := cfg.Apply(testLab(), &opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range got.Checks {
		want := testLab().Checks[i]
		if c.Points != want.Points || c.Bonus != want.Bonus {
			t.Errorf("%s changed: %+v", c.ID, c)
		}
	}
	if opts.BuildTimeout != DefaultOptions().BuildTimeout {
		t.Error("timeout changed")
	}
}
