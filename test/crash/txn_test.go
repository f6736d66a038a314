package crash

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// txnBrokerArgs make a timed-out transaction end soon: the coordinator's
// sweep for them runs every 200 ms (Kafka's default is 10 s), and the
// test's transactions time out after txnCrashTimeout.
var txnBrokerArgs = []string{"--set", "transaction.abort.timed.out.transaction.cleanup.interval.ms=200"}

const txnCrashTimeout = 3 * time.Second

// TestKillBetweenTxnMarkers SIGKILLs a single-node broker right after a
// transactional producer sent EndTxn for a transaction over four
// partitions, and restarts it on the same data dir. The kill comes 0 to
// 20 ms after the request left the client, so across the rounds it lands
// before the coordinator logged its decision (PrepareCommit/PrepareAbort),
// while the markers are being written, and after they are all written
// (CompleteCommit/CompleteAbort). In every round the recovered broker
// must:
//   - finish the transaction: DescribeTransactions reaches CompleteCommit
//     or CompleteAbort, matching what the client was told if it was told
//     (an abort was never asked to commit, so it must abort);
//   - show it whole or not at all: read_committed has every record of it
//     in every partition (committed) or none (aborted), and
//     read_uncommitted has every record (each was acknowledged before
//     EndTxn);
//   - move each partition's last stable offset to its log end (ListOffsets
//     latest at read_committed equals read_uncommitted);
//   - give a read_committed fetch from offset 0 exactly one aborted
//     transaction (the producer id, first offset 0) per partition if it
//     aborted and none if it committed;
//   - and take a new transaction of the same transactional id.
func TestKillBetweenTxnMarkers(t *testing.T) {
	t.Parallel()
	p := startProcess(t, t.TempDir(), txnBrokerArgs...)
	delays := []time.Duration{0, 50 * time.Microsecond, 100 * time.Microsecond, 150 * time.Microsecond, 200 * time.Microsecond, 300 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond}
	told := map[string]int{}
	for round, delay := range delays {
		for _, commit := range []bool{true, false} {
			name := fmt.Sprintf("round %d (kill %v after EndTxn, commit=%v)", round, delay, commit)
			r := killBetweenMarkers(t, p, fmt.Sprintf("%d-%v", round, commit), delay, commit)
			told[r.told]++
			t.Logf("%s: the client was told %s; after the restart the coordinator first said %s; partition ends %v",
				name, r.told, r.firstState, r.ends)
		}
	}
	t.Logf("outcomes the client was told: %v", told)
}

// killOnEndTxn is a kgo hook that calls kill once, after the delay, when
// the client has written an EndTxn request (API key 26) to a broker.
type killOnEndTxn struct {
	once  sync.Once
	delay time.Duration
	kill  func()
	done  chan struct{}
}

func (k *killOnEndTxn) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key != int16(kmsg.EndTxn) || err != nil {
		return
	}
	k.once.Do(func() {
		go func() {
			defer close(k.done)
			if k.delay > 0 {
				time.Sleep(k.delay) // the schedule: how long after the request the kill lands
			}
			k.kill()
		}()
	})
}

// killRound is what one round saw.
type killRound struct {
	told       string // what the client was told: "committed", "aborted" or "unknown"
	firstState string // the transaction's state in the first DescribeTransactions answer after the restart
	ends       []int64
}

// killBetweenMarkers runs one round on the broker p.
func killBetweenMarkers(t *testing.T, p *cluster.Process, id string, delay time.Duration, commit bool) killRound {
	t.Helper()
	const partitions, perPartition = 4, 3
	topic := "txn-kill-" + id
	txnID := "txn-kill-" + id
	createTopic(t, p.Addr, topic, partitions)

	k := &killOnEndTxn{delay: delay, kill: p.Kill, done: make(chan struct{})}
	cl := newClient(t, p.Addr,
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(txnCrashTimeout),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.WithHooks(k))
	ctx := testContext(t)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var want []string
	var rs []*kgo.Record
	for part := range int32(partitions) {
		for i := range perPartition {
			v := fmt.Sprintf("%s-%d-%d", id, part, i)
			want = append(want, v)
			rs = append(rs, &kgo.Record{Partition: part, Value: []byte(v)})
		}
	}
	for _, res := range cl.ProduceSync(ctx, rs...) {
		if res.Err != nil {
			t.Fatalf("produce in the transaction: %v", res.Err)
		}
		if wantOff := int64(slices.Index(want, string(res.Record.Value)) % perPartition); res.Record.Offset != wantOff {
			t.Fatalf("%s at %d/%d, want offset %d", res.Record.Value, res.Record.Partition, res.Record.Offset, wantOff)
		}
	}
	pid, _, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// kgo retries EndTxn while the broker is down; a short context ends
	// that, as a client that gives up.
	ectx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err = cl.EndTransaction(ectx, kgo.TransactionEndTry(commit))
	cancel()
	cl.Close()
	select {
	case <-k.done:
	case <-ctx.Done():
		t.Fatalf("the client never sent EndTxn")
	}
	outcome := "unknown"
	switch {
	case !commit:
		outcome = "aborted" // whatever the answer: no commit was asked
	case err == nil:
		outcome = "committed"
	}
	restart(t, p)

	// The recovered coordinator finishes the transaction: at once if the
	// decision was logged, at the transaction's timeout if not.
	adm := kadm.NewClient(client(t, p.Addr))
	var state, first string
	pollTxn(t, ctx, "the transaction finished", func() error {
		d, err := adm.DescribeTransactions(ctx, txnID)
		if err == nil {
			var dt kadm.DescribedTransaction
			dt, err = d.On(txnID, nil)
			if err == nil {
				err = dt.Err
			}
			state = dt.State
			if first == "" {
				first = state
			}
		}
		if err != nil {
			return err
		}
		if state != "CompleteCommit" && state != "CompleteAbort" {
			return fmt.Errorf("transaction %s is %s", txnID, state)
		}
		return nil
	})
	committed := state == "CompleteCommit"
	if outcome == "committed" && !committed || outcome == "aborted" && committed {
		t.Fatalf("the client was told %s; the recovered coordinator says %s", outcome, state)
	}

	var lso, hw map[int32]int64
	pollTxn(t, ctx, "last stable offsets at the log end", func() error {
		lso, hw = map[int32]int64{}, map[int32]int64{}
		l, err := adm.ListCommittedOffsets(ctx, topic)
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			return err
		}
		h, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = h.Error()
		}
		if err != nil {
			return err
		}
		l.Each(func(o kadm.ListedOffset) { lso[o.Partition] = o.Offset })
		h.Each(func(o kadm.ListedOffset) { hw[o.Partition] = o.Offset })
		if len(lso) != partitions || !maps.Equal(lso, hw) {
			return fmt.Errorf("last stable offsets %v, high watermarks %v", lso, hw)
		}
		return nil
	})
	for part, end := range hw {
		// The records and a marker; a coordinator that resent the
		// markers after its restart may have added a second one
		// (legal: a marker for a transaction already ended there is
		// appended and decides nothing).
		if end != perPartition+1 && end != perPartition+2 {
			t.Fatalf("partition %d ends at %d, want %d records and one or two markers", part, end, perPartition)
		}
	}

	// The aborted transactions a read_committed fetch from the start
	// returns, per partition.
	for part := range int32(partitions) {
		resp := fetchCommitted(t, ctx, adm, p.Addr, topic, part)
		if resp.ErrorCode != 0 || resp.HighWatermark != hw[part] || resp.LastStableOffset != hw[part] {
			t.Fatalf("read_committed fetch of %s-%d: error %d, high watermark %d, last stable offset %d; want 0, %d, %d",
				topic, part, resp.ErrorCode, resp.HighWatermark, resp.LastStableOffset, hw[part], hw[part])
		}
		var got []string
		for _, a := range resp.AbortedTransactions {
			got = append(got, fmt.Sprintf("%d@%d", a.ProducerID, a.FirstOffset))
		}
		var wantAborted []string
		if !committed {
			wantAborted = []string{fmt.Sprintf("%d@0", pid)}
		}
		if !slices.Equal(got, wantAborted) {
			t.Fatalf("read_committed fetch of %s-%d: aborted transactions %v, want %v", topic, part, got, wantAborted)
		}
	}

	uncommitted := cluster.ReadTxnTopic(t, p.Addr, topic, partitions, kgo.ReadUncommitted(), waitFor)
	if got := flatten(uncommitted); !slices.Equal(got, want) {
		t.Fatalf("read_uncommitted: %q, want %q", got, want)
	}
	readCommitted := flatten(cluster.ReadTxnTopic(t, p.Addr, topic, partitions, kgo.ReadCommitted(), waitFor))
	switch {
	case committed && !slices.Equal(readCommitted, want):
		t.Fatalf("committed; read_committed has %q, want %q", readCommitted, want)
	case !committed && len(readCommitted) != 0:
		t.Fatalf("aborted; read_committed has %q", readCommitted)
	}

	// The transactional id goes on: a new producer fences the old epoch
	// and commits a transaction.
	cl2 := client(t, p.Addr, kgo.TransactionalID(txnID), kgo.TransactionTimeout(txnCrashTimeout),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl2.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte(id + "-after")}).FirstErr(); err != nil {
		t.Fatalf("produce after the restart: %v", err)
	}
	if err := cl2.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit after the restart: %v", err)
	}
	cl2.Close()
	after := cluster.ReadTxnTopic(t, p.Addr, topic, 1, kgo.ReadCommitted(), waitFor)[0]
	if len(after) == 0 || after[len(after)-1] != id+"-after" {
		// What the broker told the consumer: the aborted transactions
		// and the stable offset of a read_committed fetch from 0, and
		// the producer's state there.
		resp := fetchCommitted(t, ctx, adm, p.Addr, topic, 0)
		var aborted []string
		for _, a := range resp.AbortedTransactions {
			aborted = append(aborted, fmt.Sprintf("%d@%d", a.ProducerID, a.FirstOffset))
		}
		// And whether a second consumer reads the same, from where the
		// broker says the partition starts.
		starts, err := adm.ListStartOffsets(ctx, topic)
		again := cluster.ReadTxnTopic(t, p.Addr, topic, 1, kgo.ReadCommitted(), waitFor)[0]
		t.Fatalf("read_committed of partition 0 after a new commit: %q (producer %d; fetch: error %d, high watermark %d, "+
			"last stable offset %d, aborted %v; start offsets %v (%v); a second read_committed read %q); broker log:\n%s",
			after, pid, resp.ErrorCode, resp.HighWatermark, resp.LastStableOffset, aborted, starts, err, again, p.Log())
	}
	r := killRound{told: outcome, firstState: first}
	for part := range int32(partitions) {
		r.ends = append(r.ends, hw[part])
	}
	return r
}

// pollTxn retries cond until it succeeds or ctx ends (a test failure).
func pollTxn(t *testing.T, ctx context.Context, what string, cond func() error) {
	t.Helper()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// flatten lists the values of partitions 0, 1, ... in turn.
func flatten(byPartition map[int32][]string) []string {
	var out []string
	for p := range int32(len(byPartition)) {
		out = append(out, byPartition[p]...)
	}
	return out
}

// fetchCommitted sends one read_committed Fetch of topic's partition from
// offset 0 and returns the partition's answer.
func fetchCommitted(t *testing.T, ctx context.Context, adm *kadm.Client, addr, topic string, partition int32) kmsg.FetchResponseTopicPartition {
	t.Helper()
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MaxBytes = 1 << 20
	req.IsolationLevel = 1
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, tds[topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = partition, 0, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	cl := newClient(t, addr)
	defer cl.Close()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	fr := resp.(*kmsg.FetchResponse)
	if fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch %s-%d: error %d, %d topics", topic, partition, fr.ErrorCode, len(fr.Topics))
	}
	return fr.Topics[0].Partitions[0]
}
