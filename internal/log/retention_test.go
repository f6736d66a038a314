package log

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/record"
)

// timers is a fake Options.AfterFunc on a test clock: advance moves the
// clock and runs the functions whose time has come.
type timers struct {
	clk     *clock
	mu      sync.Mutex
	pending []*fakeTimer
}

type fakeTimer struct {
	due           int64
	f             func()
	stopped, done bool
}

func newTimers(clk *clock) *timers { return &timers{clk: clk} }

func (ts *timers) afterFunc(d time.Duration, f func()) func() bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := &fakeTimer{due: ts.clk.ms.Load() + d.Milliseconds(), f: f}
	ts.pending = append(ts.pending, t)
	return func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if t.done || t.stopped {
			return false
		}
		t.stopped = true
		return true
	}
}

func (ts *timers) advance(d time.Duration) {
	ts.clk.advance(d)
	now := ts.clk.ms.Load()
	ts.mu.Lock()
	var due []*fakeTimer
	keep := ts.pending[:0]
	for _, t := range ts.pending {
		switch {
		case t.stopped:
		case t.due <= now:
			t.done = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	ts.pending = keep
	ts.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// armed counts timers neither fired nor stopped.
func (ts *timers) armed() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := 0
	for _, t := range ts.pending {
		if !t.stopped {
			n++
		}
	}
	return n
}

// retentionLog opens a log whose segments hold two one-record batches
// each, on the OS filesystem, with the clock at baseTS and fake timers.
func retentionLog(t *testing.T, dir string, delayMs int64) (*Log, *timers) {
	t.Helper()
	ts := newTimers(newClock())
	one := int64(len(buildBatch(spec{})))
	l, err := Open(dir, Options{
		Config:    Config{SegmentBytes: 2 * one, FileDeleteDelayMs: delayMs},
		Logger:    quietLogger,
		Now:       ts.clk.now,
		AfterFunc: ts.afterFunc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, ts
}

// appendTimes appends one one-record batch per timestamp.
func appendTimes(t *testing.T, l *Log, tss ...int64) {
	t.Helper()
	for _, ts := range tss {
		mustAppend(t, l, buildBatch(spec{ts: ts}))
	}
}

// deletedFiles lists the *.deleted names in dir, sorted.
func deletedFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if filepath.Ext(e.Name()) == deletedSuffix {
			out = append(out, e.Name())
		}
	}
	return out
}

// retiredNames are the files a retired segment leaves, as deletedFiles
// lists them.
func retiredNames(bases ...int64) []string {
	var out []string
	for _, b := range bases {
		for _, suffix := range []string{indexSuffix, logSuffix, timeIndexSuffix} {
			out = append(out, segmentFileName(b, suffix+deletedSuffix))
		}
	}
	slices.Sort(out)
	return out
}

func mustDeleteOld(t *testing.T, l *Log, now time.Time, ms, bytes, hw int64, want int) {
	t.Helper()
	n, err := l.DeleteOldSegments(now, ms, bytes, hw)
	if err != nil {
		t.Fatalf("DeleteOldSegments: %v", err)
	}
	if n != want {
		t.Fatalf("DeleteOldSegments(ms %d, bytes %d, hw %d) deleted %d segments, want %d", ms, bytes, hw, n, want)
	}
}

func checkStart(t *testing.T, l *Log, dir string, start int64, bases ...int64) {
	t.Helper()
	if got := l.StartOffset(); got != start {
		t.Fatalf("log start %d, want %d", got, start)
	}
	if got := segmentBases(t, dir); !slices.Equal(got, bases) {
		t.Fatalf("segments %v, want %v", got, bases)
	}
	if _, err := l.Read(start-1, 1<<20, l.EndPosition(), false); start > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read(%d) below the start: %v, want ErrOffsetOutOfRange", start-1, err)
	}
	r, err := l.Read(start, 1<<20, l.EndPosition(), false)
	if err != nil {
		t.Fatalf("Read(%d) at the start: %v", start, err)
	}
	bs := splitBatches(t, sliceBytes(t, r))
	if start == l.EndOffset() {
		if len(bs) != 0 {
			t.Fatalf("Read(%d) at the start, which is the end: %d batches, want none", start, len(bs))
		}
		return
	}
	if len(bs) == 0 || header(t, bs[0]).BaseOffset != start {
		t.Fatalf("Read(%d) at the start: %d batches, first %v", start, len(bs), bs)
	}
}

// TestDeleteOldSegmentsByTime: a segment goes once its newest timestamp
// is more than retention.ms old, oldest first, stopping at the first one
// that must stay; the active segment goes too once every record is past
// retention (TestRetentionRollsExpiredActiveSegment).
func TestDeleteOldSegmentsByTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, ts := retentionLog(t, dir, 0)
	defer l.Close()
	const minute = int64(time.Minute / time.Millisecond)
	old, young := int64(baseTS), baseTS+40*minute
	// Segments 0 and 2 old, 4 young, 6 old, 8 (active) old.
	appendTimes(t, l, old, old, old, old+5*minute, young, young-1, old, old, old, old)
	hw := l.EndOffset()
	ts.clk.ms.Store(baseTS + 60*minute)
	now := ts.clk.now()

	mustDeleteOld(t, l, now, -1, -1, hw, 0)
	// Segment 2's newest record is 55 minutes old: retention.ms 55
	// minutes keeps it (Kafka deletes only when the age exceeds it).
	mustDeleteOld(t, l, now, 55*minute, -1, hw, 1)
	checkStart(t, l, dir, 2, 2, 4, 6, 8)
	// Segment 4 is 20 minutes old and stops the scan: segment 6 behind
	// it, though expired, stays.
	mustDeleteOld(t, l, now, 30*minute, -1, hw, 1)
	checkStart(t, l, dir, 4, 4, 6, 8)

	// With the high watermark below the log end, the active segment
	// (8, old) stays however old.
	ts.advance(time.Hour)
	mustDeleteOld(t, l, ts.clk.now(), 30*minute, -1, hw-1, 2)
	checkStart(t, l, dir, 8, 8)
	if got := deletedFiles(t, dir); len(got) != 0 {
		t.Fatalf("with file.delete.delay.ms 0, left %v", got)
	}
	if got, want := len(readAll(t, l)), 2; got != want {
		t.Fatalf("%d batches readable, want %d", got, want)
	}
}

// TestRetentionRollsExpiredActiveSegment: when every record is past
// retention.ms and the high watermark is the log end, the log rolls and
// the old active segment goes too, as in Kafka, so an idle partition
// keeps no expired records; the log start moves to the log end, which
// stays where it was, and survives a restart. An empty active segment is
// not rolled again.
func TestRetentionRollsExpiredActiveSegment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, ts := retentionLog(t, dir, 0)
	const minute = int64(time.Minute / time.Millisecond)
	// Segments 0 and 2 closed, 4 active with one record.
	appendTimes(t, l, baseTS, baseTS, baseTS, baseTS, baseTS+10*minute)
	ts.clk.ms.Store(baseTS + 60*minute)
	now := ts.clk.now()

	// The active segment's newest record is 50 minutes old: retention.ms
	// of 50 minutes keeps it, and the closed segments go.
	mustDeleteOld(t, l, now, 50*minute, -1, 5, 2)
	checkStart(t, l, dir, 4, 4)
	// Past retention, but the high watermark is below the log end: the
	// active segment holds records not yet replicated, and stays.
	mustDeleteOld(t, l, now, 40*minute, -1, 4, 0)
	checkStart(t, l, dir, 4, 4)

	mustDeleteOld(t, l, now, 40*minute, -1, 5, 1)
	checkStart(t, l, dir, 5, 5)
	if got := l.EndOffset(); got != 5 {
		t.Fatalf("log end %d after the roll, want 5", got)
	}
	if got := l.Size(); got != 0 {
		t.Fatalf("size %d after deleting every record, want 0", got)
	}
	if got := deletedFiles(t, dir); len(got) != 0 {
		t.Fatalf("with file.delete.delay.ms 0, left %v", got)
	}
	// The new active segment is empty: nothing to delete, no roll.
	mustDeleteOld(t, l, now, 0, 0, 5, 0)
	checkStart(t, l, dir, 5, 5)

	// The next append goes on at the old end, in the new segment.
	if res := mustAppend(t, l, buildBatch(spec{ts: baseTS + 60*minute})); res.BaseOffset != 5 {
		t.Fatalf("append after the roll at offset %d, want 5", res.BaseOffset)
	}
	checkStart(t, l, dir, 5, 5)
	abandon(l)

	l, _ = retentionLog(t, dir, 0)
	defer l.Close()
	checkStart(t, l, dir, 5, 5)
	if got := l.EndOffset(); got != 6 {
		t.Fatalf("log end %d after a restart, want 6", got)
	}
}

// TestDeleteOldSegmentsBySize: while the log less its oldest segment is
// at least retention.bytes, that segment goes; with retention.bytes 0
// that includes the active one, as in Kafka.
func TestDeleteOldSegmentsBySize(t *testing.T) {
	t.Parallel()
	one := int64(len(buildBatch(spec{})))
	for _, tc := range []struct {
		bytes     int64
		deleted   int
		start     int64
		bases     []int64
		remaining int64 // bytes
	}{
		{bytes: -1, deleted: 0, start: 0, bases: []int64{0, 2, 4, 6, 8}, remaining: 9 * one},
		{bytes: 9 * one, deleted: 0, start: 0, bases: []int64{0, 2, 4, 6, 8}, remaining: 9 * one},
		{bytes: 8 * one, deleted: 0, start: 0, bases: []int64{0, 2, 4, 6, 8}, remaining: 9 * one},
		{bytes: 7 * one, deleted: 1, start: 2, bases: []int64{2, 4, 6, 8}, remaining: 7 * one},
		{bytes: 5 * one, deleted: 2, start: 4, bases: []int64{4, 6, 8}, remaining: 5 * one},
		{bytes: 4 * one, deleted: 2, start: 4, bases: []int64{4, 6, 8}, remaining: 5 * one},
		{bytes: 1, deleted: 4, start: 8, bases: []int64{8}, remaining: one},
		{bytes: 0, deleted: 5, start: 9, bases: []int64{9}, remaining: 0},
	} {
		t.Run(fmt.Sprint(tc.bytes), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l, ts := retentionLog(t, dir, 0)
			defer l.Close()
			// Timestamps in the future: retention.ms alone would keep all.
			appendTimes(t, l, slices.Repeat([]int64{baseTS + 1e9}, 9)...)
			mustDeleteOld(t, l, ts.clk.now(), 1, tc.bytes, l.EndOffset(), tc.deleted)
			checkStart(t, l, dir, tc.start, tc.bases...)
			if got := l.Size(); got != tc.remaining {
				t.Fatalf("size %d, want %d", got, tc.remaining)
			}
		})
	}
}

// TestDeleteOldSegmentsStopsAtHighWatermark: a segment goes only if its
// successor starts at or below the high watermark, so the log start never
// passes it.
func TestDeleteOldSegmentsStopsAtHighWatermark(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		hw      int64
		deleted int
		start   int64
	}{
		{hw: 0, deleted: 0, start: 0},
		{hw: 1, deleted: 0, start: 0},
		{hw: 2, deleted: 1, start: 2},
		{hw: 3, deleted: 1, start: 2},
		{hw: 4, deleted: 2, start: 4},
		{hw: 5, deleted: 2, start: 4},
		{hw: 6, deleted: 3, start: 6},
		{hw: 7, deleted: 3, start: 6}, // the active segment 6 ends above it
		{hw: 8, deleted: 4, start: 8}, // the log end: the active segment goes too
	} {
		t.Run(fmt.Sprint(tc.hw), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l, ts := retentionLog(t, dir, 0)
			defer l.Close()
			appendTimes(t, l, slices.Repeat([]int64{baseTS}, 8)...)
			mustDeleteOld(t, l, ts.clk.now(), -1, 0, tc.hw, tc.deleted)
			if got := l.StartOffset(); got != tc.start {
				t.Fatalf("log start %d, want %d", got, tc.start)
			}
		})
	}
}

// TestDeletedSegmentFilesWaitForDelayAndReaders: a deleted segment's files
// are renamed *.deleted at once and removed only when file.delete.delay.ms
// has passed and no reader holds them, in whichever order those happen; a
// reader holding a slice of a deleted segment reads it whole.
func TestDeletedSegmentFilesWaitForDelayAndReaders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const delay = time.Minute
	l, ts := retentionLog(t, dir, delay.Milliseconds())
	defer l.Close()
	var batches [][]byte // as stored: Append writes the offsets in
	for range 8 {
		b := buildBatch(spec{})
		mustAppend(t, l, b)
		batches = append(batches, b)
	}
	hw := l.EndOffset()
	held0, err := l.Read(0, 1<<20, l.EndPosition(), false) // segment 0, both batches
	if err != nil {
		t.Fatal(err)
	}

	mustDeleteOld(t, l, ts.clk.now(), -1, 6*int64(len(batches[0])), hw, 1) // segment 0
	if got, want := deletedFiles(t, dir), retiredNames(0); !slices.Equal(got, want) {
		t.Fatalf("after deleting segment 0: %v, want %v", got, want)
	}
	ts.advance(delay / 2)
	mustDeleteOld(t, l, ts.clk.now(), -1, 2*int64(len(batches[0])), hw, 2) // segments 2 and 4
	if got, want := deletedFiles(t, dir), retiredNames(0, 2, 4); !slices.Equal(got, want) {
		t.Fatalf("after deleting segments 2 and 4: %v, want %v", got, want)
	}

	// Held past its delay, segment 0 stays and reads whole.
	ts.advance(delay/2 - time.Millisecond)
	if got, want := deletedFiles(t, dir), retiredNames(0, 2, 4); !slices.Equal(got, want) {
		t.Fatalf("1ms before segment 0's delay: %v, want %v", got, want)
	}
	ts.advance(time.Millisecond)
	if got, want := deletedFiles(t, dir), retiredNames(0, 2, 4); !slices.Equal(got, want) {
		t.Fatalf("segment 0 held past its delay: %v, want %v", got, want)
	}
	got := splitBatches(t, sliceBytes(t, held0)) // releases it
	equalBatches(t, got, batches[:2])
	if got, want := deletedFiles(t, dir), retiredNames(2, 4); !slices.Equal(got, want) {
		t.Fatalf("segment 0 released after its delay: %v, want %v", got, want)
	}

	// Unheld, segments 2 and 4 wait out their delay.
	ts.advance(delay/2 - time.Millisecond)
	if got, want := deletedFiles(t, dir), retiredNames(2, 4); !slices.Equal(got, want) {
		t.Fatalf("1ms before segment 2's delay: %v, want %v", got, want)
	}
	ts.advance(time.Millisecond)
	if got := deletedFiles(t, dir); len(got) != 0 {
		t.Fatalf("after every delay, left %v", got)
	}
	if n := ts.armed(); n != 0 {
		t.Fatalf("%d timers still armed", n)
	}
}

// TestRestartRemovesDeletedLeftovers: *.deleted files left by a crash are
// removed by the next Open, which keeps the persisted log start; a clean
// Close stops the delay timers and removes the files itself.
func TestRestartRemovesDeletedLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, ts := retentionLog(t, dir, time.Minute.Milliseconds())
	appendTimes(t, l, slices.Repeat([]int64{baseTS}, 8)...)
	two := 2 * int64(len(buildBatch(spec{}))) // the active segment's size
	mustDeleteOld(t, l, ts.clk.now(), -1, two, l.EndOffset(), 3)
	if got, want := deletedFiles(t, dir), retiredNames(0, 2, 4); !slices.Equal(got, want) {
		t.Fatalf("before the crash: %v, want %v", got, want)
	}
	abandon(l) // a crash: its delay timers never run

	l, ts2 := retentionLog(t, dir, time.Minute.Milliseconds())
	if got := deletedFiles(t, dir); len(got) != 0 {
		t.Fatalf("Open left %v", got)
	}
	checkStart(t, l, dir, 6, 6)
	ts.advance(time.Minute) // lets the crashed log's segments close their files

	appendTimes(t, l, slices.Repeat([]int64{baseTS}, 2)...) // segments 6, 8
	mustDeleteOld(t, l, ts2.clk.now(), -1, two, l.EndOffset(), 1)
	if got, want := deletedFiles(t, dir), retiredNames(6); !slices.Equal(got, want) {
		t.Fatalf("before Close: %v, want %v", got, want)
	}
	mustClose(t, l)
	if got := deletedFiles(t, dir); len(got) != 0 {
		t.Fatalf("Close left %v", got)
	}
	if n := ts2.armed(); n != 0 {
		t.Fatalf("Close left %d timers armed", n)
	}
}

// TestRetentionStartOffsetPersisted: the start that retention or
// SetStartOffset moved survives a crash, which may come before the
// segments below it are gone; Open finishes removing them.
func TestRetentionStartOffsetPersisted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, ts := retentionLog(t, dir, 0)
	appendTimes(t, l, slices.Repeat([]int64{baseTS}, 9)...) // segments 0..8
	if err := l.SetStartOffset(3); err != nil {
		t.Fatal(err)
	}
	checkStart(t, l, dir, 3, 2, 4, 6, 8)
	// A start inside the first remaining segment is not moved back to
	// its base by retention that deletes nothing.
	mustDeleteOld(t, l, ts.clk.now(), -1, 9*int64(len(buildBatch(spec{}))), l.EndOffset(), 0)
	checkStart(t, l, dir, 3, 2, 4, 6, 8)
	mustDeleteOld(t, l, ts.clk.now(), -1, 5*int64(len(buildBatch(spec{}))), l.EndOffset(), 1)
	checkStart(t, l, dir, 4, 4, 6, 8)
	abandon(l)

	l, _ = retentionLog(t, dir, 0)
	checkStart(t, l, dir, 4, 4, 6, 8)

	// A crash after the start was persisted but before the segments
	// below it were renamed: Open removes them.
	if err := writeLogStartOffset(OSFS(), dir, 7); err != nil {
		t.Fatal(err)
	}
	abandon(l)
	l, _ = retentionLog(t, dir, 0)
	defer l.Close()
	checkStart(t, l, dir, 7, 6, 8)
	if got := deletedFiles(t, dir); len(got) != 0 {
		t.Fatalf("left %v", got)
	}
}

// TestRetentionDuringReads runs readers against an appender whose log
// retention keeps cutting: every read returns whole, CRC-valid batches
// starting at the offset asked for, or ErrOffsetOutOfRange below a start
// that moved meanwhile. Run with -race.
func TestRetentionDuringReads(t *testing.T) {
	t.Parallel()
	l, ts := retentionLog(t, t.TempDir(), time.Minute.Milliseconds())
	defer l.Close()
	l.SetConfig(Config{SegmentBytes: 1024, IndexIntervalBytes: 128, FileDeleteDelayMs: 10})
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
		errc = make(chan error, 3)
	)
	for range 3 {
		wg.Go(func() {
			off := int64(0)
			for {
				select {
				case <-done:
					return
				default:
				}
				end := l.EndPosition()
				if off >= end.Offset {
					off = 0
					continue
				}
				res, err := l.Read(off, 300, end, true)
				if errors.Is(err, ErrOffsetOutOfRange) {
					if start := l.StartOffset(); start <= off {
						errc <- fmt.Errorf("read %d: out of range with the start at %d", off, start)
						return
					}
					off = l.StartOffset()
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				b := make([]byte, res.Slice.Len)
				_, err = res.Slice.File.ReadAt(b, res.Slice.Pos)
				res.Slice.Release()
				if err != nil {
					errc <- fmt.Errorf("read %d: %w", off, err)
					return
				}
				h, err := record.ParseHeader(b)
				if err != nil || h.BaseOffset != off || int64(len(b)) < h.Size() {
					errc <- fmt.Errorf("read %d: header %+v, %d bytes, %v", off, h, len(b), err)
					return
				}
				if crc32.Checksum(b[record.AttributesOffset:h.Size()], castagnoli) != h.CRC {
					errc <- fmt.Errorf("read %d: bad crc", off)
					return
				}
				off = h.LastOffset() + 1
			}
		})
	}
	for i := range 600 {
		mustAppend(t, l, buildBatch(spec{records: i%3 + 1, value: 40}))
		if i%20 == 0 {
			if _, err := l.DeleteOldSegments(ts.clk.now(), -1, 2048, l.EndOffset()); err != nil {
				t.Fatal(err)
			}
			ts.advance(5 * time.Millisecond)
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if l.StartOffset() == 0 {
		t.Fatal("retention deleted nothing")
	}
}

// TestDeleteEndsDelays: deleting the log (its topic) removes the files of
// segments waiting out their delay with the rest, and leaves no timer.
func TestDeleteEndsDelays(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "topic-0")
	l, ts := retentionLog(t, dir, time.Minute.Milliseconds())
	appendTimes(t, l, slices.Repeat([]int64{baseTS}, 4)...)
	mustDeleteOld(t, l, ts.clk.now(), -1, 0, 2, 1) // the active segment ends above the high watermark
	if got, want := deletedFiles(t, dir), retiredNames(0); !slices.Equal(got, want) {
		t.Fatalf("before Delete: %v, want %v", got, want)
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dir still there: %v", err)
	}
	if n := ts.armed(); n != 0 {
		t.Fatalf("Delete left %d timers armed", n)
	}
}
