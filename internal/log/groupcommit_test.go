package log

import (
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// gateFS counts the fsyncs of segment files and can hold the next one
// until released, to line appends and flushes up against an fsync in
// progress.
type gateFS struct {
	FS
	syncs atomic.Int32
	mu    sync.Mutex
	hold  chan struct{} // non-nil: the next segment fsync waits for it to close
	in    chan struct{} // closed when that fsync began waiting
}

func (g *gateFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &gateFile{File: f, g: g}, nil
}

// holdNext makes the next segment fsync wait; it returns a channel closed
// once that fsync is waiting, and the function that lets it go on.
func (g *gateFS) holdNext() (waiting <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold, g.in = make(chan struct{}), make(chan struct{})
	hold := g.hold
	return g.in, func() { close(hold) }
}

type gateFile struct {
	File
	g *gateFS
}

func (f *gateFile) Sync() error {
	f.g.syncs.Add(1)
	f.g.mu.Lock()
	hold, in := f.g.hold, f.g.in
	f.g.hold, f.g.in = nil, nil
	f.g.mu.Unlock()
	if hold != nil {
		close(in)
		<-hold
	}
	return f.File.Sync()
}

// TestFlushToGroupCommit: with flush.messages=1, appends go on while an
// fsync runs, and the flushes of every batch appended meanwhile share one
// fsync; FlushBound counts a batch only once it is fsynced.
func TestFlushToGroupCommit(t *testing.T) {
	t.Parallel()
	ffs := NewFaultFS(nil)
	g := &gateFS{FS: ffs}
	l := openLog(t, t.TempDir(), Config{FlushMessages: 1}, g, nil)
	defer mustClose(t, l)
	deferred := AppendOptions{LogAppendTime: -1, DeferFlush: true}
	appendDue := func(n int) AppendResult {
		t.Helper()
		res, err := l.Append(buildBatch(spec{records: n}), deferred)
		if err != nil {
			t.Fatal(err)
		}
		if !res.FlushDue {
			t.Fatalf("append of %d records: FlushDue false with flush.messages=1", n)
		}
		return res
	}
	base := g.syncs.Load() // opening the log may have synced

	a := appendDue(2)
	if got := l.FlushBound(); got != 0 {
		t.Fatalf("FlushBound %d before any fsync, want 0", got)
	}
	waiting, release := g.holdNext()
	aDone := make(chan error)
	go func() { aDone <- l.FlushTo(a.LastOffset + 1) }()
	<-waiting

	// Appends do not wait for the fsync in progress.
	b := appendDue(3)
	c := appendDue(1)
	if got := l.FlushBound(); got != 0 {
		t.Fatalf("FlushBound %d during the first fsync, want 0", got)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, end := range []int64{b.LastOffset + 1, c.LastOffset + 1} {
		wg.Go(func() { errs[i] = l.FlushTo(end) })
	}
	release()
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := g.syncs.Load() - base; got != 2 {
		t.Fatalf("%d segment fsyncs for three flushed appends, want 2 (the held one, then one for both others)", got)
	}
	if got, want := l.FlushBound(), int64(6); got != want {
		t.Fatalf("FlushBound %d after the flushes, want %d", got, want)
	}
	if got, want := ffs.SyncedSize(l.segs[0].log.Name()), l.Size(); got != want {
		t.Fatalf("%d bytes synced, want the whole log's %d", got, want)
	}
	// Flushed already: no fsync.
	if err := l.FlushTo(6); err != nil || g.syncs.Load()-base != 2 {
		t.Fatalf("FlushTo of a flushed offset: %v, %d fsyncs", err, g.syncs.Load()-base)
	}

	// Without the policy asking, a batch counts at once.
	l.SetConfig(Config{})
	res, err := l.Append(buildBatch(spec{}), deferred)
	if err != nil || res.FlushDue {
		t.Fatalf("append without flush.messages: %+v, %v", res, err)
	}
	if got := l.FlushBound(); got != 7 {
		t.Fatalf("FlushBound %d, want the log end 7", got)
	}
}

// TestDuplicateWaitsForOriginalFlush: a producer's retry of a batch whose
// fsync has not happened yet is a duplicate that is FlushDue too, so its
// answer does not come before the original is durable.
func TestDuplicateWaitsForOriginalFlush(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{FlushMessages: 1}, NewFaultFS(nil), nil)
	defer mustClose(t, l)
	b := buildBatch(spec{records: 2, pid: 7, idem: true})
	opts := AppendOptions{LogAppendTime: -1, DeferFlush: true}
	first, err := l.Append(append([]byte(nil), b...), opts)
	if err != nil || !first.FlushDue || first.Duplicate {
		t.Fatalf("first append: %+v, %v", first, err)
	}
	retry, err := l.Append(append([]byte(nil), b...), opts)
	if err != nil || !retry.Duplicate || !retry.FlushDue || retry.LastOffset != first.LastOffset {
		t.Fatalf("retry before the fsync: %+v, %v; want a duplicate that is FlushDue", retry, err)
	}
	if err := l.FlushTo(first.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	retry, err = l.Append(append([]byte(nil), b...), opts)
	if err != nil || !retry.Duplicate || retry.FlushDue {
		t.Fatalf("retry after the fsync: %+v, %v; want a duplicate, not FlushDue", retry, err)
	}
}

// TestFlushBoundAfterTruncate: truncating below unflushed batches leaves
// nothing for the bound to wait on.
func TestFlushBoundAfterTruncate(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{FlushMessages: 1}, NewFaultFS(nil), nil)
	defer mustClose(t, l)
	opts := AppendOptions{LogAppendTime: -1, DeferFlush: true}
	if _, err := l.Append(buildBatch(spec{records: 2}), opts); err != nil {
		t.Fatal(err)
	}
	if err := l.FlushTo(2); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(buildBatch(spec{records: 3}), opts); err != nil {
		t.Fatal(err)
	}
	if got := l.FlushBound(); got != 2 {
		t.Fatalf("FlushBound %d with offsets 2-4 unflushed, want 2", got)
	}
	if err := l.Truncate(2); err != nil {
		t.Fatal(err)
	}
	if got := l.FlushBound(); got != 2 {
		t.Fatalf("FlushBound %d after truncating to 2, want 2", got)
	}
	res, err := l.Append(buildBatch(spec{records: 1}), opts)
	if err != nil || !res.FlushDue || res.BaseOffset != 2 {
		t.Fatalf("append after the truncation: %+v, %v", res, err)
	}
	if got := l.FlushBound(); got != 2 {
		t.Fatalf("FlushBound %d before the new batch's fsync, want 2", got)
	}
	if err := l.FlushTo(3); err != nil {
		t.Fatal(err)
	}
	if got := l.FlushBound(); got != 3 {
		t.Fatalf("FlushBound %d after it, want 3", got)
	}
}
