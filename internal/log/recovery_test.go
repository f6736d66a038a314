package log

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// abandon drops a log the way a killed process does: no flush, no
// snapshot, no marker; only the file handles are released.
func abandon(l *Log) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.detachAll() {
		s.unpin()
	}
}

func appendN(t testing.TB, l *Log, n int, s spec) [][]byte {
	t.Helper()
	var out [][]byte
	for range n {
		b := buildBatch(s)
		mustAppend(t, l, b)
		out = append(out, b)
	}
	return out
}

func equalBatches(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}
}

func TestCleanReopenSkipsScan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one := int64(len(buildBatch(spec{})))
	cfg := Config{SegmentBytes: 3 * one}
	l := openLog(t, dir, cfg, nil, nil)
	if got := l.Recovery(); got != (Recovery{Fresh: true}) {
		t.Fatalf("new log: Recovery() = %+v", got)
	}
	want := appendN(t, l, 10, spec{}) // segments 0, 3, 6, 9
	mustClose(t, l)
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); err != nil {
		t.Fatalf("no clean-shutdown marker after Close: %v", err)
	}

	l = openLog(t, dir, cfg, nil, nil)
	if got := l.stats; got != (loadStats{clean: true}) {
		t.Fatalf("clean reopen did work: %+v", got)
	}
	if got := l.Recovery(); got != (Recovery{Clean: true}) {
		t.Fatalf("clean reopen: Recovery() = %+v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("marker survived Open: %v", err)
	}
	equalBatches(t, readAll(t, l), want)
	want = append(want, appendN(t, l, 2, spec{})...) // offsets 10, 11 in segment 9
	abandon(l)

	l = openLog(t, dir, cfg, nil, nil)
	defer l.Close()
	// The last segment is validated; producer state replays the batches
	// after the snapshot Close wrote at offset 10.
	// Segment 9 holds offsets 9 to 11, one batch each.
	if got := l.stats; got != (loadStats{recoveredSegments: 1, replayedBatches: 2, scannedBytes: 3 * one}) {
		t.Fatalf("unclean reopen: %+v", got)
	}
	if got := l.Recovery(); got != (Recovery{ScannedBytes: 3 * one}) {
		t.Fatalf("unclean reopen: Recovery() = %+v", got)
	}
	equalBatches(t, readAll(t, l), want)
}

// TestCrashLosesUnsynced: after a power loss the log holds exactly what
// was fsynced (by Flush or by rolls) and appends continue densely.
func TestCrashLosesUnsynced(t *testing.T) {
	t.Parallel()
	one := int64(len(buildBatch(spec{})))
	tests := []struct {
		name          string
		segmentBytes  int64
		before, after int   // batches before and after the Flush
		wantEnd       int64 // log end after the crash
	}{
		{"unsynced tail lost", 1 << 20, 10, 5, 10},
		{"nothing synced", 1 << 20, 0, 5, 0},
		{"all synced", 1 << 20, 7, 0, 7},
		// Flush at 3; rolls at 4 and 6 fsync the segments before them.
		{"rolls sync older segments", 2 * one, 3, 5, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ffs := NewFaultFS(nil)
			cfg := Config{SegmentBytes: tc.segmentBytes}
			l := openLog(t, dir, cfg, ffs, nil)
			want := appendN(t, l, tc.before, spec{})
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			want = append(want, appendN(t, l, tc.after, spec{})...)
			if err := ffs.Crash(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, cfg, ffs, nil)
			defer l.Close()
			if l.EndOffset() != tc.wantEnd {
				t.Fatalf("end %d, want %d", l.EndOffset(), tc.wantEnd)
			}
			equalBatches(t, readAll(t, l), want[:tc.wantEnd])
			if res := mustAppend(t, l, buildBatch(spec{records: 2})); res.BaseOffset != tc.wantEnd {
				t.Fatalf("next append at %d, want %d", res.BaseOffset, tc.wantEnd)
			}
		})
	}
}

// TestCrashTorn: a power loss that keeps a random prefix of the unsynced
// bytes leaves a log of whole batches between the synced end and the
// written end.
func TestCrashTorn(t *testing.T) {
	t.Parallel()
	for seed := range uint64(25) {
		dir := t.TempDir()
		ffs := NewFaultFS(nil)
		cfg := Config{SegmentBytes: 2000, IndexIntervalBytes: 128}
		l := openLog(t, dir, cfg, ffs, nil)
		want := appendN(t, l, 12, spec{records: 3})
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		want = append(want, appendN(t, l, 20, spec{records: 3})...)
		if err := ffs.CrashTorn(seed); err != nil {
			t.Fatal(err)
		}
		l = openLog(t, dir, cfg, ffs, nil)
		end := l.EndOffset()
		if end < 36 || end > 96 || end%3 != 0 {
			t.Fatalf("seed %d: end %d outside [36, 96] or inside a batch", seed, end)
		}
		equalBatches(t, readAll(t, l), want[:end/3])
		if res := mustAppend(t, l, buildBatch(spec{})); res.BaseOffset != end {
			t.Fatalf("seed %d: next append at %d, want %d", seed, res.BaseOffset, end)
		}
		mustClose(t, l)
	}
}

// TestTornTailOnDisk chops bytes off the last segment, with and without a
// clean-shutdown marker (which must not be trusted over the bytes).
func TestTornTailOnDisk(t *testing.T) {
	t.Parallel()
	one := int64(len(buildBatch(spec{records: 2})))
	tests := []struct {
		name    string
		chop    int64
		clean   bool
		wantEnd int64
	}{
		{"one byte", 1, false, 8},
		{"a header's worth", 61, false, 8},
		{"all but one byte of the batch", one - 1, false, 8},
		{"exactly one batch", one, false, 8},
		{"into the previous batch", one + 1, false, 6},
		{"clean marker but torn", 10, true, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := openLog(t, dir, Config{}, nil, nil)
			want := appendN(t, l, 5, spec{records: 2})
			if tc.clean {
				mustClose(t, l)
			} else {
				abandon(l)
			}
			path := filepath.Join(dir, segmentFileName(0, logSuffix))
			if err := os.Truncate(path, 5*one-tc.chop); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, Config{}, nil, nil)
			defer l.Close()
			if l.EndOffset() != tc.wantEnd {
				t.Fatalf("end %d, want %d", l.EndOffset(), tc.wantEnd)
			}
			if got, want := l.stats.truncatedBytes, 5*one-tc.chop-tc.wantEnd/2*one; got != want {
				t.Fatalf("truncated %d bytes, want %d", got, want)
			}
			equalBatches(t, readAll(t, l), want[:tc.wantEnd/2])
			if res := mustAppend(t, l, buildBatch(spec{})); res.BaseOffset != tc.wantEnd {
				t.Fatalf("next append at %d", res.BaseOffset)
			}
		})
	}
}

// TestCorruptBatch flips one byte in the last segment: recovery keeps the
// batches before the damaged one and drops it and everything after.
func TestCorruptBatch(t *testing.T) {
	t.Parallel()
	one := int64(len(buildBatch(spec{records: 2})))
	tests := []struct {
		name    string
		at      int64 // byte offset in the segment
		wantEnd int64
	}{
		{"record bytes of the last batch", 4*one + 70, 8},
		{"crc of the last batch", 4*one + 17, 8},
		{"magic of the third batch", 2*one + 16, 4},
		{"length of the second batch", 1*one + 9, 2},
		{"base offset of the fourth batch goes backwards", 3*one + 7, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := openLog(t, dir, Config{}, nil, nil)
			want := appendN(t, l, 5, spec{records: 2})
			abandon(l)
			path := filepath.Join(dir, segmentFileName(0, logSuffix))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "base offset of the fourth batch goes backwards" {
				data[tc.at] = 0 // base offset 6 becomes 0
			} else {
				data[tc.at] ^= 0x40
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, Config{}, nil, nil)
			defer l.Close()
			if l.EndOffset() != tc.wantEnd {
				t.Fatalf("end %d, want %d", l.EndOffset(), tc.wantEnd)
			}
			equalBatches(t, readAll(t, l), want[:tc.wantEnd/2])
		})
	}
}

// TestDamagedSealedIndex: a sealed segment whose index is missing or wrong
// is reindexed on Open, clean or not.
func TestDamagedSealedIndex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(dir string) error
	}{
		{"offset index removed", func(dir string) error {
			return os.Remove(filepath.Join(dir, segmentFileName(0, indexSuffix)))
		}},
		{"time index emptied", func(dir string) error {
			return os.Truncate(filepath.Join(dir, segmentFileName(0, timeIndexSuffix)), 0)
		}},
		{"offset index torn entry", func(dir string) error {
			p := filepath.Join(dir, segmentFileName(0, indexSuffix))
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			return os.Truncate(p, fi.Size()-3)
		}},
		{"offset index last entry points elsewhere", func(dir string) error {
			p := filepath.Join(dir, segmentFileName(0, indexSuffix))
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)-1] ^= 0x01
			return os.WriteFile(p, b, 0o644)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := Config{SegmentBytes: 1500, IndexIntervalBytes: 100}
			l := openLog(t, dir, cfg, nil, nil)
			want := appendN(t, l, 30, spec{records: 2})
			mustClose(t, l)
			before, err := os.ReadFile(filepath.Join(dir, segmentFileName(0, indexSuffix)))
			if err != nil || len(before) == 0 {
				t.Fatalf("index of segment 0: %d bytes, %v", len(before), err)
			}
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, cfg, nil, nil)
			defer l.Close()
			if l.stats.rebuiltIndexes != 1 || !l.stats.clean {
				t.Fatalf("stats %+v, want one rebuilt index on a clean open", l.stats)
			}
			after, err := os.ReadFile(filepath.Join(dir, segmentFileName(0, indexSuffix)))
			if err != nil || !bytes.Equal(after, before) {
				t.Fatalf("rebuilt index differs from the original (%v)", err)
			}
			equalBatches(t, readAll(t, l), want)
		})
	}
}

// TestWriteErrors: a failed or short write fails the append, leaves the log
// readable, and the next append takes the same offset.
func TestWriteErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault WriteFault
	}{
		{"write fails", WriteFault{Match: logSuffix, Nth: 1}},
		{"short write", WriteFault{Match: logSuffix, Nth: 1, Partial: 30}},
		{"short write of all but one byte", WriteFault{Match: logSuffix, Nth: 1, Partial: 106}},
		{"every write fails until cleared", WriteFault{Match: logSuffix}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ffs := NewFaultFS(nil)
			l := openLog(t, dir, Config{}, ffs, nil)
			want := appendN(t, l, 3, spec{records: 2})
			ffs.InjectWrite(tc.fault)
			for range 2 {
				_, err := l.Append(buildBatch(spec{records: 2}), AppendOptions{LogAppendTime: -1})
				if !errors.Is(err, ErrInjected) {
					t.Fatalf("Append: %v, want ErrInjected", err)
				}
				if l.EndOffset() != 6 {
					t.Fatalf("end %d after failed append", l.EndOffset())
				}
				fi, err := os.Stat(filepath.Join(dir, segmentFileName(0, logSuffix)))
				if err != nil || fi.Size() != 3*int64(len(want[0])) {
					t.Fatalf("segment not cut back: %v, %v", fi.Size(), err)
				}
				equalBatches(t, readAll(t, l), want)
				if tc.fault.Nth > 0 {
					break
				}
			}
			ffs.ClearFaults()
			b := buildBatch(spec{records: 2})
			if res := mustAppend(t, l, b); res.BaseOffset != 6 {
				t.Fatalf("next append at %d, want 6", res.BaseOffset)
			}
			want = append(want, b)
			mustClose(t, l)
			l = openLog(t, dir, Config{}, ffs, nil)
			defer l.Close()
			equalBatches(t, readAll(t, l), want)
		})
	}
}

// TestSyncFailureIsFatal: after a failed fsync the log refuses writes (the
// kernel may have dropped the pages) and the next Open recovers it.
func TestSyncFailureIsFatal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ffs := NewFaultFS(nil)
	l := openLog(t, dir, Config{}, ffs, nil)
	want := appendN(t, l, 3, spec{})
	ffs.InjectSync(logSuffix, nil)
	if err := l.Flush(); !errors.Is(err, ErrFailed) || !errors.Is(err, ErrInjected) {
		t.Fatalf("Flush: %v", err)
	}
	if _, err := l.Append(buildBatch(spec{}), AppendOptions{LogAppendTime: -1}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after failed fsync: %v", err)
	}
	equalBatches(t, readAll(t, l), want) // reads still work
	mustClose(t, l)
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed log wrote the clean-shutdown marker")
	}
	ffs.ClearFaults()
	l = openLog(t, dir, Config{}, ffs, nil)
	defer l.Close()
	if l.stats.recoveredSegments != 1 {
		t.Fatalf("stats %+v", l.stats)
	}
	equalBatches(t, readAll(t, l), want)
}

// TestFlushPolicy: flush.messages fsyncs once enough records are unflushed,
// flush.ms once enough time has passed since the last flush.
func TestFlushPolicy(t *testing.T) {
	t.Parallel()
	one := int64(len(buildBatch(spec{records: 2})))
	tests := []struct {
		name    string
		cfg     Config
		step    int64 // ms between appends
		appends int
		want    []int64 // synced size after each append
	}{
		{"never", Config{}, 1000, 3, []int64{0, 0, 0}},
		{"every 3 records", Config{FlushMessages: 3}, 0, 4, []int64{0, 2 * one, 2 * one, 4 * one}},
		{"every 250 ms", Config{FlushMs: 250}, 100, 5, []int64{0, 0, 3 * one, 3 * one, 3 * one}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ffs := NewFaultFS(nil)
			clk := newClock()
			l := openLog(t, dir, tc.cfg, ffs, clk)
			defer l.Close()
			path := filepath.Join(dir, segmentFileName(0, logSuffix))
			for i := range tc.appends {
				clk.ms.Add(tc.step)
				mustAppend(t, l, buildBatch(spec{records: 2}))
				if got := ffs.SyncedSize(path); got != tc.want[i] {
					t.Fatalf("after append %d: synced %d, want %d", i, got, tc.want[i])
				}
			}
		})
	}
}

// FuzzRecover opens a log whose only segment holds arbitrary bytes: Open
// must not fail or panic, and the recovered log must read back whole valid
// batches, take appends, and reopen cleanly to the same content.
func FuzzRecover(f *testing.F) {
	var valid []byte
	for i := range 3 {
		b := buildBatch(spec{records: i + 1})
		binary32(b[4:], uint32(i*2)) // base offsets 0, 2, 4 (low half)
		valid = append(valid, b...)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-5])
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 100))
	f.Add(append(append([]byte{}, valid...), 0, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		// In memory: a real directory and its fsyncs cost milliseconds
		// per input.
		const dir = "/fuzz/t-0"
		fsys := newMemFS()
		seg, _ := fsys.OpenFile(dir+"/"+segmentFileName(0, logSuffix), os.O_RDWR|os.O_CREATE, 0o644)
		seg.WriteAt(data, 0)
		open := func() *Log {
			l, err := Open(dir, Options{FS: fsys, Logger: quietLogger})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return l
		}
		l := open()
		got := readAll(t, l)
		end := l.EndOffset()
		b := buildBatch(spec{})
		res, err := l.Append(b, AppendOptions{LogAppendTime: -1})
		if err != nil || res.BaseOffset != end {
			t.Fatalf("append after recovery: %+v, %v (end %d)", res, err, end)
		}
		got = append(got, b)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = open()
		defer l.Close()
		equalBatches(t, readAll(t, l), got)
	})
}
