package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// OneNode is a one-node quorum whose node is registered as an unfenced
// broker, with the node's metadata publisher: what package tests use in
// place of a whole broker (hashicorp/raft's testing.go is the model).
type OneNode struct {
	*Controller
	Pub *metadata.Publisher
}

// OpenOneNode opens a one-node quorum in cfg.DataDir and registers
// cfg.NodeID as a broker at host:port, unfenced, before it returns.
func OpenOneNode(cfg Config, host string, port int32) (*OneNode, error) {
	pub := metadata.NewPublisher(metadata.Empty("", cfg.NodeID))
	cfg.Publish = pub.Publish
	c, err := Open(cfg)
	if err != nil {
		pub.Close()
		return nil, err
	}
	o := &OneNode{Controller: c, Pub: pub}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.start(ctx, host, port); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

func (o *OneNode) start(ctx context.Context, host string, port int32) error {
	if err := o.WaitActive(ctx); err != nil {
		return err
	}
	// The bootstrap records follow activation by one commit.
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for o.Controller.Image().ClusterID == "" {
		select {
		case <-ctx.Done():
			return fmt.Errorf("controller: no cluster id: %w", ctx.Err())
		case <-t.C:
		}
	}
	epoch, err := o.RegisterBroker(ctx, Registration{NodeID: o.cfg.NodeID, Incarnation: metadata.NewUUID(),
		Host: host, Port: port, MaxMetadataVersion: metadata.MaxMetadataVersion})
	if err != nil {
		return err
	}
	o.Pub.ReleaseAt(epoch)
	if _, err := o.BrokerHeartbeat(ctx, Heartbeat{NodeID: o.cfg.NodeID, Epoch: epoch, MetadataOffset: epoch}); err != nil {
		return err
	}
	return o.Pub.WaitFor(ctx, o.Controller.Image().Offset)
}

// Image is the published image.
func (o *OneNode) Image() *metadata.Image { return o.Pub.Image() }

// Subscribe subscribes to the publisher.
func (o *OneNode) Subscribe(fn func(prev, next *metadata.Image)) { o.Pub.Subscribe(fn) }

// CreateTopics creates topics and waits until subscribers have them.
func (o *OneNode) CreateTopics(ctx context.Context, specs []TopicSpec, validateOnly bool) ([]Created, []error) {
	out, errs := o.Controller.CreateTopics(ctx, specs, validateOnly)
	_ = o.Pub.WaitFor(ctx, o.Controller.Image().Offset)
	return out, errs
}

// Forward has nowhere to forward to: the one node decides.
func (o *OneNode) Forward(context.Context, kmsg.Request) (kmsg.Response, error) {
	return nil, kerr.NotController
}

// ActiveID is the one node.
func (o *OneNode) ActiveID() int32 { return o.cfg.NodeID }

// Close stops the quorum and the publisher.
func (o *OneNode) Close() error {
	err := o.Controller.Close()
	o.Pub.Close()
	return err
}
