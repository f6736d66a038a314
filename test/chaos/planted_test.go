package chaos

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestPlantedAckEarly shows that the suite catches a real bug: a broker
// built with -tags samsa_planted_ackearly answers acks=all as soon as the
// leader has appended (internal/api/plant_on.go). The schedule makes the
// loss likely: both followers of the partition are paused (SIGSTOP), a
// burst is produced, the leader is killed (-9) right after its answers,
// the followers resume and one of them leads without the burst. Rounds
// repeat until the checker reports LOST, up to a bound. The same schedule
// against the real binary must find nothing: the records are never
// acknowledged, since the followers never fetched them.
func TestPlantedAckEarly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		tags    []string
		rounds  int
		wantBug bool
	}{
		{"planted", []string{"samsa_planted_ackearly"}, 5, true},
		{"real", nil, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin := ""
			if tc.tags != nil {
				bin = cluster.BinaryWithTags(t, tc.tags...)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c := startCluster(t, 3, bin)
			const topic = "planted"
			c.createTopic(ctx, topic, 1)
			rec := &recorder{}
			for round := 1; round <= tc.rounds; round++ {
				if err := c.healthy(ctx, topic, time.Minute, true); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				plantedRound(t, ctx, c, topic, round, rec)
				if err := c.healthy(ctx, topic, time.Minute, true); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				ends, err := stableEnds(ctx, c, topic)
				if err != nil {
					t.Fatal(err)
				}
				final, err := finalRead(ctx, c.seeds, topic, ends)
				if err != nil {
					t.Fatal(err)
				}
				h := rec.h
				h.Final = final
				report := Check(h)
				t.Logf("round %d:\n%s", round, report.Summary(10))
				if tc.wantBug && report.Count(Lost) > 0 {
					return
				}
				if !tc.wantBug && len(report.Anomalies) > 0 {
					t.Fatalf("round %d: anomalies against the real binary", round)
				}
			}
			if tc.wantBug {
				t.Fatalf("no LOST record in %d rounds against a binary that acknowledges early", tc.rounds)
			}
		})
	}
}

// plantedRound pauses the followers of partition 0, produces a burst,
// waits a moment for its answers, kills the leader, resumes the followers,
// waits for a new leader and restarts the old one.
func plantedRound(t *testing.T, ctx context.Context, c *chaosCluster, topic string, round int, rec *recorder) {
	t.Helper()
	leader := c.leaderOf(ctx, topic, 0)
	if leader < 0 {
		t.Fatalf("round %d: no leader", round)
	}
	followers := c.ids(leader)
	// A producer per round: the one before may have met the loss (an
	// out-of-order sequence) and reset itself.
	cl, err := kgo.NewClient(producerOpts(c.seeds, topic)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Connect and learn the leader before the followers stop.
	warm := fmt.Sprintf("r%d-warm", round)
	r, err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte(warm)}).First()
	if err != nil {
		t.Fatalf("round %d: warm-up produce: %v", round, err)
	}
	rec.ack(0, warm, r.Offset)
	for _, f := range followers {
		c.pause(f)
	}
	const burst = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for i := range burst {
		v := fmt.Sprintf("r%d-%d", round, i)
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Partition: 0, Value: []byte(v)}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err == nil {
				rec.ack(0, v, r.Offset)
				mu.Lock()
				acked++
				mu.Unlock()
			} else {
				rec.unacked(0, v)
			}
		})
	}
	// The schedule: give the answers a moment (a correct broker sends
	// none while the followers sleep), then kill.
	wait := make(chan struct{})
	go func() { wg.Wait(); close(wait) }()
	select {
	case <-wait:
	case <-time.After(2 * time.Second):
	}
	c.kill(leader)
	for _, f := range followers {
		c.resume(f)
	}
	c.poll(ctx, "a new leader", func() error {
		if l := c.leaderOf(ctx, topic, 0); l < 0 || l == leader {
			return fmt.Errorf("leader %d", l)
		}
		return nil
	})
	c.restart(leader)
	cl.Close() // fails what is still unanswered
	wg.Wait()
	mu.Lock()
	t.Logf("round %d: leader %d killed after %d of %d records were acknowledged", round, leader, acked, burst)
	mu.Unlock()
}
