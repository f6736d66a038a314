package api

// AddOffsetsToTxn, versions 0-4.
//
// v1 is v0 again; v2 answers PRODUCER_FENCED (below it,
// INVALID_PRODUCER_EPOCH); v3 is flexible; v4 is v3 again (it may answer
// TRANSACTION_ABORTABLE). The group's partition of __consumer_offsets
// joins the transaction, so that its transactional offset commits are
// completed by the transaction's markers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(25, 0, 4, (*Handler).addOffsetsToTxn) }

func (h *Handler) addOffsetsToTxn(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.AddOffsetsToTxnRequest)
	resp := kmsg.NewPtrAddOffsetsToTxnResponse()
	if h.Txns == nil {
		resp.ErrorCode = errNoTxns.Code
		return respond(req, resp)
	}
	pending := h.Txns.AddOffsets(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group)
	return func(ctx context.Context) wire.Response {
		resp.ErrorCode = txnCode(h, pending(ctx), req.Version < 2)
		resp.SetVersion(req.Version)
		return wire.Response{Msg: resp}
	}
}
