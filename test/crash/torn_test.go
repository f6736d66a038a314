package crash

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/samsa-kafka/samsa/internal/record"
)

// TestTornTailRecovered damages the tail of a partition's log on disk, as
// a crash mid-write leaves it, and restarts: the broker keeps exactly the
// whole valid batches before the damage and appends after them. With the
// clean-shutdown marker removed, recovery must run; with it left in
// place (a marker that lies), the broker must still notice the damage.
func TestTornTailRecovered(t *testing.T) {
	t.Parallel()
	// Each tear returns the new file content from the old one and the
	// length of its last batch.
	cutLastInHalf := func(data []byte, last int) []byte { return data[:len(data)-last/2] }
	for _, tc := range []struct {
		name         string
		removeMarker bool
		tear         func(data []byte, last int) []byte
		lost         int // batches lost at the end
	}{
		{"last batch cut in half", true, cutLastInHalf, 1},
		{"last batch cut in half with the marker present", false, cutLastInHalf, 1},
		{"last batch cut inside its length field", true, func(data []byte, last int) []byte {
			return data[:len(data)-last+10]
		}, 1},
		{"last batch with a flipped byte", true, func(data []byte, last int) []byte {
			data[len(data)-3] ^= 0x20
			return data
		}, 1},
		// A file extended but not written (a crash between the size
		// update and the data) reads as zeros: nothing is lost.
		{"4 KiB of zeros after the last batch", true, func(data []byte, last int) []byte {
			return append(data, make([]byte, 4096)...)
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const (
				topic   = "torn"
				batches = 10
				perB    = 3
			)
			dir := t.TempDir()
			p := startProcess(t, dir)
			createTopic(t, p.Addr, topic, 1)
			cl := client(t, p.Addr)
			var want []string
			for i := range batches {
				vs := []string{fmt.Sprintf("b%d-r0", i), fmt.Sprintf("b%d-r1", i), fmt.Sprintf("b%d-r2", i)}
				produceOK(t, cl, topic, 0, plainBatch(t, vs...), int64(i*perB))
				want = append(want, vs...)
			}
			cl.Close()
			if err := p.Stop(); err != nil {
				t.Fatalf("SIGTERM: %v\n%s", err, p.Log())
			}

			seg := firstSegment(dir, topic, 0)
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			onDisk, err := record.SplitBatches(data)
			if err != nil || len(onDisk) != batches {
				t.Fatalf("%s holds %d batches (%v), want %d", seg, len(onDisk), err, batches)
			}
			intact := len(data)
			for _, b := range onDisk[batches-tc.lost:] {
				intact -= len(b)
			}
			if err := os.WriteFile(seg, tc.tear(slices.Clone(data), len(onDisk[batches-1])), 0o644); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(partitionDir(dir, topic, 0), cleanShutdownMarker)
			if _, err := os.Stat(marker); err != nil {
				t.Fatalf("clean-shutdown marker after SIGTERM: %v", err)
			}
			if tc.removeMarker {
				if err := os.Remove(marker); err != nil {
					t.Fatal(err)
				}
			}

			restart(t, p)
			kept := want[:(batches-tc.lost)*perB]
			ends := endOffsets(t, p.Addr, topic)
			if ends[0] != int64(len(kept)) {
				t.Fatalf("log end %d after recovery, want %d (the %d whole batches)", ends[0], len(kept), batches-tc.lost)
			}
			got := values(consume(t, p.Addr, topic, nil, ends)[0])
			if !slices.Equal(got, kept) {
				t.Fatalf("recovered %q, want %q", got, kept)
			}
			// The damaged bytes are gone from the file, not just hidden.
			if fi, err := os.Stat(seg); err != nil || fi.Size() != int64(intact) {
				t.Fatalf("%s after recovery: %v, size %d, want %d", seg, err, fi.Size(), intact)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("clean-shutdown marker while the broker runs: %v", err)
			}

			cl = client(t, p.Addr)
			produceOK(t, cl, topic, 0, plainBatch(t, "after-0", "after-1"), int64(len(kept)))
			all := append(slices.Clone(kept), "after-0", "after-1")
			ends = endOffsets(t, p.Addr, topic)
			if got := values(consume(t, p.Addr, topic, nil, ends)[0]); !slices.Equal(got, all) {
				t.Fatalf("after recovery and a produce: %q, want %q", got, all)
			}
		})
	}
}
