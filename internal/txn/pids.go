package txn

import (
	"context"
	"sync"
)

// ProducerIDBlock is how many producer ids one controller commit reserves
// for a broker (Kafka's block size).
const ProducerIDBlock = 1000

// ProducerIDs hands out producer ids from blocks the controller commits,
// so an id is never handed out twice, across restarts too (a block is
// durable before any id in it is used). One broker has one: idempotent
// producers' InitProducerId and the transaction coordinator draw from it.
type ProducerIDs struct {
	allocate func(ctx context.Context, node int32, size int64) (int64, error)
	node     int32

	mu         sync.Mutex
	next, upTo int64
}

// NewProducerIDs returns an allocator that reserves blocks for node
// through allocate (the active controller's AllocateProducerIds).
func NewProducerIDs(node int32, allocate func(ctx context.Context, node int32, size int64) (int64, error)) *ProducerIDs {
	return &ProducerIDs{allocate: allocate, node: node}
}

// Next returns an unused producer id, reserving a new block first when
// the current one is used up (which waits for the controller, at most as
// long as ctx allows).
func (a *ProducerIDs) Next(ctx context.Context) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= a.upTo {
		first, err := a.allocate(ctx, a.node, ProducerIDBlock)
		if err != nil {
			return -1, err
		}
		a.next, a.upTo = first, first+ProducerIDBlock
	}
	id := a.next
	a.next++
	return id, nil
}
