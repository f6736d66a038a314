package api

// InitProducerId, versions 0-5.
//
// v1 throttle; v2 flexible; v3 the producer's current id and epoch
// (KIP-360); v4 is v3 again; v5 is v4 again. For an idempotent producer (no
// transactional id) Kafka hands out a fresh id with epoch 0 every time, and
// so does samsa. Transactional ids arrive with the transactions issue.

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(22, 0, 5, (*Handler).initProducerID) }

// producerIDWait bounds how long InitProducerId waits for a new block.
const producerIDWait = 5 * time.Second

// ProducerIDBlock is how many ids one metadata commit reserves.
const ProducerIDBlock = 1000

// producerIDs hands out ids from blocks the controller commits, so an id is
// never reused across restarts (the block is durable before any id in it
// is given out).
type producerIDs struct {
	ctl  ControllerClient
	node int32

	mu         sync.Mutex
	next, upTo int64
}

func (a *producerIDs) get(ctx context.Context) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= a.upTo {
		first, err := a.ctl.AllocateProducerIDs(ctx, a.node, ProducerIDBlock)
		if err != nil {
			return -1, err
		}
		a.next, a.upTo = first, first+ProducerIDBlock
	}
	id := a.next
	a.next++
	return id, nil
}

func (h *Handler) initProducerID(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.InitProducerIDRequest)
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return respond(req, resp)
	}
	// A new block needs the active controller, which may be moving: the
	// wait is bounded and its failure answered COORDINATOR_LOAD_IN_PROGRESS,
	// as Kafka's broker answers while its next block is not there, so the
	// client retries. Any other code would fail the producer's records.
	gctx, cancel := context.WithTimeout(ctx, producerIDWait)
	defer cancel()
	id, err := h.pid.get(gctx)
	if err != nil {
		h.log.Warn("no producer id block from the controller", "err", err)
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return respond(req, resp)
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return respond(req, resp)
}
