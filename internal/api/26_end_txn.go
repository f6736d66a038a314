package api

// EndTxn, versions 0-5.
//
// v1 is v0 again; v2 answers PRODUCER_FENCED (below it,
// INVALID_PRODUCER_EPOCH); v3 is flexible; v4 is v3 again (it may answer
// TRANSACTION_ABORTABLE); v5 comes from clients of transaction version 2
// (KIP-890 part 2): every end bumps the epoch, and the answer carries the
// producer id and epoch to continue with. The answer comes once the decision
// (PrepareCommit or PrepareAbort) is committed in __transaction_state;
// the markers are written to the transaction's partitions after it, as
// Kafka does. A retry of an end that is decided or done is
// CONCURRENT_TRANSACTIONS or NONE; the other end is INVALID_TXN_STATE.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(26, 0, 5, (*Handler).endTxn) }

func (h *Handler) endTxn(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.EndTxnRequest)
	resp := kmsg.NewPtrEndTxnResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if h.Txns == nil {
		resp.ErrorCode = errNoTxns.Code
		return respond(req, resp)
	}
	var clientTV int16
	if req.Version >= 5 {
		clientTV = 2 // EndTxn v5 is sent only by clients running transaction version 2
	}
	pending := h.Txns.EndTxn(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit, clientTV)
	return func(ctx context.Context) wire.Response {
		res := pending(ctx)
		resp.ErrorCode = txnCode(h, res.Err, req.Version < 2)
		resp.ProducerID, resp.ProducerEpoch = res.ProducerID, res.Epoch
		resp.SetVersion(req.Version)
		return wire.Response{Msg: resp}
	}
}
