package log

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// allocated is the disk space the file at path holds, in bytes.
func allocated(t *testing.T, path string) (size, disk int64) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Size, st.Blocks * 512
}

// needKeepSize skips where the test directory's filesystem cannot reserve
// blocks beyond a file's end; the log then appends plainly.
func needKeepSize(t *testing.T, dir string) {
	f, err := os.Create(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, 1<<20); err != nil {
		t.Skipf("%s cannot fallocate(KEEP_SIZE): %v", dir, err)
	}
	os.Remove(f.Name())
}

// TestReserveAheadOfAppends: the active segment holds disk reserved beyond
// its end, readers and recovery see only the written batches, and sealing
// (a roll or a clean close) gives the reservation back.
func TestReserveAheadOfAppends(t *testing.T) {
	t.Parallel()
	for _, prealloc := range []bool{false, true} {
		name := "steps"
		if prealloc {
			name = "preallocate"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			needKeepSize(t, dir)
			const segBytes = 4 << 20
			cfg := Config{SegmentBytes: segBytes, Preallocate: prealloc}
			l := openLog(t, dir, cfg, nil, nil)
			var want [][]byte
			for i := range 30 {
				b := buildBatch(spec{records: 10, value: 1000, ts: baseTS + int64(i)})
				mustAppend(t, l, b)
				want = append(want, b)
			}
			seg0 := filepath.Join(dir, segmentFileName(0, logSuffix))
			size, disk := allocated(t, seg0)
			// Replay the reservation steps: each append that passes the
			// reserved end reserves as much again as the segment holds
			// (at least reserveMin) past its own end.
			var written, reserved int64
			for _, b := range want {
				written += int64(len(b))
				if written > reserved {
					reserved = written + min(max(written, reserveMin), reserveMax)
				}
			}
			if prealloc {
				reserved = segBytes
			}
			if size != written {
				t.Fatalf("active segment size %d, want the %d bytes written", size, written)
			}
			if disk < reserved {
				t.Fatalf("active segment holds %d bytes on disk, want at least %d (written %d)", disk, reserved, written)
			}

			// A second open without a clean close recovers exactly the
			// written batches: the reservation reads as nothing.
			crashed := openLog(t, dir, cfg, nil, nil)
			equalBatches(t, readAll(t, crashed), want)
			mustClose(t, crashed)

			mustClose(t, l)
			size, disk = allocated(t, seg0)
			if size != written || disk >= written+64<<10 {
				t.Fatalf("after close: size %d, %d bytes on disk; want size %d and the reservation given back",
					size, disk, written)
			}
		})
	}
}
