package api

// ListTransactions, versions 0-2 (KIP-664): the transactions this broker
// coordinates, filtered by state and producer id; v1 adds a duration
// filter (transactions running longer than it, KIP-994); v2 a
// transactional id pattern (RE2, matching whole ids; an invalid one is
// INVALID_REGULAR_EXPRESSION, KIP-1152). Admin clients ask every broker
// and merge the answers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/txn"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(66, 0, 2, (*Handler).listTransactions) }

func (h *Handler) listTransactions(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.ListTransactionsRequest)
	resp := kmsg.NewPtrListTransactionsResponse()
	if h.Txns == nil {
		resp.ErrorCode = errNoTxns.Code
		return respond(req, resp)
	}
	f := txn.ListFilter{States: r.StateFilters, ProducerIDs: r.ProducerIDFilters, DurationMs: -1}
	if req.Version >= 1 {
		f.DurationMs = r.DurationFilterMillis
	}
	if req.Version >= 2 && r.TransactionalIDPattern != nil {
		re, err := txn.CompilePattern(*r.TransactionalIDPattern)
		if err != nil {
			resp.ErrorCode = h.code(err)
			return respond(req, resp)
		}
		f.Pattern = re
	}
	states, unknown, err := h.Txns.List(f)
	resp.ErrorCode = h.code(err)
	resp.UnknownStateFilters = unknown
	resp.TransactionStates = states
	return respond(req, resp)
}
