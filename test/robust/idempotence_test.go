package robust

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/record"
)

// TestIdempotentSequences drives one idempotent producer by hand: a gap in
// its sequences, retries of its last batches, and a stale epoch.
func TestIdempotentSequences(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dial(t, b.Addr())
	const topic = "idem"
	createTopic(t, c, topic, 1)

	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipid.Version = 4
	ipid.ProducerID, ipid.ProducerEpoch = -1, -1
	pidResp := rt[*kmsg.InitProducerIDResponse](t, c, ipid)
	if pidResp.ErrorCode != 0 || pidResp.ProducerID < 0 || pidResp.ProducerEpoch != 0 {
		t.Fatalf("InitProducerId: error %s, id %d, epoch %d", codeName(pidResp.ErrorCode), pidResp.ProducerID, pidResp.ProducerEpoch)
	}
	pid := pidResp.ProducerID

	// batch is n records from sequence seq at epoch; its values name both.
	batch := func(t testing.TB, epoch int16, seq int32, n int) ([]byte, []string) {
		var values []string
		for i := range n {
			values = append(values, fmt.Sprintf("e%d-s%d", epoch, seq+int32(i)))
		}
		o := plainOpts()
		o.ProducerID, o.ProducerEpoch, o.BaseSequence = pid, epoch, seq
		return build(t, record.CodecNone, o, recs(values...)), values
	}
	var log []string
	send := func(t testing.TB, epoch int16, seq int32, n int) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		bb, _ := batch(t, epoch, seq, n)
		return produce(t, c, topic, 0, -1, bb)
	}
	ok := func(t testing.TB, epoch int16, seq int32, n int, wantBase int64) {
		t.Helper()
		p := send(t, epoch, seq, n)
		if p.ErrorCode != 0 || p.BaseOffset != wantBase {
			t.Fatalf("epoch %d seq %d: error %s base offset %d, want success at %d", epoch, seq, codeName(p.ErrorCode), p.BaseOffset, wantBase)
		}
	}
	refused := func(t testing.TB, epoch int16, seq int32, n int, want *kerr.Error) {
		t.Helper()
		p := send(t, epoch, seq, n)
		if p.ErrorCode != want.Code {
			t.Fatalf("epoch %d seq %d: error %s, want %s", epoch, seq, codeName(p.ErrorCode), codeName(want.Code))
		}
		checkLog(t, c, topic, 0, log)
		serving(t, b)
	}
	appended := func(t testing.TB, epoch int16, seq int32, n int) {
		_, values := batch(t, epoch, seq, n)
		log = append(log, values...)
	}

	// Batches at sequences 0-2, 3-4, 5-7 land at offsets 0, 3, 5.
	ok(t, 0, 0, 3, 0)
	appended(t, 0, 0, 3)
	ok(t, 0, 3, 2, 3)
	appended(t, 0, 3, 2)
	ok(t, 0, 5, 3, 5)
	appended(t, 0, 5, 3)
	checkLog(t, c, topic, 0, log)

	t.Run("sequence gap", func(t *testing.T) {
		refused(t, 0, 10, 1, kerr.OutOfOrderSequenceNumber)
	})
	t.Run("sequence repeated inside an earlier batch", func(t *testing.T) {
		// Overlaps 3-4 without being that batch.
		refused(t, 0, 4, 2, kerr.OutOfOrderSequenceNumber)
	})
	t.Run("retries answer the original offsets", func(t *testing.T) {
		for _, r := range []struct {
			seq  int32
			n    int
			base int64
		}{{5, 3, 5}, {0, 3, 0}, {3, 2, 3}, {5, 3, 5}} {
			ok(t, 0, r.seq, r.n, r.base)
			// No offset was consumed.
			checkLog(t, c, topic, 0, log)
		}
		serving(t, b)
	})
	t.Run("next sequence after the retries", func(t *testing.T) {
		ok(t, 0, 8, 1, 8)
		appended(t, 0, 8, 1)
		checkLog(t, c, topic, 0, log)
	})
	t.Run("new epoch starts at sequence 0", func(t *testing.T) {
		refused(t, 1, 9, 1, kerr.OutOfOrderSequenceNumber)
		ok(t, 1, 0, 2, 9)
		appended(t, 1, 0, 2)
		checkLog(t, c, topic, 0, log)
	})
	t.Run("older epoch", func(t *testing.T) {
		refused(t, 0, 9, 1, kerr.InvalidProducerEpoch)
		// Even a retry of a batch the old epoch wrote is fenced.
		refused(t, 0, 5, 3, kerr.InvalidProducerEpoch)
	})
	t.Run("epoch 1 goes on", func(t *testing.T) {
		ok(t, 1, 2, 1, 11)
		appended(t, 1, 2, 1)
		checkLog(t, c, topic, 0, log)
	})
}
