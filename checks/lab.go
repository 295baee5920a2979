// Package checks is the "Multi-Stage Build Migration" lab: one small,
// documented check per requirement of the contract, and the Lab that lists
// them in scorecard order.
package checks

import "github.com/gradelab/grade/grader"

// Multistage is Lab 2: Multi-Stage Build Migration.
var Multistage = &grader.Lab{
	ID:         "multistage",
	Title:      "Lab 2: Multi-Stage Build Migration",
	Dockerfile: "Dockerfile.multistage",
	Baseline:   "Dockerfile",
	SizeLimit:  20_000_000,
	Port:       8080,
	Checkpoints: []grader.Checkpoint{
		{N: 1, Title: "Multi-stage builds use multiple FROM statements"},
		{N: 2, Title: "Earlier stages can build artifacts"},
		{N: 3, Title: "COPY --from=<stage> copies files between stages"},
		{N: 4, Title: "Only the final stage becomes the image"},
		{N: 5, Title: "Build stages can use different base images"},
		{N: 6, Title: "Static binaries (CGO_ENABLED=0) enable minimal base images"},
		{N: 7, Title: "scratch is the ultimate minimal base (0MB)"},
	},
	Checks: append(append([]*grader.Check{}, Dockerfile...),
		ImageBuild,
		ImageSize,
		ImageNoToolchain,
		ImageStaticBinary,
		ImageNonRoot,
		RuntimeStart,
		RuntimeNonRoot,
		RuntimeHealth,
		RuntimeInfo,
		RuntimeEcho,
		BonusScratch,
	),
}
