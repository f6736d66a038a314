package crash

import (
	"fmt"
	"slices"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

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

// TestSyncErrors fails the fsync that flush.messages=1 makes after every
// append. After a failed fsync the kernel may have dropped the dirty pages,
// so (like Kafka, which takes the log dir offline) the partition refuses
// writes with KAFKA_STORAGE_ERROR until the broker restarts and recovers
// it; what was acknowledged before stays readable throughout.
func TestSyncErrors(t *testing.T) {
	t.Parallel()
	const topic = "unsyncable"
	fs := log.NewFaultFS(nil)
	b := startOn(t, t.TempDir(), fs)
	cl := client(t, b.Addr())
	createTopicWith(t, b.Addr(), topic, 1, map[string]*string{"flush.messages": kmsg.StringPtr("1")})
	want := []string{"a", "b", "c"}
	produceOK(t, cl, topic, 0, plainBatch(t, want...), 0)

	fs.InjectSync(".log", nil)
	refused := func(what string) {
		t.Helper()
		p := produceBatch(t, cl, topic, 0, plainBatch(t, "unsure"))
		if p.ErrorCode != kerr.KafkaStorageError.Code {
			t.Fatalf("%s: error %d (%v), want %d (KAFKA_STORAGE_ERROR)", what, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode), kerr.KafkaStorageError.Code)
		}
		ends := endOffsets(t, b.Addr(), topic)
		if ends[0] != int64(len(want)) {
			t.Fatalf("%s: high watermark %d, want %d: an unsynced batch is not committed", what, ends[0], len(want))
		}
		if got := values(consume(t, b.Addr(), topic, nil, ends)[0]); !slices.Equal(got, want) {
			t.Fatalf("%s: log %q, want %q", what, got, want)
		}
	}
	refused("fsync failing")
	fs.ClearFaults()
	refused("fsync failed earlier")

	// A restart recovers the log. The batches whose fsync failed were
	// written, so they may come back: they were never acknowledged, and a
	// producer retries them (idempotently, or as a duplicate, as with
	// Kafka). Either way the log is dense and takes writes again.
	if err := b.stop(); err != nil {
		t.Logf("shutdown of the failed log: %v", err)
	}
	b = startOn(t, b.dir, nil)
	ends := endOffsets(t, b.Addr(), topic)
	got := values(consume(t, b.Addr(), topic, nil, ends)[0])
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) || len(got) > len(want)+2 {
		t.Fatalf("after a restart: %q, want %q and at most two \"unsure\"", got, want)
	}
	for _, v := range got[len(want):] {
		if v != "unsure" {
			t.Fatalf("after a restart: %q", got)
		}
	}
	t.Logf("after a restart: %q", got)
	cl = client(t, b.Addr())
	produceOK(t, cl, topic, 0, plainBatch(t, "after"), ends[0])
}
