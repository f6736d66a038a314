package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestFsyncFailure breaks one replica's disk in a three-node in-process
// quorum under acks=all load: every fsync of its segment files fails
// (flush.messages=1 makes every append fsync, on followers too). Every
// record acknowledged before and after the fault must be in the final
// read, the broken node must report its failed log as fatal (and is shut
// down on it, as cmd/samsa does), and the partition must keep taking
// writes on the other replicas.
func TestFsyncFailure(t *testing.T) {
	t.Parallel()
	for _, victim := range []string{"follower", "leader"} {
		t.Run(victim, func(t *testing.T) {
			t.Parallel()
			fss := []*log.FaultFS{log.NewFaultFS(nil), log.NewFaultFS(nil), log.NewFaultFS(nil)}
			nodes := cluster.StartQuorumFS(t, []log.FS{fss[0], fss[1], fss[2]},
				"replica.lag.time.max.ms=3000", "broker.session.timeout.ms=3000", "broker.heartbeat.interval.ms=500")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			seeds := []string{nodes[0].Addr(), nodes[1].Addr(), nodes[2].Addr()}
			acl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
			if err != nil {
				t.Fatal(err)
			}
			defer acl.Close()
			adm := kadm.NewClient(acl)
			const topic = "fsync"
			minISR, flush := "2", "1"
			res, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &minISR, "flush.messages": &flush}, topic)
			if err == nil {
				err = res.Err
			}
			if err != nil {
				t.Fatal(err)
			}
			state := func() (kadm.PartitionDetail, error) {
				tds, err := adm.ListTopics(ctx, topic)
				if err != nil {
					return kadm.PartitionDetail{}, err
				}
				p := tds[topic].Partitions[0]
				if p.Leader < 0 || len(p.ISR) != 3 {
					return p, fmt.Errorf("leader %d ISR %v", p.Leader, p.ISR)
				}
				return p, nil
			}
			var before kadm.PartitionDetail
			pollUntil(t, ctx, "a full ISR", func() (err error) { before, err = state(); return err })

			cl, err := kgo.NewClient(append(producerOpts(seeds, topic), kgo.RecordDeliveryTimeout(10*time.Second))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			rec := &recorder{}
			seq := 0
			// batch produces 20 records and reports how many were
			// acknowledged.
			batch := func() int {
				var rs []*kgo.Record
				for range 20 {
					rs = append(rs, &kgo.Record{Partition: 0, Value: []byte(fmt.Sprintf("v%d", seq))})
					seq++
				}
				ok := 0
				for _, r := range cl.ProduceSync(ctx, rs...) {
					if r.Err == nil {
						rec.ack(0, string(r.Record.Value), r.Record.Offset)
						ok++
					} else {
						rec.unacked(0, string(r.Record.Value))
					}
				}
				return ok
			}
			for range 5 {
				if batch() != 20 {
					t.Fatal("a batch before the fault was not acknowledged")
				}
			}

			id := before.Leader
			if victim == "follower" {
				id = before.Replicas[slices.IndexFunc(before.Replicas, func(r int32) bool { return r != before.Leader })]
			}
			// The broken node reports its failed log (Fatal) and is
			// shut down on it, as cmd/samsa does: one log dir, and
			// Kafka stops a broker whose last log dir failed.
			stopped := make(chan error, 1)
			go func() {
				select {
				case err := <-nodes[id-1].Fatal():
					t.Logf("node %d: fatal: %v", id, err)
					sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer scancel()
					_ = nodes[id-1].Shutdown(sctx)
					stopped <- err
				case <-ctx.Done():
					stopped <- ctx.Err()
				}
			}()
			fss[id-1].InjectSync(".log", nil)
			t.Logf("every fsync of a segment on node %d (the %s; leader %d, ISR %v) fails from now", id, victim, before.Leader, before.ISR)

			// Availability: the partition must take writes again,
			// on the other replicas, within the deadline; then keep
			// taking them.
			acked, tries := 0, 0
			deadline := time.Now().Add(20 * time.Second)
			for acked < 200 && time.Now().Before(deadline) {
				acked += batch()
				tries++
			}
			after, _ := adm.ListTopics(ctx, topic)
			p := after[topic].Partitions[0]
			sizes := map[int32]int64{}
			if dirs, err := adm.DescribeAllLogDirs(ctx, nil); err == nil {
				for b, ds := range dirs {
					if d, ok := ds.LookupPartition(topic, 0); ok {
						sizes[b] = d.Size
					}
				}
			}
			t.Logf("after the fault: %d records acknowledged in %d batches of 20; leader %d, ISR %v; log bytes by node %v",
				acked, tries, p.Leader, p.ISR, sizes)
			unavailable := acked < 200
			// Does the committed ISR still name the broken replica?
			// (It cannot have fetched what was acknowledged since.)
			isrDeadline := time.Now().Add(10 * time.Second)
			for slices.Contains(p.ISR, id) && time.Now().Before(isrDeadline) {
				time.Sleep(200 * time.Millisecond)
				tds, err := adm.ListTopics(ctx, topic)
				if err == nil {
					p = tds[topic].Partitions[0]
				}
			}
			t.Logf("10 s later: leader %d, ISR %v", p.Leader, p.ISR)

			// Durability: read everything from a replica that leads
			// now, and check the history.
			lo, err := adm.ListEndOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			end, _ := lo.Lookup(topic, 0)
			rctx, rcancel := context.WithTimeout(ctx, time.Minute)
			defer rcancel()
			final, err := finalRead(rctx, seeds, topic, map[int32]int64{0: end.Offset})
			if err != nil {
				t.Fatal(err)
			}
			h := rec.h
			h.Final = final
			report := Check(h)
			t.Logf("%s", report.Summary(20))
			if len(report.Anomalies) > 0 {
				t.Errorf("%d anomalies", len(report.Anomalies))
			}
			fss[id-1].ClearFaults()
			if unavailable {
				t.Errorf("the partition took %d acknowledged records in 20 s after node %d's disk failed: not available on the other replicas (leader %d, ISR %v)",
					acked, id, p.Leader, p.ISR)
			}
			if err := <-stopped; !errors.Is(err, log.ErrFailed) {
				t.Errorf("node %d: fatal error %v, want its failed log (log.ErrFailed)", id, err)
			}
		})
	}
}

// pollUntil retries cond until it succeeds or ctx ends (a failure).
func pollUntil(t *testing.T, ctx context.Context, what string, cond func() error) {
	t.Helper()
	var last error
	for {
		if last = cond(); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
