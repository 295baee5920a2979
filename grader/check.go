// Package grader is the engine of grade: it defines what a check is, runs a
// lab's checks against one submission, scores them and builds the Report that
// every output format is rendered from.
//
// The package never imports a lab's checks; labs (package checks) import it.
package grader

// Status is the verdict of one check, as in the contract.
type Status string

// The four statuses of the contract.
const (
	StatusPass  Status = "pass"  // the evidence shows the requirement is met
	StatusFail  Status = "fail"  // the student's work does not meet it
	StatusSkip  Status = "skip"  // not applicable, or a prerequisite failed
	StatusError Status = "error" // the grader or the environment failed, not the student
)

// Artifact names something a check needs the driver to prepare before the
// check runs. The driver makes each artifact once per submission; when an
// artifact cannot be made, every check requiring it is skipped (or marked
// error when the environment, not the student, is to blame), except the
// check that owns the artifact and reports why.
type Artifact int

// Artifacts of the primary Dockerfile (Lab.Dockerfile), in the order they are made.
const (
	ArtifactDockerfile Artifact = iota + 1 // the parsed Dockerfile
	ArtifactImage                          // the built and inspected image
	ArtifactFilesystem                     // the image's flattened filesystem
	ArtifactContainer                      // the started container, answering HTTP
)

func (a Artifact) String() string {
	switch a {
	case ArtifactDockerfile:
		return "Dockerfile"
	case ArtifactImage:
		return "image"
	case ArtifactFilesystem:
		return "image filesystem"
	case ArtifactContainer:
		return "running container"
	}
	return "artifact"
}

// A Check is one unit of grading: a requirement of the lab and the code that
// gathers evidence for it. Checks are values; a Lab lists them.
type Check struct {
	// ID is the stable identifier of the contract, e.g. "image.size".
	ID string
	// Title is the one-line name shown on the scorecard.
	Title string
	// Doc explains what the check verifies and why, for the README and --help.
	Doc string
	// Checkpoint is the lab's checkpoint number this check evidences, 0 for none.
	Checkpoint int
	// Points is what a pass is worth.
	Points int
	// Bonus marks an optional check: not required, scored separately.
	Bonus bool
	// Requires lists the artifacts that must exist before Run is called.
	Requires []Artifact
	// Owns is the artifact whose failure this check reports itself (it is not
	// skipped when that artifact fails). Zero when none.
	Owns Artifact
	// Run gathers the evidence and returns the verdict.
	Run func(*Pass) Outcome
}

// Required reports whether the check counts towards "passed".
func (c *Check) Required() bool { return !c.Bonus }

// Outcome is what a check's Run returns.
type Outcome struct {
	Status  Status
	Message string // what was seen (the evidence)
	Hint    string // what to change, in the lab's words; empty on pass
	File    string // file the outcome is about (e.g. "Dockerfile.multistage"), optional
	Line    int    // line in File, 0 when none
}

// Passed returns a passing outcome with the evidence in msg.
func Passed(msg string) Outcome { return Outcome{Status: StatusPass, Message: msg} }

// Failed returns a failing outcome: what was seen and what to change.
func Failed(msg, hint string) Outcome {
	return Outcome{Status: StatusFail, Message: msg, Hint: hint}
}

// Skipped returns a skip: the check does not apply, with the reason.
func Skipped(msg string) Outcome { return Outcome{Status: StatusSkip, Message: msg} }

// Errored returns an error outcome: the grader or the environment failed.
func Errored(msg string) Outcome { return Outcome{Status: StatusError, Message: msg} }

// At returns the outcome attributed to a line of a file.
func (o Outcome) At(file string, line int) Outcome {
	o.File, o.Line = file, line
	return o
}

// Checkpoint is one item of the lab's own checkpoint list.
type Checkpoint struct {
	N     int
	Title string
}

// Lab is a gradable lab: its checkpoints, its checks in scorecard order and
// the Dockerfiles it builds.
type Lab struct {
	ID          string // e.g. "multistage"
	Title       string // e.g. "Lab 2: Multi-Stage Build Migration"
	Dockerfile  string // the primary Dockerfile, e.g. "Dockerfile.multistage"
	Baseline    string // the single-stage Dockerfile compared against with --baseline
	SizeLimit   int64  // bytes
	Port        int    // container port the app must answer on
	Checkpoints []Checkpoint
	Checks      []*Check
}
