package chaos

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/internal/group"
)

// TestTxnChaos3 runs transactional clients against three combined nodes
// under the fault schedule, with kills aimed at the transaction
// coordinator (mid-transaction: right as a producer ends one), at the
// group coordinator of the ETL group, and at data partition leaders, and
// ETL members crashing beside the brokers.
func TestTxnChaos3(t *testing.T) {
	t.Parallel()
	runTxnChaos(t, 3, 10)
}

const (
	// The internal topics get fewer partitions than Kafka's 50: each is
	// a coordinator shard to elect, load and replicate, and the test only
	// needs a few.
	txnStateParts = 8
	offsetsParts  = 8

	txnProducers  = 3
	txnConsumers  = 2
	etlMembers    = 3
	kindKillTxnCo = "kill-txn-coordinator"
	kindKillGrpCo = "kill-group-coordinator"
)

// txnNodeSets are the internal topics' sizes and a short interval between
// the coordinator's sweeps for timed-out transactions (Kafka's default is
// 10 s), so the transactions of crashed clients end soon after the run.
var txnNodeSets = []string{
	"--set", fmt.Sprintf("transaction.state.log.num.partitions=%d", txnStateParts),
	"--set", fmt.Sprintf("offsets.topic.num.partitions=%d", offsetsParts),
	"--set", "transaction.abort.timed.out.transaction.cleanup.interval.ms=1000",
}

func runTxnChaos(t *testing.T, n, ciFaults int) {
	s := seed(t)
	t.Logf("chaos seed %d (replay: -chaos.seed=%d)", s, s)
	start := time.Now()
	faults := ciFaults
	if raceEnabled {
		// Race-built brokers and clients are several times slower on
		// the same cores: a few faults still cover every code path.
		faults = 3
	}
	if *faultsFlag > 0 {
		faults = *faultsFlag
	}
	budget := time.Duration(faults)*70*time.Second + 8*time.Minute
	if *durationFlag > 0 {
		budget = *durationFlag + 8*time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()

	c := startCluster(t, n, "", txnNodeSets...)
	w := newTxnWorkload(c.seeds, s)
	c.createTopic(ctx, w.data, w.dataParts)
	c.createTopic(ctx, w.in, w.etlParts)
	c.createTopic(ctx, w.out, w.etlParts)
	if err := w.fillInput(ctx, 50, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for id := range txnProducers {
		w.startProducer(id)
	}
	for range txnConsumers {
		w.startConsumer(20 * time.Second)
	}
	w.startMembers(etlMembers)
	// Before any fault: every kind of transaction commits on a healthy
	// cluster (and the coordinators' internal topics exist, for the
	// nemesis to aim at).
	first := func() error {
		var prod, etl int
		w.rec.mu.Lock()
		for _, t := range w.rec.txns {
			if t.Outcome == Committed {
				if t.Writes[0].Input == nil {
					prod++
				} else {
					etl++
				}
			}
		}
		w.rec.mu.Unlock()
		if prod == 0 || etl == 0 {
			return fmt.Errorf("committed: %d producer transactions, %d ETL transactions; by outcome %v", prod, etl, w.rec.counts())
		}
		return nil
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	for err := first(); err != nil; err = first() {
		select {
		case <-fctx.Done():
			c.keepLogs(s)
			t.Fatalf("no fault yet, 2 minutes: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	cancel()
	w.crashMembers()

	nem := newNemesis(t, c, s, w.data, w.dataParts)
	nem.addKillTarget(killTarget{kind: kindKillTxnCo, weight: 4, aim: func(rng *rand.Rand) (string, int32, func(context.Context)) {
		// A producer's coordinator, killed right as the producer ends a
		// transaction (EndTxn, then the markers), or an ETL member's,
		// killed at once (they are mostly mid-transaction).
		i := rng.IntN(txnProducers + etlMembers)
		if i >= txnProducers {
			return "__transaction_state", group.PartitionFor(memberTxnID(i-txnProducers), txnStateParts), nil
		}
		id := producerTxnID(i)
		return "__transaction_state", group.PartitionFor(id, txnStateParts), func(ctx context.Context) { w.waitEnding(ctx, id) }
	}})
	nem.addKillTarget(killTarget{kind: kindKillGrpCo, weight: 3, aim: func(*rand.Rand) (string, int32, func(context.Context)) {
		return "__consumer_offsets", group.PartitionFor(w.group, offsetsParts), nil
	}})
	nem.run(ctx, faults, *durationFlag)

	report, err := settleTxns(ctx, c, w)
	t.Logf("seed %d, %d nodes, %v\n%s\n%s\n%s", s, n, time.Since(start).Round(time.Second), nem.summary(), w.crashSummary(), report.Summary(50))
	if err != nil {
		t.Fatal(err)
	}
	if report.Txns[Committed] == 0 {
		t.Fatalf("no transaction committed in the whole run")
	}
	if len(report.Anomalies) > 0 {
		t.Logf("what lies behind the first anomalies:\n%s", w.rec.explain(report, 20))
		c.keepLogs(s)
		t.Errorf("%d anomalies (replay: -chaos.seed=%d)", len(report.Anomalies), s)
	}
}

// keepLogs saves every node's whole log to a new directory that outlives
// the test, and says where.
func (c *chaosCluster) keepLogs(seed uint64) {
	dir, err := os.MkdirTemp("", fmt.Sprintf("samsa-txnchaos-%d-", seed))
	if err == nil {
		err = c.saveLogs(dir)
	}
	if err != nil {
		c.t.Logf("saving the node logs: %v", err)
		return
	}
	c.t.Logf("every node's whole log is in %s", dir)
}

// waitEnding waits (up to 5 s) until producer txnID is about to send
// EndTxn.
func (w *txnWorkload) waitEnding(ctx context.Context, txnID string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Drop a signal sent before this wait began.
	select {
	case <-w.ending:
	default:
	}
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-w.ending:
			if id == txnID {
				return
			}
		}
	}
}

// settleTxns heals the cluster, stops the clients, lets the ETL group
// finish the input, waits until no transaction is open, reads every
// partition at both isolation levels and checks the history (finishTxns).
func settleTxns(ctx context.Context, c *chaosCluster, w *txnWorkload) (TxnReport, error) {
	c.healAll()
	if err := c.healthy(ctx, w.data, 2*time.Minute, false); err != nil {
		return TxnReport{}, fmt.Errorf("after healing: %w", err)
	}
	ready := func(topic string) error {
		if err := c.healthy(ctx, topic, 2*time.Minute, true); err != nil {
			return fmt.Errorf("after healing: %w", err)
		}
		_, err := stableEnds(ctx, c, topic)
		return err
	}
	return finishTxns(ctx, c.adm, c.seeds, w, ready, c.t.Logf)
}

// finishTxns stops the clients, waits until each topic is ready (every
// replica has the whole log), lets the ETL group finish the input, waits
// until no transaction is open, reads every partition at both isolation
// levels and checks the history. A last stable offset that never reaches
// the log end is reported (LSO_STUCK) without the reads, which could not
// finish.
func finishTxns(ctx context.Context, adm *kadm.Client, seeds []string, w *txnWorkload, ready func(topic string) error, logf func(string, ...any)) (TxnReport, error) {
	w.stopMemberCrashes()
	w.stopProducers()
	w.stopConsumers()
	w.stopInput()
	for _, topic := range []string{w.in, w.data} {
		if err := ready(topic); err != nil {
			return TxnReport{}, err
		}
	}
	listed, err := adm.ListEndOffsets(ctx, w.in)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return TxnReport{}, err
	}
	inEnds := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			inEnds[o.Partition] = o.Offset
		}
	})
	// The group copies what is left of the input; how far it gets is not
	// checked (what it committed is), but a group that cannot finish on a
	// healed cluster is worth a line in the log.
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	var offsets map[int32]int64
	for {
		offsets, err = committedOffsets(dctx, adm, w.group, w.in)
		if err == nil && maps.Equal(offsets, inEnds) {
			break
		}
		select {
		case <-dctx.Done():
			logf("the ETL group did not finish the input within 2 minutes of healing: committed %v, input ends %v (%v)", offsets, inEnds, err)
		case <-time.After(500 * time.Millisecond):
			continue
		}
		break
	}
	cancel()
	w.stopAllMembers()

	topics := []string{w.data, w.out}
	parts := map[string]int32{w.data: w.dataParts, w.out: w.etlParts, w.in: w.etlParts}
	if err := ready(w.out); err != nil {
		return TxnReport{}, err
	}
	h := TxnHistory{Txns: w.rec.txns, Reads: w.rec.reads} // every goroutine that wrote them has stopped
	// A transaction a crashed client left open ends at its timeout (or
	// the next InitProducerId of its id); allow that and the sweep.
	lctx, cancel := context.WithTimeout(ctx, txnTimeout+time.Minute)
	h.StableEnd, h.End, err = lastStableOffsets(lctx, adm, topics...)
	cancel()
	if err != nil {
		return TxnReport{}, err
	}
	if !maps.Equal(h.StableEnd, h.End) {
		return CheckTxns(TxnHistory{StableEnd: h.StableEnd, End: h.End}), nil
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	offsets, err = committedOffsets(cctx, adm, w.group, w.in)
	cancel()
	if err != nil {
		return TxnReport{}, err
	}
	h.Committed, h.Uncommitted = map[TP][]Record{}, map[TP][]Record{}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for _, topic := range append(topics, w.in) {
		sentinels, err := writeSentinels(rctx, seeds, topic, parts[topic])
		if err != nil {
			return TxnReport{}, err
		}
		unc, err := readTxnTopic(rctx, seeds, topic, sentinels, kgo.ReadUncommitted())
		if err != nil {
			return TxnReport{}, err
		}
		if topic == w.in {
			h.ETL = &ETLHistory{Input: w.in, Output: w.out, InputFinal: map[int32][]Record{}, CommittedOffsets: offsets}
			for tp, recs := range unc {
				h.ETL.InputFinal[tp.Partition] = recs
			}
			continue
		}
		com, err := readTxnTopic(rctx, seeds, topic, sentinels, kgo.ReadCommitted())
		if err != nil {
			return TxnReport{}, err
		}
		maps.Copy(h.Uncommitted, unc)
		maps.Copy(h.Committed, com)
	}
	return CheckTxns(h), nil
}

// lastStableOffsets polls ListOffsets latest at both isolation levels for
// topics until they agree on every partition (no transaction open) or ctx
// ends, and returns the last answers; an error if none came.
func lastStableOffsets(ctx context.Context, adm *kadm.Client, topics ...string) (stable, end map[TP]int64, err error) {
	for {
		lso, lerr := adm.ListCommittedOffsets(ctx, topics...)
		if lerr == nil {
			lerr = lso.Error()
		}
		hw, herr := adm.ListEndOffsets(ctx, topics...)
		if herr == nil {
			herr = hw.Error()
		}
		if lerr == nil && herr == nil {
			stable, end = map[TP]int64{}, map[TP]int64{}
			lso.Each(func(o kadm.ListedOffset) { stable[TP{o.Topic, o.Partition}] = o.Offset })
			hw.Each(func(o kadm.ListedOffset) { end[TP{o.Topic, o.Partition}] = o.Offset })
			if maps.Equal(stable, end) {
				return stable, end, nil
			}
		} else {
			err = fmt.Errorf("list offsets: %v, %v", lerr, herr)
		}
		select {
		case <-ctx.Done():
			if stable == nil {
				return nil, nil, err
			}
			return stable, end, nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}
