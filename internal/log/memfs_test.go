package log

import (
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// memFS is an in-memory FS for fuzzing, where a real directory and its
// fsyncs would cost milliseconds per input. Paths are cleaned with path;
// directories exist implicitly.
type memFS struct {
	mu    sync.Mutex
	files map[string]*memData
}

type memData struct {
	mu   sync.Mutex
	data []byte
}

func newMemFS() *memFS { return &memFS{files: map[string]*memData{}} }

func (m *memFS) OpenFile(name string, flag int, _ os.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = path.Clean(name)
	d, ok := m.files[name]
	switch {
	case !ok && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		d = &memData{}
		m.files[name] = d
	case flag&os.O_TRUNC != 0:
		d.mu.Lock()
		d.data = nil
		d.mu.Unlock()
	}
	return &memFile{name: name, d: d}, nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = path.Clean(name)
	if _, ok := m.files[name]; ok {
		delete(m.files, name)
		return nil
	}
	for p := range m.files {
		if strings.HasPrefix(p, name+"/") {
			return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrExist}
		}
	}
	return nil // an implicit (empty) directory
}

func (m *memFS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.files[path.Clean(oldpath)]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldpath, Err: fs.ErrNotExist}
	}
	delete(m.files, path.Clean(oldpath))
	m.files[path.Clean(newpath)] = d
	return nil
}

func (m *memFS) MkdirAll(string, os.FileMode) error { return nil }
func (m *memFS) SyncDir(string) error               { return nil }

func (m *memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix := path.Clean(name) + "/"
	var out []fs.DirEntry
	for p, d := range m.files {
		if rest, ok := strings.CutPrefix(p, prefix); ok && !strings.Contains(rest, "/") {
			out = append(out, memInfo{rest, d.size()})
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

func (m *memFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.files[path.Clean(name)]; ok {
		return memInfo{path.Base(name), d.size()}, nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

func (d *memData) size() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return int64(len(d.data))
}

type memFile struct {
	name string
	d    *memData
	off  int64
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if off >= int64(len(f.d.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.d.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if need := off + int64(len(p)); need > int64(len(f.d.data)) {
		f.d.data = append(f.d.data, make([]byte, need-int64(len(f.d.data)))...)
	}
	return copy(f.d.data[off:], p), nil
}

func (f *memFile) Write(p []byte) (int, error) {
	n, err := f.WriteAt(p, f.off)
	f.off += int64(n)
	return n, err
}

func (f *memFile) Truncate(size int64) error {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if size <= int64(len(f.d.data)) {
		f.d.data = f.d.data[:size]
	} else {
		f.d.data = append(f.d.data, make([]byte, size-int64(len(f.d.data)))...)
	}
	return nil
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{path.Base(f.name), f.d.size()}, nil }
func (f *memFile) Sync() error                { return nil }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Fd() int                    { return -1 }
func (f *memFile) Name() string               { return f.name }

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string               { return i.name }
func (i memInfo) Size() int64                { return i.size }
func (i memInfo) Mode() fs.FileMode          { return 0o644 }
func (i memInfo) ModTime() time.Time         { return time.Time{} }
func (i memInfo) IsDir() bool                { return false }
func (i memInfo) Sys() any                   { return nil }
func (i memInfo) Type() fs.FileMode          { return 0 }
func (i memInfo) Info() (fs.FileInfo, error) { return i, nil }
