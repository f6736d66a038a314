//go:build linux

package server

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"golang.org/x/sys/unix"
)

const sendfileSupported = true

// maxSendfileChunk keeps each call under Linux's per-call limit of
// 0x7ffff000 bytes.
const maxSendfileChunk = 1 << 30

// sendfile writes n bytes of the file fd, starting at off, to the socket
// behind rc. It passes the offset explicitly, so the file's shared position
// is neither used nor moved: concurrent fetches of one segment on other
// connections cannot interfere. (Go's TCPConn.ReadFrom(*os.File) uses that
// position, so they would.)
//
// It returns the bytes written. An error wraps errors.ErrUnsupported when
// the kernel cannot sendfile from fd and nothing was written.
func sendfile(rc syscall.RawConn, fd int, off, n int64) (int64, error) {
	var written int64
	var serr error
	err := rc.Write(func(sock uintptr) bool {
		for written < n {
			m, err := unix.Sendfile(int(sock), fd, &off, int(min(n-written, maxSendfileChunk)))
			if m > 0 { // m is -1 on error; the kernel has advanced off by m
				written += int64(m)
			}
			switch {
			case err == unix.EAGAIN:
				return false // socket buffer full: wait until writable
			case err == unix.EINTR:
			case err != nil:
				if written == 0 && (err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP) {
					err = fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
				}
				serr = err
				return true
			case m == 0:
				// The file ends before the region does.
				serr = io.ErrUnexpectedEOF
				return true
			}
		}
		return true
	})
	if serr != nil {
		return written, serr
	}
	return written, err
}
