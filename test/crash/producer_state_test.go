package crash

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/record"
	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestProducerStateSurvivesRestart: the broker remembers an idempotent
// producer's last batches across a SIGKILL and across a SIGTERM, so a
// retry that crosses the restart (the producer never saw the answer) is
// answered with its original offsets and not appended twice, and a gap is
// still refused.
func TestProducerStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		stop func(t *testing.T, p *cluster.Process)
	}{
		{"SIGKILL", func(t *testing.T, p *cluster.Process) { p.Kill() }},
		{"SIGTERM", func(t *testing.T, p *cluster.Process) {
			if err := p.Stop(); err != nil {
				t.Fatalf("SIGTERM: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const topic = "idem"
			p := startProcess(t, t.TempDir())
			createTopic(t, p.Addr, topic, 1)
			cl := client(t, p.Addr)
			ipid := kmsg.NewPtrInitProducerIDRequest()
			ipid.ProducerID, ipid.ProducerEpoch = -1, -1
			resp, err := cl.Request(testContext(t), ipid)
			if err != nil {
				t.Fatal(err)
			}
			pidResp := resp.(*kmsg.InitProducerIDResponse)
			if pidResp.ErrorCode != 0 {
				t.Fatalf("InitProducerId: error %d", pidResp.ErrorCode)
			}
			batch := func(seq int32, n int) []byte {
				recs := make([]record.Record, n)
				for i := range recs {
					recs[i] = record.Record{OffsetDelta: int32(i), Value: []byte(fmt.Sprintf("s%d", seq+int32(i)))}
				}
				b, err := record.BuildBatch(record.CodecNone, 0, recs, record.BuildOptions{
					ProducerID: pidResp.ProducerID, ProducerEpoch: pidResp.ProducerEpoch, BaseSequence: seq,
					BaseTimestamp: time.Now().UnixMilli(), PartitionLeaderEpoch: -1,
				})
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			// Sequences 0-3 at offsets 0-3, 4-5 at 4-5, 6-8 at 6-8.
			produceOK(t, cl, topic, 0, batch(0, 4), 0)
			produceOK(t, cl, topic, 0, batch(4, 2), 4)
			produceOK(t, cl, topic, 0, batch(6, 3), 6)
			cl.Close()

			tc.stop(t, p)
			restart(t, p)

			cl = client(t, p.Addr)
			produceOK(t, cl, topic, 0, batch(6, 3), 6) // the retry of the last batch
			produceOK(t, cl, topic, 0, batch(4, 2), 4) // and of an earlier one
			if gap := produceBatch(t, cl, topic, 0, batch(11, 1)); gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
				t.Fatalf("sequence gap after the restart: error %d (%v), want %d", gap.ErrorCode, kerr.ErrorForCode(gap.ErrorCode), kerr.OutOfOrderSequenceNumber.Code)
			}
			produceOK(t, cl, topic, 0, batch(9, 2), 9)

			ends := endOffsets(t, p.Addr, topic)
			got := values(consume(t, p.Addr, topic, nil, ends)[0])
			if len(got) != 11 {
				t.Fatalf("%d records, want 11: %q", len(got), got)
			}
			for i, v := range got {
				if v != fmt.Sprintf("s%d", i) {
					t.Fatalf("offset %d holds %q, want s%d", i, v, i)
				}
			}
		})
	}
}
