package api

// InitProducerId, versions 0-5.
//
// v1 throttle; v2 flexible; v3 the producer's current id and epoch
// (KIP-360); v4 PRODUCER_FENCED (below it, INVALID_PRODUCER_EPOCH is
// answered instead, as Kafka does); v5 is v4 again. For an idempotent
// producer (no transactional id) Kafka hands out a fresh id with epoch 0
// every time, and so does samsa; a transactional id goes to the
// transaction coordinator (txn.Coordinator.InitProducerID).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/txn"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(22, 0, 5, (*Handler).initProducerID) }

// producerIDWait bounds how long InitProducerId waits for a new block.
const producerIDWait = 5 * time.Second

// ProducerIDBlock is how many ids one metadata commit reserves.
const ProducerIDBlock = txn.ProducerIDBlock

func (h *Handler) initProducerID(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.InitProducerIDRequest)
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		if h.Txns == nil {
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return respond(req, resp)
		}
		if req.Version < 3 {
			// The fields are not on the wire below v3; kmsg leaves
			// their defaults, -1, which is what an old producer means.
			r.ProducerID, r.ProducerEpoch = -1, -1
		}
		pending := h.Txns.InitProducerID(ctx, *r.TransactionalID, r.TransactionTimeoutMillis, r.ProducerID, r.ProducerEpoch)
		return func(ctx context.Context) wire.Response {
			res := pending(ctx)
			resp.ProducerID, resp.ProducerEpoch = res.ProducerID, res.Epoch
			resp.ErrorCode = txnCode(h, res.Err, req.Version < 4)
			resp.SetVersion(req.Version)
			return wire.Response{Msg: resp}
		}
	}
	// A new block needs the active controller, which may be moving: the
	// wait is bounded and its failure answered COORDINATOR_LOAD_IN_PROGRESS,
	// as Kafka's broker answers while its next block is not there, so the
	// client retries. Any other code would fail the producer's records.
	gctx, cancel := context.WithTimeout(ctx, producerIDWait)
	defer cancel()
	id, err := h.pid.Next(gctx)
	if err != nil {
		h.log.Warn("no producer id block from the controller", "err", err)
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return respond(req, resp)
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return respond(req, resp)
}

// txnCode is the code of a transaction coordinator's answer; oldFenced
// answers PRODUCER_FENCED as INVALID_PRODUCER_EPOCH, for clients that
// predate the code (KIP-588), as Kafka's handlers do.
func txnCode(h *Handler, err error, oldFenced bool) int16 {
	code := h.code(err)
	if oldFenced && code == kerr.ProducerFenced.Code {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}
