package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
)

// Topic is a coordinator's internal topic as its clients find it: created
// through the controller on the first FindCoordinator (as Kafka does),
// after which the coordinator of a key is the leader of the partition the
// key hashes to. The group and transaction coordinators each have one.
type Topic struct {
	Spec   controller.TopicSpec // what to create; Internal is set
	NodeID int32                // this broker
	Image  func() *metadata.Image
	Create func(ctx context.Context, specs []controller.TopicSpec, validateOnly bool) ([]controller.Created, []error)
	// Serves reports whether this broker has a shard (loaded or loading)
	// for a partition (Runtime.Serves).
	Serves func(index int32) bool
	Logger *slog.Logger

	mu      sync.Mutex // one creation at a time
	lastErr string     // the last creation failure logged; under mu
}

// Find returns the broker coordinating the key that pick places (given the
// topic's partition count), creating the topic first if it does not exist.
// An error wraps COORDINATOR_NOT_AVAILABLE: the topic cannot be created
// yet, or the partition has no live leader, or this broker leads it but
// could not open its replica (naming itself would send the client into a
// NOT_COORDINATOR loop).
func (t *Topic) Find(ctx context.Context, pick func(partitions int32) int32) (metadata.Broker, error) {
	name := t.Spec.Name
	img := t.Image()
	tp := img.Topics[name]
	if tp == nil {
		if err := t.create(ctx); err != nil {
			return metadata.Broker{}, err
		}
		img = t.Image()
		if tp = img.Topics[name]; tp == nil {
			return metadata.Broker{}, fmt.Errorf("coordinator: %s does not exist: %w", name, kerr.CoordinatorNotAvailable)
		}
	}
	if len(tp.Partitions) == 0 {
		return metadata.Broker{}, fmt.Errorf("coordinator: %s has no partitions: %w", name, kerr.CoordinatorNotAvailable)
	}
	p := tp.Partitions[pick(int32(len(tp.Partitions)))]
	b, ok := img.Brokers[p.Leader]
	if p.Leader < 0 || !ok || !b.Live() {
		return metadata.Broker{}, fmt.Errorf("coordinator: partition %d of %s has no live leader: %w", p.Index, name, kerr.CoordinatorNotAvailable)
	}
	if p.Leader == t.NodeID && !t.Serves(p.Index) {
		return metadata.Broker{}, fmt.Errorf("coordinator: partition %d of %s is not available here: %w", p.Index, name, kerr.CoordinatorNotAvailable)
	}
	return b, nil
}

// create creates the topic through the controller. A failure (too few
// brokers for the replication factor, say) is COORDINATOR_NOT_AVAILABLE,
// which clients retry, and each retry tries again: in a cluster still
// starting, the topic is created by the first FindCoordinator after
// enough brokers registered, as in Kafka. A failure is logged when it
// differs from the last one, not on every retry.
func (t *Topic) create(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	spec := t.Spec
	if t.Image().Topics[spec.Name] != nil {
		return nil
	}
	spec.Internal = true
	_, errs := t.Create(ctx, []controller.TopicSpec{spec}, false)
	if err := errs[0]; err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		if msg := err.Error(); msg != t.lastErr {
			t.lastErr = msg
			t.Logger.Warn("cannot create "+spec.Name+" yet; FindCoordinator answers COORDINATOR_NOT_AVAILABLE",
				"partitions", spec.NumPartitions, "replication_factor", spec.ReplicationFactor, "err", err)
		}
		return fmt.Errorf("coordinator: create %s: %v: %w", spec.Name, err, kerr.CoordinatorNotAvailable)
	}
	t.lastErr = ""
	t.Logger.Info("created "+spec.Name, "partitions", spec.NumPartitions, "replication_factor", spec.ReplicationFactor)
	return nil
}
