package quorum

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestStopAfterQuorumLost: the last node of a three-node quorum, its peers
// stopped first (as a test harness or an operator stopping a cluster does),
// can no longer reach any controller, so its registration heartbeats retry
// without end; a shutdown must still end them and stop the node, after
// its bounded controlled-shutdown attempt. It used to wait in the
// heartbeat forever.
func TestStopAfterQuorumLost(t *testing.T) {
	t.Parallel()
	nodes := cluster.StartQuorum(t, 3, "broker.heartbeat.interval.ms=100")
	for _, n := range nodes[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := n.Shutdown(ctx); err != nil {
			t.Logf("shutdown of a peer: %v", err)
		}
		cancel()
	}
	// Once a request that needs the controller fails for a whole second,
	// the node's heartbeats (every 100 ms) are waiting for one too.
	cl, err := kgo.NewClient(kgo.SeedBrokers(nodes[0].Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(time.Minute)
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := adm.CreateTopic(ctx, 1, 1, nil, "probe")
		cancel()
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the last node still reaches a controller a minute after its peers stopped")
		}
		if _, err := adm.DeleteTopic(context.Background(), "probe"); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- nodes[0].Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Logf("the last node stopped: %v", err)
	case <-time.After(45 * time.Second):
		t.Fatal("the last node of a lost quorum did not stop within 45 s")
	}
}
