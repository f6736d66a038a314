package log

import (
	"io"
	"io/fs"
	"os"
)

// FS is the filesystem under the storage engine. Tests swap it to inject
// short writes and I/O errors and to simulate a crash that loses unsynced
// bytes (see faultfs.go).
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Remove(name string) error
	Rename(oldpath, newpath string) error
	MkdirAll(path string, perm os.FileMode) error
	ReadDir(name string) ([]fs.DirEntry, error)
	Stat(name string) (fs.FileInfo, error)
	// SyncDir fsyncs a directory so creates, renames and removes in it are durable.
	SyncDir(name string) error
}

// Preallocator is a File that can reserve disk blocks for [off, off+n)
// without changing its size (fallocate with FALLOC_FL_KEEP_SIZE on Linux).
// It is optional: the log reserves space ahead of appends where a File
// offers it, and appends plainly where it does not.
type Preallocator interface {
	Preallocate(off, n int64) error
}

// File is an open file. Readers use ReadAt only: the file position is never
// shared between concurrent readers.
type File interface {
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	// Fd returns the OS file descriptor for sendfile, or -1.
	Fd() int
	Name() string
}
