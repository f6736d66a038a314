package log

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrInjected is the error a FaultFS returns for an injected fault that
// names no error of its own.
var ErrInjected = errors.New("log: injected fault")

// errCrashed is returned by a FaultFS file handle that was open across a
// simulated crash: the process that held it is, in the model, dead.
var errCrashed = errors.New("log: faultfs: file handle from before the crash")

// FaultFS wraps an FS for tests: it fails chosen writes and syncs, and it
// simulates a power loss that drops every byte not yet fsynced.
//
// The model: a write reaches the page cache at once (readers see it), and
// becomes durable when its file is fsynced. Crash truncates every file the
// FaultFS has seen to its durable length. It models data loss only, not
// the loss of directory entries: creates, renames and removes count as
// durable at once, so it does not catch a missing SyncDir.
type FaultFS struct {
	inner FS

	mu           sync.Mutex
	files        map[string]*faultState // by path
	open         map[*faultFile]struct{}
	writeFaults  []*WriteFault
	syncFaults   []pathFault
	renameFaults []pathFault
}

// faultState is what FaultFS knows of one file; renames move it.
type faultState struct {
	synced int64 // length that survives a crash
}

// WriteFault describes a write to fail.
type WriteFault struct {
	// Match selects files whose base name contains it; "" matches all.
	Match string
	// Nth makes the Nth matching write from now fail, once (1 = the next
	// one). 0 fails every matching write until ClearFaults.
	Nth int
	// Partial is how many bytes of the failing write still reach the file
	// (a short write); 0 writes none.
	Partial int
	// Err is the error returned; nil means ErrInjected.
	Err error

	seen int
}

// pathFault fails an operation on files whose base name contains match.
type pathFault struct {
	match string
	err   error
}

// NewFaultFS wraps inner (nil: the OS filesystem).
func NewFaultFS(inner FS) *FaultFS {
	if inner == nil {
		inner = OSFS()
	}
	return &FaultFS{
		inner: inner,
		files: map[string]*faultState{},
		open:  map[*faultFile]struct{}{},
	}
}

// InjectWrite arms a write fault.
func (f *FaultFS) InjectWrite(w WriteFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.seen = 0
	f.writeFaults = append(f.writeFaults, &w)
}

// InjectSync makes every Sync of a file whose base name contains match
// ("" = all) fail with err (nil: ErrInjected) until ClearFaults. A failed
// Sync makes nothing durable.
func (f *FaultFS) InjectSync(match string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncFaults = append(f.syncFaults, pathFault{match, err})
}

// InjectRename makes every Rename whose old or new base name contains
// match ("" = all) fail with err (nil: ErrInjected), renaming nothing,
// until ClearFaults.
func (f *FaultFS) InjectRename(match string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renameFaults = append(f.renameFaults, pathFault{match, err})
}

// ClearFaults disarms every injected fault.
func (f *FaultFS) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeFaults = nil
	f.syncFaults = nil
	f.renameFaults = nil
}

// Crash simulates a power loss: every open handle dies and every file is
// cut back to the length it had at its last successful Sync.
func (f *FaultFS) Crash() error { return f.crash(nil) }

// CrashTorn is Crash, except that each file keeps a random prefix (chosen
// by seed) of its unsynced tail, as a disk that wrote some sectors of a
// write before the power went does.
func (f *FaultFS) CrashTorn(seed uint64) error {
	return f.crash(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
}

func (f *FaultFS) crash(rnd *rand.Rand) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.open {
		h.dead, h.why = true, errCrashed
		h.inner.Close()
	}
	clear(f.open)
	var errs []error
	for path, st := range f.files {
		fi, err := f.inner.Stat(path)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		size := fi.Size()
		if size <= st.synced {
			st.synced = size
			continue
		}
		keep := st.synced
		if rnd != nil {
			keep += rnd.Int64N(size - st.synced + 1)
		}
		h, err := f.inner.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := h.Truncate(keep); err != nil {
			errs = append(errs, err)
		}
		h.Close()
		// What is on disk after the reboot is, by definition, durable.
		st.synced = keep
	}
	return errors.Join(errs...)
}

// SyncedSize reports the durable length FaultFS tracks for name, or -1.
func (f *FaultFS) SyncedSize(name string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.files[name]; ok {
		return st.synced
	}
	return -1
}

func (f *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, statErr := f.inner.Stat(name)
	existed := statErr == nil
	h, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	st, ok := f.files[name]
	switch {
	case !ok && existed && flag&os.O_TRUNC == 0:
		// A file from before this FaultFS saw it: treat it as durable.
		fi, err := h.Stat()
		if err != nil {
			h.Close()
			return nil, err
		}
		st = &faultState{synced: fi.Size()}
	case !ok:
		st = &faultState{}
	case flag&os.O_TRUNC != 0:
		st.synced = 0
	}
	f.files[name] = st
	ff := &faultFile{fs: f, inner: h, state: st, base: filepath.Base(name)}
	f.open[ff] = struct{}{}
	return ff, nil
}

func (f *FaultFS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.inner.Remove(name); err != nil {
		return err
	}
	delete(f.files, name)
	return nil
}

func (f *FaultFS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.renameFaults {
		if strings.Contains(filepath.Base(oldpath), r.match) || strings.Contains(filepath.Base(newpath), r.match) {
			if r.err == nil {
				return ErrInjected
			}
			return r.err
		}
	}
	if err := f.inner.Rename(oldpath, newpath); err != nil {
		return err
	}
	if st, ok := f.files[oldpath]; ok {
		f.files[newpath] = st
		delete(f.files, oldpath)
	} else {
		delete(f.files, newpath)
	}
	return nil
}

func (f *FaultFS) MkdirAll(path string, perm os.FileMode) error { return f.inner.MkdirAll(path, perm) }
func (f *FaultFS) ReadDir(name string) ([]fs.DirEntry, error)   { return f.inner.ReadDir(name) }
func (f *FaultFS) Stat(name string) (fs.FileInfo, error)        { return f.inner.Stat(name) }
func (f *FaultFS) SyncDir(name string) error                    { return f.inner.SyncDir(name) }

// writeFault decides the fate of one write of n bytes to the file named
// base: how many bytes to let through and the error to return.
func (f *FaultFS) writeFault(base string, n int) (int, error) {
	for i, w := range f.writeFaults {
		if !strings.Contains(base, w.Match) {
			continue
		}
		if w.Nth > 0 {
			w.seen++
			if w.seen < w.Nth {
				continue
			}
			f.writeFaults = append(f.writeFaults[:i:i], f.writeFaults[i+1:]...)
		}
		err := w.Err
		if err == nil {
			err = ErrInjected
		}
		return min(max(w.Partial, 0), n), err
	}
	return n, nil
}

func (f *FaultFS) syncFault(base string) error {
	for _, s := range f.syncFaults {
		if strings.Contains(base, s.match) {
			if s.err == nil {
				return ErrInjected
			}
			return s.err
		}
	}
	return nil
}

type faultFile struct {
	fs    *FaultFS
	inner File
	state *faultState
	base  string
	dead  bool // guarded by fs.mu: closed, or open across a crash
	why   error
}

// check returns errCrashed for a handle that outlived a crash. The lock is
// held only for the check: reads never serialise on the FaultFS.
func (h *faultFile) check() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.dead {
		return h.why
	}
	return nil
}

func (h *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := h.check(); err != nil {
		return 0, err
	}
	return h.inner.ReadAt(p, off)
}

func (h *faultFile) Write(p []byte) (int, error) {
	return h.write(p, func(b []byte) (int, error) { return h.inner.Write(b) })
}

func (h *faultFile) WriteAt(p []byte, off int64) (int, error) {
	return h.write(p, func(b []byte) (int, error) { return h.inner.WriteAt(b, off) })
}

func (h *faultFile) write(p []byte, do func([]byte) (int, error)) (int, error) {
	h.fs.mu.Lock()
	if h.dead {
		h.fs.mu.Unlock()
		return 0, h.why
	}
	n, ferr := h.fs.writeFault(h.base, len(p))
	h.fs.mu.Unlock()
	if ferr == nil {
		return do(p)
	}
	if n > 0 {
		m, err := do(p[:n])
		if err != nil {
			return m, err
		}
		if m < n {
			return m, io.ErrShortWrite
		}
	}
	return n, ferr
}

func (h *faultFile) Sync() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.dead {
		return h.why
	}
	if err := h.fs.syncFault(h.base); err != nil {
		return err
	}
	if err := h.inner.Sync(); err != nil {
		return err
	}
	fi, err := h.inner.Stat()
	if err != nil {
		return err
	}
	h.state.synced = fi.Size()
	return nil
}

func (h *faultFile) Truncate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.dead {
		return h.why
	}
	if err := h.inner.Truncate(size); err != nil {
		return err
	}
	// A truncate that is lost in a crash could bring bytes back; the model
	// keeps it simple and treats shrinking as durable at once.
	h.state.synced = min(h.state.synced, size)
	return nil
}

func (h *faultFile) Stat() (fs.FileInfo, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	return h.inner.Stat()
}

func (h *faultFile) Close() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.dead {
		return nil
	}
	delete(h.fs.open, h)
	h.dead, h.why = true, os.ErrClosed
	return h.inner.Close()
}

func (h *faultFile) Fd() int      { return h.inner.Fd() }
func (h *faultFile) Name() string { return h.inner.Name() }
