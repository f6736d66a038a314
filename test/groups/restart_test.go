package groups

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestCommittedOffsetsSurviveRestart: offsets a group member committed
// survive a broker stop (SIGTERM, clean) and a crash (SIGKILL right after
// the commit was acknowledged), and a new member of the group resumes at
// exactly the committed offset of every partition, with franz-go and with
// sarama.
func TestCommittedOffsetsSurviveRestart(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		stop func(t *testing.T, p *cluster.Process)
	}{
		{"sigterm", func(t *testing.T, p *cluster.Process) {
			if err := p.Stop(); err != nil {
				t.Fatalf("broker exit: %v\n%s", err, p.Log())
			}
		}},
		{"sigkill", func(t *testing.T, p *cluster.Process) { p.Kill() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			offsetsSurviveRestart(t, c.stop)
		})
	}
}

func offsetsSurviveRestart(t *testing.T, stop func(*testing.T, *cluster.Process)) {
	const partitions, perPartition = 3, 20
	ctx := testCtx(t, 120*time.Second)
	var args []string
	for _, s := range brokerSets {
		args = append(args, "--set", s)
	}
	p := cluster.StartProcess(t, t.TempDir(), args...)
	adm := newAdmin(t, p.Addr)
	topic := "resume"
	createTopic(ctx, t, adm, topic, partitions)
	prod := newKgo(t, p.Addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for part := range int32(partitions) {
		for i := range perPartition {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Value: fmt.Appendf(nil, "%d-%d", part, i)})
		}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// Each group's only member commits these offsets inside its
	// generation, then leaves.
	want := map[int32]int64{0: 5, 1: 8, 2: 11}
	resumers := map[string]memberFunc{
		"franz":  franzMember(kgo.RangeBalancer()),
		"sarama": saramaMember(sarama.NewBalanceStrategyRange),
	}
	for name := range resumers {
		commitAsMember(ctx, t, p.Addr, "resume-"+name, topic, partitions, want)
	}
	checkCommitted := func(when string) {
		t.Helper()
		for name := range resumers {
			group := "resume-" + name
			os, err := adm.FetchOffsets(ctx, group)
			if err != nil {
				t.Fatalf("%s: fetch offsets of %s: %v", when, group, err)
			}
			got := make(map[int32]int64)
			os.Each(func(o kadm.OffsetResponse) {
				if o.Topic == topic && o.Err == nil {
					got[o.Partition] = o.At
				}
			})
			if !maps.Equal(got, want) {
				t.Errorf("%s: group %s committed %v, want %v", when, group, got, want)
			}
		}
	}
	checkCommitted("before the restart")

	stop(t, p)
	p.Restart()
	adm = newAdmin(t, p.Addr) // a new port
	checkCommitted("after the restart")
	for name := range resumers {
		g := describe(ctx, adm, "resume-"+name)
		if g.Err != nil || g.State != "Empty" || g.ProtocolType != "consumer" || len(g.Members) != 0 {
			t.Errorf("group resume-%s after the restart: %s, protocol type %q; want Empty consumer group", name, describeState(g, topic), g.ProtocolType)
		}
	}

	for name, start := range resumers {
		group := "resume-" + name
		l := newLedger()
		start(t, p.Addr, group, topic, name, l)
		produced := make(map[int32][]int64)
		for part, from := range want {
			for o := from; o < perPartition; o++ {
				produced[part] = append(produced[part], o)
			}
		}
		waitDrained(ctx, t, p.Addr, adm, l, group, topic, produced)
		// Offsets below the commit are never delivered: the member
		// started exactly at the committed offset, not at the reset
		// offset (the log start) a lost commit would lead to.
		l.mu.Lock()
		for part, from := range want {
			offs := slices.Sorted(maps.Keys(l.seen[part]))
			if len(offs) == 0 || offs[0] != from {
				t.Errorf("%s: partition %d: first offset consumed %v, want the committed %d", name, part, offs[:min(len(offs), 1)], from)
			}
		}
		l.mu.Unlock()
	}
}

// commitAsMember joins group with franz-go, waits until it owns every
// partition, commits offsets in its generation, and leaves.
func commitAsMember(ctx context.Context, t *testing.T, addr, group, topic string, partitions int32, offsets map[int32]int64) {
	t.Helper()
	assigned := make(chan struct{}, 1)
	cl := newKgo(t, addr,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.SessionTimeout(sessionTimeout),
		kgo.HeartbeatInterval(heartbeatInterval),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if int32(len(m[topic])) == partitions {
				select {
				case assigned <- struct{}{}:
				default:
				}
			}
		}),
	)
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatalf("%s: never assigned all partitions", group)
	}
	commit := map[string]map[int32]kgo.EpochOffset{topic: {}}
	for p, o := range offsets {
		commit[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	var commitErr error
	cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil && commitErr == nil {
					commitErr = fmt.Errorf("partition %d: %w", rp.Partition, err)
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatalf("%s: commit: %v", group, commitErr)
	}
	cl.Close()
}
