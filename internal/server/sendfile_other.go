//go:build !linux

package server

import (
	"errors"
	"syscall"
)

// sendfileSupported is false: regions are copied with ReadAt. Other kernels'
// sendfile variants differ in signature and semantics, and none is needed
// yet.
const sendfileSupported = false

func sendfile(syscall.RawConn, int, int64, int64) (int64, error) {
	return 0, errors.ErrUnsupported
}
