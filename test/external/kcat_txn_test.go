//go:build external

package external

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKcatReadCommitted: franz-go's transactional producer commits one
// transaction over two partitions, aborts one, and leaves a third open.
// kcat (librdkafka) with isolation.level=read_committed prints exactly the
// committed records and reaches the end (-e) at the last stable offset,
// before the open transaction; with read_uncommitted it prints all three.
// Offsets show the markers in between: each transaction's marker takes an
// offset in every partition it wrote to.
func TestKcatReadCommitted(t *testing.T) {
	tool(t, "kcat")
	addr := startBroker(t).Addr()
	const topic = "kcat-txn"
	createTopic(t, addr, topic, 2)
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()

	txn := func(id, prefix string, n int, commit bool, end bool) *kgo.Client {
		cl := client(t, addr, kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			r := &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte(fmt.Sprintf("%s%d", prefix, i))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("%s: produce: %v", id, err)
			}
		}
		if end {
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
				t.Fatalf("%s: end: %v", id, err)
			}
		}
		return cl
	}
	txn("kcat-a", "a", 4, true, true)           // offsets 0, 1 and marker 2 in each partition
	txn("kcat-b", "b", 4, false, true)          // offsets 3, 4 and marker 5
	open := txn("kcat-c", "c", 2, false, false) // offset 6, no marker yet

	read := func(isolation string) map[int32][]string {
		return byPartition(t, kcat(t, addr, nil, "-C", "-X", fastEOF, "-X", "isolation.level="+isolation, "-q", "-e",
			"-t", topic, "-o", "beginning", "-f", "%p|%o|%s\n"))
	}
	equalLines(t, read("read_committed"), map[int32][]string{
		0: {"0|0|a0", "0|1|a2"},
		1: {"1|0|a1", "1|1|a3"},
	})
	equalLines(t, read("read_uncommitted"), map[int32][]string{
		0: {"0|0|a0", "0|1|a2", "0|3|b0", "0|4|b2", "0|6|c0"},
		1: {"1|0|a1", "1|1|a3", "1|3|b1", "1|4|b3", "1|6|c1"},
	})

	// Once the open transaction commits, read_committed reads it too,
	// and skips the aborted one still.
	if err := open.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	equalLines(t, read("read_committed"), map[int32][]string{
		0: {"0|0|a0", "0|1|a2", "0|6|c0"},
		1: {"1|0|a1", "1|1|a3", "1|6|c1"},
	})
}
