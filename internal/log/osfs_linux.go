package log

import "golang.org/x/sys/unix"

// Preallocate reserves blocks for [off, off+n) beyond the file's size,
// which stays as it is.
func (f osFile) Preallocate(off, n int64) error {
	return unix.Fallocate(int(f.File.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
}
