package peer

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// image registers node 5 at addr.
func image(t *testing.T, addr string) *metadata.Image {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	img := metadata.Empty("peer-test", 1)
	next, err := img.Apply(0, metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: 5, Host: host, Port: int32(p), Unfenced: true}})
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func fakeBroker(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// TestPool: a request reaches the node at its registered endpoint; a
// moved endpoint gets a new client; an unregistered node and a closed pool
// are BROKER_NOT_AVAILABLE.
func TestPool(t *testing.T) {
	t.Parallel()
	first, second := fakeBroker(t), fakeBroker(t)
	p := New(Config{NodeID: 1, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	empty := metadata.Empty("peer-test", 1)
	p.OnImage(empty, image(t, first))
	resp, err := p.Request(ctx, 5, kmsg.NewPtrMetadataRequest())
	if err != nil || len(resp.(*kmsg.MetadataResponse).Brokers) != 1 {
		t.Fatalf("request: %v %v", resp, err)
	}
	c1 := p.clients[5]
	p.OnImage(empty, image(t, second))
	if _, err := p.Request(ctx, 5, kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatalf("after the move: %v", err)
	}
	if c2 := p.clients[5]; c2 == c1 || c2.addr != second {
		t.Fatalf("client after the move: %+v", c2)
	}
	if _, err := p.Request(ctx, 6, kmsg.NewPtrMetadataRequest()); !errors.Is(err, kerr.BrokerNotAvailable) {
		t.Fatalf("unknown node: %v", err)
	}
	p.OnImage(empty, empty)
	if _, err := p.Request(ctx, 5, kmsg.NewPtrMetadataRequest()); !errors.Is(err, kerr.BrokerNotAvailable) {
		t.Fatalf("a node that left: %v", err)
	}
	p.Close()
	if _, err := p.Request(ctx, 5, kmsg.NewPtrMetadataRequest()); !errors.Is(err, kerr.BrokerNotAvailable) {
		t.Fatalf("closed: %v", err)
	}
}
