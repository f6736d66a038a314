package log

import (
	"os"
	"strings"
	"sync"
	"testing"
)

// fdFS counts the index files open at once.
type fdFS struct {
	FS
	mu   sync.Mutex
	open map[string]int
}

func (c *fdFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil || !(strings.Contains(name, indexSuffix) || strings.Contains(name, timeIndexSuffix)) {
		return f, err
	}
	c.mu.Lock()
	c.open[name]++
	c.mu.Unlock()
	return &fdFile{File: f, c: c, name: name}, nil
}

func (c *fdFS) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.open {
		n += v
	}
	return n
}

type fdFile struct {
	File
	c    *fdFS
	name string
}

func (f *fdFile) Close() error {
	f.c.mu.Lock()
	f.c.open[f.name]--
	f.c.mu.Unlock()
	return f.File.Close()
}

// TestActiveIndexesHoldNoDescriptor: the active segment's indexes live in
// memory and keep no file open, so a partition with one segment holds one
// descriptor (its .log); a sealed segment's indexes are open for lookups;
// lookups, a reopen and a truncation back into a sealed segment work.
func TestActiveIndexesHoldNoDescriptor(t *testing.T) {
	t.Parallel()
	c := &fdFS{FS: NewFaultFS(nil), open: map[string]int{}}
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 4096, IndexIntervalBytes: 1}
	l := openLog(t, dir, cfg, c, nil)
	for range 3 {
		mustAppend(t, l, buildBatch(spec{records: 2, value: 100}))
	}
	if got := c.count(); got != 0 {
		t.Fatalf("%d index files open with one segment, want 0", got)
	}
	for len(l.segs) < 3 {
		mustAppend(t, l, buildBatch(spec{records: 2, value: 1000}))
	}
	sealed := len(l.segs) - 1
	if got := c.count(); got != 2*sealed {
		t.Fatalf("%d index files open with %d sealed segments, want %d", got, sealed, 2*sealed)
	}
	end := l.EndOffset()
	mustClose(t, l)
	if got := c.count(); got != 0 {
		t.Fatalf("%d index files open after Close", got)
	}

	l = openLog(t, dir, cfg, c, nil)
	defer mustClose(t, l)
	if got := c.count(); got != 2*sealed {
		t.Fatalf("%d index files open after a reopen, want %d (the sealed segments')", got, 2*sealed)
	}
	// Every offset is found through the indexes, sealed and active.
	for off := int64(0); off < end; off += 2 {
		r, err := l.Read(off, 1, l.EndPosition(), true)
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		if r.FirstBatchOffset != off {
			t.Fatalf("read %d: first batch at %d", off, r.FirstBatchOffset)
		}
		if b := sliceBytes(t, r); len(b) == 0 {
			t.Fatalf("read %d: nothing", off)
		}
	}
	// Back into the first segment: its indexes become resident.
	if err := l.Truncate(2); err != nil {
		t.Fatal(err)
	}
	if got := c.count(); got != 0 {
		t.Fatalf("%d index files open after truncating into the first segment, want 0", got)
	}
	mustAppend(t, l, buildBatch(spec{records: 2, value: 100}))
	if got := l.EndOffset(); got != 4 {
		t.Fatalf("end %d after truncating to 2 and appending 2, want 4", got)
	}
}
