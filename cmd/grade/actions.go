package main

import (
	"io"

	"github.com/gradelab/grade/grader"
)

// githubActions publishes a report to GitHub Actions (step summary, step
// outputs, annotations). getenv reads the environment.
func githubActions(rep *grader.Report, getenv func(string) string, log io.Writer) error {
	return nil
}
