package api

// DescribeTransactions, version 0 (KIP-664): each transactional id's
// producer, state, timeout, start time and partitions, from its
// coordinator; an id this broker does not coordinate is NOT_COORDINATOR
// (admin clients send each id to its coordinator).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(65, 0, 0, (*Handler).describeTransactions) }

func (h *Handler) describeTransactions(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DescribeTransactionsRequest)
	resp := kmsg.NewPtrDescribeTransactionsResponse()
	for _, id := range r.TransactionalIDs {
		if h.Txns == nil {
			st := kmsg.NewDescribeTransactionsResponseTransactionState()
			st.TransactionalID, st.ErrorCode = id, errNoTxns.Code
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		resp.TransactionStates = append(resp.TransactionStates, h.Txns.Describe(id))
	}
	return respond(req, resp)
}
