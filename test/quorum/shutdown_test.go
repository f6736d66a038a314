package quorum

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// longSession: a broker is fenced for silence only after 30 s, so within
// the test's windows (10 s) leadership can move only through the
// controlled shutdown, never through session expiry.
var longSession = []string{"--set", "broker.session.timeout.ms=30000", "--set", "broker.heartbeat.interval.ms=500"}

// TestControlledShutdown: a node of a 3-node combined cluster gets SIGTERM
// while a producer writes to an RF-3 topic it leads partitions of. The node
// first asks the controller (heartbeats with want_shut_down) to move its
// leaderships away, then stops: it exits 0 with its controlled shutdown
// complete, and well within the session timeout every other broker lists it
// as not live, with each partition led by a live broker. The producer never
// fails a record and keeps getting successes on every partition. Restarted,
// the node registers again and is listed live.
//
// The victim is a Raft follower in one subtest and the active controller in
// the other: it then moves its leaderships away through its own controller
// before the quorum elects another.
func TestControlledShutdown(t *testing.T) {
	for _, tc := range []struct {
		name       string
		controller bool
	}{{"follower", false}, {"active-controller", true}} {
		t.Run(tc.name, func(t *testing.T) {
			testControlledShutdown(t, startCombined(t, 3, longSession...), tc.controller)
		})
	}
}

const shutdownTopic = "cs"

func testControlledShutdown(t *testing.T, nodes []*cluster.Process, victimIsController bool) {
	brokerIDs := ids(1, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	ds := dialAll(t, nodes)
	agreed(t, ctx, ds, brokerIDs)

	admCl, err := kgo.NewClient(kgo.SeedBrokers(nodes[0].Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	if _, err := kadm.NewClient(admCl).CreateTopic(ctx, 6, 3, nil, shutdownTopic); err != nil {
		t.Fatalf("create %s: %v", shutdownTopic, err)
	}
	before := agreed(t, ctx, ds, brokerIDs)

	var active int32
	poll(t, ctx, func() error {
		active, err = ds[0].activeController(ctx)
		return err
	})
	vi := slices.IndexFunc(brokerIDs, func(id int32) bool { return (id == active) == victimIsController })
	victim := brokerIDs[vi]
	var others []*direct
	var live []int32
	for i, d := range ds {
		if i != vi {
			others, live = append(others, d), append(live, brokerIDs[i])
		}
	}
	var led []int
	for i, p := range before.Topics[shutdownTopic].Partitions {
		if p.Leader == victim {
			led = append(led, i)
		}
	}
	if len(led) == 0 {
		t.Fatalf("broker %d leads no partition: %+v", victim, before.Topics[shutdownTopic].Partitions)
	}
	t.Logf("victim %d (active controller %d) leads partitions %v", victim, active, led)

	addrs := clientAddrs(nodes)
	pr := startProducer(t, addrs, len(before.Topics[shutdownTopic].Partitions))
	defer pr.stop()
	// Every partition produces before the shutdown starts.
	pr.awaitProgress(t, ctx, pr.counts(), 30*time.Second)

	sigterm := time.Now()
	pr.slowestFrom(sigterm)
	if err := nodes[vi].Stop(); err != nil {
		t.Fatalf("node %d: SIGTERM: %v", victim, err)
	}
	stopped := time.Since(sigterm)
	log := nodes[vi].Log()
	if strings.Contains(log, "controlled shutdown did not finish in time") || !strings.Contains(log, "controlled shutdown complete") {
		t.Fatalf("node %d: controlled shutdown did not complete; log:\n%s", victim, log)
	}
	if !strings.Contains(log, "samsa node stopped cleanly") {
		t.Fatalf("node %d: no clean stop; log:\n%s", victim, log)
	}

	// Well below the 30 s session timeout, every other broker shows the
	// victim gone: not live, leading nothing, every partition led by a live
	// replica (each listing the victim as offline: the ISR never shrinks
	// until replication lands).
	moveCtx, moveCancel := context.WithDeadline(ctx, sigterm.Add(10*time.Second))
	defer moveCancel()
	poll(t, moveCtx, func() error {
		for _, d := range others {
			v, err := d.metadata(moveCtx)
			if err != nil {
				return err
			}
			if !slices.Equal(v.Brokers, live) {
				return fmt.Errorf("broker %s lists live brokers %v, want %v", d.addr, v.Brokers, live)
			}
			if err := sameTopics(before, v, false); err != nil {
				return fmt.Errorf("broker %s: %w", d.addr, err)
			}
			for i, p := range v.Topics[shutdownTopic].Partitions {
				if !slices.Contains(live, p.Leader) {
					return fmt.Errorf("broker %s: %s-%d led by %d, live brokers %v", d.addr, shutdownTopic, i, p.Leader, live)
				}
				if !slices.Equal(p.Offline, []int32{victim}) {
					return fmt.Errorf("broker %s: %s-%d offline replicas %v, want [%d]", d.addr, shutdownTopic, i, p.Offline, victim)
				}
			}
		}
		return nil
	})
	t.Logf("node %d exited %v after SIGTERM; its leaderships moved everywhere %v after it", victim,
		stopped.Round(time.Millisecond), time.Since(sigterm).Round(time.Millisecond))

	// The producer keeps going on every partition, those the victim led
	// among them, with no record failed, for a second more.
	pr.awaitProgress(t, ctx, pr.counts(), 15*time.Second)
	time.Sleep(time.Second)
	pr.awaitProgress(t, ctx, pr.counts(), 15*time.Second)
	st := pr.stop()
	t.Logf("producer: %d records acknowledged, %d failed; slowest acknowledgement since SIGTERM %v (partition %d, sent %v after SIGTERM)",
		st.acked, st.failed, st.slowest.Round(time.Millisecond), st.slowestPartition, st.slowestSent.Sub(sigterm).Round(time.Millisecond))
	if st.failed > 0 {
		t.Fatalf("producer: %d records failed; first: %v", st.failed, st.firstErr)
	}
	// No NOT_LEADER storm: the records the shutdown caught waited for one
	// move to the new leader, not for a metadata refresh.
	if st.slowest > maxAckDelay {
		t.Fatalf("producer: a record waited %v for its acknowledgement (partition %d), more than %v", st.slowest, st.slowestPartition, maxAckDelay)
	}

	// Only the controlled shutdown moved anything: no controller fenced the
	// victim for an expired session.
	for i, p := range nodes {
		if i == vi {
			continue
		}
		if f := fencedIn(p.Log()); len(f) > 0 {
			t.Fatalf("node %d's controller fenced brokers %v for expired sessions", i+1, f)
		}
	}

	// Restarted, the victim registers again (a new incarnation) and is
	// listed live, with every partition led; leaders do not move back (no
	// preferred-leader election yet).
	nodes[vi].Restart()
	ds[vi] = dial(t, nodes[vi].Addr)
	agreed(t, ctx, ds, brokerIDs)
	if !strings.Contains(nodes[vi].Log(), "registered with the controller") {
		t.Fatalf("node %d: restarted without registering; log:\n%s", victim, nodes[vi].Log())
	}
}

// maxAckDelay bounds how long a record sent once the shutdown began may
// wait for its acknowledgement. A NOT_LEADER_OR_FOLLOWER answer without
// KIP-951's current-leader hint makes franz-go wait out its metadata min
// age (10 s here) before it learns the new leader; with the hint it moves
// the partition at once (a few hundred ms at most here, the new leader's
// metadata lag included). 4 s is far above that and well below a refresh.
const maxAckDelay = 4 * time.Second

// producer writes to every partition of shutdownTopic in turn, without
// pause beyond a small pace, and records what each record's promise said.
type producer struct {
	cl       *kgo.Client
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once

	mu    sync.Mutex
	acked []int // per partition
	st    producerStats
	// from: only records sent since count for st.slowest.
	from time.Time
}

type producerStats struct {
	acked, failed    int
	firstErr         error
	slowest          time.Duration
	slowestPartition int32
	slowestSent      time.Time
}

// startProducer starts producing to partitions 0..n-1.
//
// Idempotence is off: a producer's sequence state lives in the old
// leader's log, and until replication lands the new leader has neither the
// data nor that state, so an idempotent producer would see
// OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID there, an artefact of
// the missing replication rather than of the shutdown. acks=all (kgo's
// default) is kept: it is what the shutdown must keep available once ISRs
// are real. Retries are kgo's (unbounded); RecordDeliveryTimeout turns a
// record stuck for 20 s (a NOT_LEADER storm, a leader nobody can reach)
// into a failure the test counts.
func startProducer(t *testing.T, addrs []string, n int) *producer {
	t.Helper()
	log := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(strings.TrimSpace(log.String()), "\n")
			lines = lines[max(0, len(lines)-logTail):]
			t.Logf("producer log (last %d lines):\n%s", len(lines), strings.Join(lines, "\n"))
		}
	})
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addrs...),
		kgo.DefaultProduceTopic(shutdownTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(20*time.Second),
		kgo.MaxBufferedRecords(2000),
		// Metadata at most every 10 s (kgo's default is 5 s): the
		// shutdown follows the producer's first metadata load by well
		// under a second, so a client that had to wait for a refresh
		// after NOT_LEADER_OR_FOLLOWER would stall ~9 s, far past
		// maxAckDelay (measured: 9.9 s without the KIP-951 hint).
		kgo.MetadataMinAge(10*time.Second),
		// Info: leadership moves (KIP-951) and metadata refreshes,
		// printed when the test fails.
		kgo.WithLogger(kgo.BasicLogger(log, kgo.LogLevelInfo, func() string { return time.Now().Format("15:04:05.000 ") })),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{cl: cl, cancel: cancel, done: make(chan struct{}), acked: make([]int, n)}
	go func() {
		defer close(p.done)
		pace := time.NewTicker(2 * time.Millisecond)
		defer pace.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-pace.C:
			}
			part := int32(i % n)
			sent := time.Now()
			// The promise's context is not ctx: stopping the producer
			// must not fail records already handed to it.
			cl.Produce(context.Background(), &kgo.Record{Partition: part, Value: fmt.Appendf(nil, "r-%d", i)},
				func(_ *kgo.Record, err error) { p.record(part, sent, err) })
		}
	}()
	return p
}

func (p *producer) record(part int32, sent time.Time, err error) {
	took := time.Since(sent)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.st.failed++
		if p.st.firstErr == nil {
			p.st.firstErr = fmt.Errorf("partition %d: %w", part, err)
		}
		return
	}
	p.st.acked++
	p.acked[part]++
	if !sent.Before(p.from) && took > p.st.slowest {
		p.st.slowest, p.st.slowestPartition, p.st.slowestSent = took, part, sent
	}
}

// slowestFrom counts only records sent at t or later for the slowest
// acknowledgement.
func (p *producer) slowestFrom(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.from = t
	p.st.slowest, p.st.slowestPartition, p.st.slowestSent = 0, -1, time.Time{}
}

// counts returns how many records each partition has acknowledged.
func (p *producer) counts() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.acked)
}

// awaitProgress waits (at most within) until every partition has
// acknowledged more records than since.
func (p *producer) awaitProgress(t *testing.T, ctx context.Context, since []int, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	poll(t, ctx, func() error {
		now := p.counts()
		var stuck []int
		for i := range now {
			if now[i] <= since[i] {
				stuck = append(stuck, i)
			}
		}
		if len(stuck) > 0 {
			p.mu.Lock()
			defer p.mu.Unlock()
			return fmt.Errorf("partitions %v acknowledged nothing new (%d failed records; first: %v)", stuck, p.st.failed, p.st.firstErr)
		}
		return nil
	})
}

// stop stops producing, waits for every record handed over to be
// acknowledged or failed, and returns the totals. Later calls return the
// same totals.
func (p *producer) stop() producerStats {
	p.stopOnce.Do(func() {
		p.cancel()
		<-p.done
		// Records still buffered when the flush gives up are failed by
		// Close, through their promises.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.cl.Flush(ctx)
		p.cl.Close()
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// lockedBuffer is a strings.Builder safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(b)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
