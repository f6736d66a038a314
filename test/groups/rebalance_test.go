package groups

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRebalanceUnderLoad runs a group of each client on a 12-partition
// topic under continuous production: 3 members, then a fourth joins, then
// one of the first three leaves. No acknowledged record may go unconsumed,
// the group's commits must end at the end offsets, and no stable
// generation may give a partition to two members, as reported by the
// clients (per generation) and as described by the coordinator (at every
// Stable state the monitor sees).
func TestRebalanceUnderLoad(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, c := range []struct {
		name  string
		start memberFunc
	}{
		{"sarama-range", saramaMember(sarama.NewBalanceStrategyRange)},
		{"sarama-roundrobin", saramaMember(sarama.NewBalanceStrategyRoundRobin)},
		{"kafkago-reader", kafkaGoMember},
		{"franz-cooperative-sticky", franzMember(kgo.CooperativeStickyBalancer())},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rebalanceUnderLoad(t, b.Addr(), c.name, c.start)
		})
	}
}

func rebalanceUnderLoad(t *testing.T, addr, name string, start memberFunc) {
	const partitions = 12
	ctx := testCtx(t, 60*time.Second)
	adm := newAdmin(t, addr)
	topic, group := "load-"+name, "group-"+name
	createTopic(ctx, t, adm, topic, partitions)
	l := newLedger()
	mon := startMonitor(ctx, adm, group, topic)
	prod := startProducer(t, addr, topic, partitions)

	members := make(map[string]*member)
	for _, label := range []string{"m1", "m2", "m3"} {
		members[label] = start(t, addr, group, topic, label, l)
	}
	waitStable(ctx, t, adm, group, topic, 3, partitions)
	// Each phase lasts until every member has consumed another 100
	// records, so each rebalance happens under production.
	consuming := func(labels ...string) {
		t.Helper()
		before := make(map[string]int)
		for _, lb := range labels {
			before[lb] = l.count(lb)
		}
		waitFor(ctx, t, fmt.Sprintf("%v consuming", labels), func() bool {
			for _, lb := range labels {
				if l.count(lb) < before[lb]+100 {
					return false
				}
			}
			return true
		}, l.counts)
	}
	consuming("m1", "m2", "m3")

	members["m4"] = start(t, addr, group, topic, "m4", l)
	waitStable(ctx, t, adm, group, topic, 4, partitions)
	consuming("m1", "m2", "m3", "m4")

	members["m2"].stop()
	delete(members, "m2")
	waitStable(ctx, t, adm, group, topic, 3, partitions)
	consuming("m1", "m3", "m4")

	produced := prod.stop(ctx, t)
	waitDrained(ctx, t, addr, adm, l, group, topic, produced)
	last := l.waitLastCovers(ctx, t, partitions)
	for _, m := range members {
		m.stop()
	}
	mon.check(t)
	// The generations of the shutdown are checked too.
	gens := l.checkGenerations(t)
	if got := describe(ctx, adm, group); got.State != "Empty" {
		t.Errorf("after every member left: %s, want Empty", describeState(got, topic))
	}
	t.Logf("last generation of the scenario: %d", last)
	t.Logf("%d records produced, %d delivered twice; generations %v; consumed per member %s; %d stable descriptions",
		prod.total(), l.duplicates(), gens, l.counts(), mon.stable)
}
