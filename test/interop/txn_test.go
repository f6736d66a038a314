package interop

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestSaramaTransactions: sarama's transactional producer commits a
// transaction over two partitions together with a consumer group's
// offsets (AddOffsetsToTxn), aborts a second, and commits a third. A
// read_committed reader sees exactly the committed records, in the order
// sent per partition; read_uncommitted sees the aborted ones too; the
// group's offsets are those committed with the first transaction.
func TestSaramaTransactions(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, time.Minute)
	b := startBroker(t)
	const topic, group = "sarama-txn", "sarama-txn-group"
	createTopic(ctx, t, b.Addr(), topic, 2, nil)

	cfg := saramaConfig()
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = "sarama-txn-producer"
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Retry.Max = 5
	p, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatalf("new producer: %v", err)
	}
	defer p.Close()
	send := func(values ...string) {
		for i, v := range values {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: int32(i % 2), Value: sarama.StringEncoder(v)}); err != nil {
				t.Fatalf("send %s: %v", v, err)
			}
		}
	}
	must := func(what string, err error) {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("begin 1", p.BeginTxn())
	send("a0", "a1", "a2")
	must("add offsets", p.AddOffsetsToTxn(map[string][]*sarama.PartitionOffsetMetadata{
		topic: {{Partition: 0, Offset: 11, LeaderEpoch: -1}, {Partition: 1, Offset: 12, LeaderEpoch: -1}},
	}, group))
	must("commit 1", p.CommitTxn())
	must("begin 2", p.BeginTxn())
	send("b0", "b1")
	must("abort 2", p.AbortTxn())
	must("begin 3", p.BeginTxn())
	send("c0", "c1")
	must("commit 3", p.CommitTxn())

	want := map[int32][]string{0: {"a0", "a2", "c0"}, 1: {"a1", "c1"}}
	if got := cluster.ReadTxnTopic(t, b.Addr(), topic, 2, kgo.ReadCommitted(), time.Minute); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("read_committed: %v, want %v", got, want)
	}
	want = map[int32][]string{0: {"a0", "a2", "b0", "c0"}, 1: {"a1", "b1", "c1"}}
	if got := cluster.ReadTxnTopic(t, b.Addr(), topic, 2, kgo.ReadUncommitted(), time.Minute); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("read_uncommitted: %v, want %v", got, want)
	}
	offs, err := newAdmin(t, b.Addr()).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]int64{}
	for part, o := range offs[topic] {
		got[part] = o.At
	}
	if want := map[int32]int64{0: 11, 1: 12}; !maps.Equal(got, want) {
		t.Errorf("offsets committed with the transaction: %v, want %v", got, want)
	}
}
