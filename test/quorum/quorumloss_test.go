package quorum

import (
	"context"
	"io"
	"net/http"
	"strings"
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
// heartbeat forever. On the way, its /readyz must stop answering ready
// once no controller has answered it for the session timeout.
func TestStopAfterQuorumLost(t *testing.T) {
	t.Parallel()
	nodes := cluster.StartQuorum(t, 3, "broker.heartbeat.interval.ms=100", "broker.session.timeout.ms=2000",
		"samsa.http.listen=127.0.0.1:0")
	readyz := "http://" + nodes[0].HTTPAddr() + "/readyz"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body := get(t, readyz)
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz before the peers stop: %d %q", code, body)
		}
	}
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
	// Cut off from any controller for over the 2 s session timeout: not
	// ready, saying why.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body := get(t, readyz)
		if code == http.StatusServiceUnavailable && strings.HasPrefix(body, "no heartbeat answered by the controller quorum for ") {
			t.Logf("/readyz: %s", strings.TrimSpace(body))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz of a node cut off from its quorum: %d %q", code, body)
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

// get fetches url, returning the status code and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
