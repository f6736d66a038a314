//go:build !linux

package main

import "io"

// isTerminal is false off Linux: the views and progress bars that need a
// terminal fall back to plain lines.
func isTerminal(io.Writer) bool { return false }
