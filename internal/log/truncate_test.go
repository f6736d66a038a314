package log

import (
	"fmt"
	"slices"
	"testing"
)

// fillForTruncate writes 10 idempotent batches of 2 records (producer 1,
// sequence = offset) with leader epochs 0,0,0,0,1,1,1,1,2,2 into segments
// of three batches: bases 0, 6, 12, 18.
func fillForTruncate(t *testing.T, l *Log) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range 10 {
		b := buildBatch(spec{records: 2, pid: 1, seq: int32(2 * i), idem: true})
		if _, err := l.Append(b, AppendOptions{LeaderEpoch: int32(i / 4), LogAppendTime: -1}); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	one := int64(len(buildBatch(spec{records: 2})))
	cfg := Config{SegmentBytes: 3 * one, IndexIntervalBytes: 1}
	allEpochs := []EpochEntry{{0, 0}, {1, 8}, {2, 16}}
	tests := []struct {
		offset     int64
		wantEnd    int64
		wantSegs   []int64
		wantEpochs []EpochEntry
	}{
		{20, 20, []int64{0, 6, 12, 18}, allEpochs},
		{25, 20, []int64{0, 6, 12, 18}, allEpochs},
		{18, 18, []int64{0, 6, 12, 18}, allEpochs}, // epoch 2 began at 16
		{14, 14, []int64{0, 6, 12}, allEpochs[:2]},
		{15, 14, []int64{0, 6, 12}, allEpochs[:2]},
		{12, 12, []int64{0, 6, 12}, allEpochs[:2]},
		{7, 6, []int64{0, 6}, allEpochs[:1]},
		{1, 0, []int64{0}, nil},
	}
	for _, tc := range tests {
		for _, reopen := range []string{"clean", "crash"} {
			t.Run(fmt.Sprintf("%d/%s", tc.offset, reopen), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				l := openLog(t, dir, cfg, nil, nil)
				want := fillForTruncate(t, l)
				if err := l.Truncate(tc.offset); err != nil {
					t.Fatalf("Truncate(%d): %v", tc.offset, err)
				}
				check := func(l *Log) {
					t.Helper()
					if l.EndOffset() != tc.wantEnd {
						t.Fatalf("Truncate(%d): end %d, want %d", tc.offset, l.EndOffset(), tc.wantEnd)
					}
					if got := segmentBases(t, dir); !slices.Equal(got, tc.wantSegs) {
						t.Fatalf("Truncate(%d): segments %v, want %v", tc.offset, got, tc.wantSegs)
					}
					if got := l.EpochEntries(); !slices.Equal(got, tc.wantEpochs) {
						t.Fatalf("Truncate(%d): epochs %v, want %v", tc.offset, got, tc.wantEpochs)
					}
					equalBatches(t, readAll(t, l), want[:tc.wantEnd/2])
				}
				check(l)
				if reopen == "clean" {
					mustClose(t, l)
				} else {
					abandon(l)
				}
				l = openLog(t, dir, cfg, nil, nil)
				defer l.Close()
				check(l)
				// The producer state was rolled back: the first truncated
				// batch is new again, the last kept one still a duplicate.
				steps := []idemStep{{"first truncated batch", 1, 0, int32(tc.wantEnd), 2, nil, tc.wantEnd, false}}
				if tc.wantEnd > 0 {
					steps = append(steps, idemStep{"last kept batch", 1, 0, int32(tc.wantEnd - 2), 2, nil, tc.wantEnd - 2, true})
				}
				runSteps(t, l, steps)
				// Appends continue, rolling as usual.
				for range 4 {
					mustAppend(t, l, buildBatch(spec{records: 2}))
				}
				if n := len(readAll(t, l)); n != int(tc.wantEnd/2)+5 {
					t.Fatalf("read %d batches after appending", n)
				}
			})
		}
	}
}

func TestTruncateBelowStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one := int64(len(buildBatch(spec{records: 2})))
	cfg := Config{SegmentBytes: 3 * one}
	l := openLog(t, dir, cfg, nil, nil)
	fillForTruncate(t, l)
	if err := l.SetStartOffset(9); err != nil {
		t.Fatal(err)
	}
	if err := l.Truncate(4); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 4 || l.EndOffset() != 4 || l.Size() != 0 || len(l.EpochEntries()) != 0 {
		t.Fatalf("start %d end %d size %d epochs %v", l.StartOffset(), l.EndOffset(), l.Size(), l.EpochEntries())
	}
	if got := segmentBases(t, dir); !slices.Equal(got, []int64{4}) {
		t.Fatalf("segments %v", got)
	}
	// Producer state is gone: sequence 0 starts afresh.
	runSteps(t, l, []idemStep{{"fresh producer", 1, 0, 0, 2, nil, 4, false}})
	mustClose(t, l)
	l = openLog(t, dir, cfg, nil, nil)
	defer l.Close()
	if l.StartOffset() != 4 || l.EndOffset() != 6 {
		t.Fatalf("after reopen start %d end %d", l.StartOffset(), l.EndOffset())
	}
}
