package crash

import (
	"fmt"
	"slices"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/log"
)

// TestWriteErrors injects write errors under the partition logs of an
// in-process broker: a produce that cannot be written is answered
// KAFKA_STORAGE_ERROR, the log stays readable, and once the fault clears
// the next produce lands at the next dense offset.
func TestWriteErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault log.WriteFault
	}{
		{"every segment write fails", log.WriteFault{Match: ".log"}},
		{"the next segment write fails", log.WriteFault{Match: ".log", Nth: 1}},
		{"a short write of 20 bytes", log.WriteFault{Match: ".log", Nth: 1, Partial: 20}},
		{"disk full", log.WriteFault{Match: ".log", Err: syscall.ENOSPC}},
		{"disk full after 61 bytes (a whole batch header)", log.WriteFault{Match: ".log", Partial: 61, Err: syscall.ENOSPC}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const topic = "faulty"
			fs := log.NewFaultFS(nil)
			b := startOn(t, t.TempDir(), fs)
			createTopic(t, b.Addr(), topic, 1)
			cl := client(t, b.Addr())
			var want []string
			for i := range 5 {
				vs := []string{fmt.Sprintf("ok%d-a", i), fmt.Sprintf("ok%d-b", i)}
				produceOK(t, cl, topic, 0, plainBatch(t, vs...), int64(len(want)))
				want = append(want, vs...)
			}

			fs.InjectWrite(tc.fault)
			for i := range 3 {
				p := produceBatch(t, cl, topic, 0, plainBatch(t, fmt.Sprintf("lost%d", i)))
				if p.ErrorCode != kerr.KafkaStorageError.Code {
					t.Fatalf("produce %d under the fault: error %d (%v), want %d (KAFKA_STORAGE_ERROR)", i, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode), kerr.KafkaStorageError.Code)
				}
				// Every earlier record is still readable, and nothing
				// of the failed batch shows.
				ends := endOffsets(t, b.Addr(), topic)
				if ends[0] != int64(len(want)) {
					t.Fatalf("log end %d after a failed write, want %d", ends[0], len(want))
				}
				if got := values(consume(t, b.Addr(), topic, nil, ends)[0]); !slices.Equal(got, want) {
					t.Fatalf("log under the fault: %q, want %q", got, want)
				}
				if tc.fault.Nth > 0 {
					break // the fault fired once
				}
			}

			fs.ClearFaults()
			produceOK(t, cl, topic, 0, plainBatch(t, "after-a", "after-b"), int64(len(want)))
			want = append(want, "after-a", "after-b")
			ends := endOffsets(t, b.Addr(), topic)
			if got := values(consume(t, b.Addr(), topic, nil, ends)[0]); !slices.Equal(got, want) {
				t.Fatalf("after the fault: %q, want %q", got, want)
			}

			// A clean restart reads the same log back: the failed writes
			// left nothing on disk to trip over.
			if err := b.stop(); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			b = startOn(t, b.dir, log.NewFaultFS(nil))
			ends = endOffsets(t, b.Addr(), topic)
			if got := values(consume(t, b.Addr(), topic, nil, ends)[0]); !slices.Equal(got, want) {
				t.Fatalf("after a restart: %q, want %q", got, want)
			}
		})
	}
}
