package groups

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// member is one running group member; stop makes it leave the group
// cleanly (LeaveGroup, after a last commit) and returns once it has.
type member struct {
	label string
	stop  func()
}

// memberFunc starts a member labelled label of group consuming topic,
// recording into l what it consumes and is assigned.
type memberFunc func(t testing.TB, addr, group, topic, label string, l *ledger) *member

// ---- sarama ----

func saramaMember(strategy func() sarama.BalanceStrategy) memberFunc {
	return func(t testing.TB, addr, group, topic, label string, l *ledger) *member {
		t.Helper()
		cfg := sarama.NewConfig()
		cfg.Version = sarama.MaxVersion
		cfg.ClientID = "groups-sarama-" + label
		cfg.Consumer.Group.Session.Timeout = sessionTimeout
		cfg.Consumer.Group.Heartbeat.Interval = heartbeatInterval
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy()}
		cfg.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
		cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
		cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
		cg, err := sarama.NewConsumerGroup([]string{addr}, group, cfg)
		if err != nil {
			t.Fatalf("sarama %s: %v", label, err)
		}
		h := &saramaHandler{label: label, topic: topic, l: l}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			// Consume returns at the end of each generation; calling
			// it again rejoins.
			for ctx.Err() == nil {
				if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
					t.Logf("sarama %s: consume: %v", label, err)
					select { // back off before rejoining
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				cancel()
				<-done
				if err := cg.Close(); err != nil {
					t.Errorf("sarama %s: close: %v", label, err)
				}
			})
		}
		t.Cleanup(stop)
		return &member{label: label, stop: stop}
	}
}

type saramaHandler struct {
	label, topic string
	l            *ledger
}

// Setup runs once per generation with the member's whole assignment
// (sarama's strategies are eager: everything is revoked between
// generations).
func (h *saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.l.assigned(s.GenerationID(), s.MemberID(), h.label, s.Claims()[h.topic])
	return nil
}

func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			h.l.consumed(h.label, m.Partition, m.Offset)
			s.MarkMessage(m, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

// ---- kafka-go ----

// kafkaGoMember is a kafka-go Reader with a GroupID. The Reader reports
// no assignments, but its logger sees the leader's plan: the leader logs
// "joined group ... in generation N" and then one line per member and
// topic with the partitions it assigned. That plan is what is recorded.
func kafkaGoMember(t testing.TB, addr, group, topic, label string, l *ledger) *member {
	t.Helper()
	var gen int32 // the generation this reader last joined; both lines below come from its join goroutine
	logger := kafka.LoggerFunc(func(format string, args ...any) {
		switch format {
		case "joined group %s as member %s in generation %d":
			id, _ := args[1].(string)
			gen, _ = args[2].(int32)
			l.label(id, label)
		case "assigned member/topic/partitions %v/%v/%v":
			id, _ := args[0].(string)
			if tp, _ := args[1].(string); tp != topic {
				return
			}
			ps, _ := args[2].([]int)
			p32 := make([]int32, len(ps))
			for i, p := range ps {
				p32[i] = int32(p)
			}
			l.assigned(gen, id, "", p32)
		}
	})
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{addr},
		GroupID:           group,
		Topic:             topic,
		HeartbeatInterval: heartbeatInterval,
		SessionTimeout:    sessionTimeout,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  100 * time.Millisecond,
		CommitInterval:    100 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		// kafka-go waits for a fetch answer MaxWait and asks the
		// broker for MaxWait less a quarter: under -race on a busy
		// machine 100 ms leaves too little slack (i/o timeouts).
		MaxWait:        time.Second,
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: 200 * time.Millisecond,
		Logger:         logger,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			t.Logf("kafka-go %s: "+format, append([]any{label}, args...)...)
		}),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			// A message returned is committed (asynchronously):
			// record it even if the member is stopping.
			m, err := r.ReadMessage(ctx)
			if err == nil {
				l.consumed(label, int32(m.Partition), m.Offset)
				continue
			}
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			// The Reader reports here a group join that failed
			// MaxAttempts times in a row, and keeps trying.
			t.Logf("kafka-go %s: read: %v", label, err)
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			// Close commits what was read and leaves the group.
			if err := r.Close(); err != nil {
				t.Errorf("kafka-go %s: close: %v", label, err)
			}
		})
	}
	t.Cleanup(stop)
	return &member{label: label, stop: stop}
}

// ---- franz-go ----

// franzMember is a franz-go consumer with the given balancer and extra
// options. With the cooperative-sticky balancer a generation only revokes
// or only adds partitions; franz-go calls OnPartitionsAssigned once per
// generation (with the partitions added, possibly none) after any
// revocation of that generation, so the set owned right after it is the
// member's assignment in that generation.
func franzMember(balancer kgo.GroupBalancer, extra ...kgo.Opt) memberFunc {
	return func(t testing.TB, addr, group, topic, label string, l *ledger) *member {
		t.Helper()
		var mu sync.Mutex
		owned := make(map[int32]bool)
		record := func(cl *kgo.Client) {
			id, gen := cl.GroupMetadata()
			l.assigned(gen, id, label, slices.Collect(maps.Keys(owned)))
		}
		opts := []kgo.Opt{
			kgo.SeedBrokers(addr),
			kgo.ClientID("groups-franz-" + label),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(topic),
			kgo.Balancers(balancer),
			kgo.SessionTimeout(sessionTimeout),
			kgo.HeartbeatInterval(heartbeatInterval),
			kgo.AutoCommitInterval(100 * time.Millisecond),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(100 * time.Millisecond),
			kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, added map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				for _, p := range added[topic] {
					owned[p] = true
				}
				record(cl)
			}),
			// Setting OnPartitionsRevoked replaces franz-go's commit
			// on revoke, so commit here what was consumed.
			kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					t.Logf("franz %s: commit on revoke: %v", label, err)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, p := range revoked[topic] {
					delete(owned, p)
				}
			}),
			kgo.OnPartitionsLost(func(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				for _, p := range lost[topic] {
					delete(owned, p)
				}
			}),
		}
		cl, err := kgo.NewClient(append(opts, extra...)...)
		if err != nil {
			t.Fatalf("franz %s: %v", label, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				// Records polled count as consumed (autocommit and
				// the commit on revoke cover them), so they are
				// recorded even when the member is stopping.
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) { l.consumed(label, r.Partition, r.Offset) })
				if ctx.Err() != nil || fs.IsClientClosed() {
					return
				}
				// franz-go reports here errors it retries, such as
				// a join refused with COORDINATOR_NOT_AVAILABLE
				// while __consumer_offsets is being created; the
				// test's checks are what must hold.
				fs.EachError(func(tp string, p int32, err error) {
					t.Logf("franz %s: fetch %s[%d]: %v", label, tp, p, err)
				})
			}
		}()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				cancel()
				<-done
				cl.Close() // revokes (committing) and leaves the group
			})
		}
		t.Cleanup(stop)
		return &member{label: label, stop: stop}
	}
}
