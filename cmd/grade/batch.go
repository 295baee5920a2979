package main

import (
	"fmt"
	"io"
)

// runBatch implements `grade batch`.
func runBatch(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "grade batch: not implemented yet")
	return 2
}

// runMerge implements `grade merge`.
func runMerge(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "grade merge: not implemented yet")
	return 2
}
