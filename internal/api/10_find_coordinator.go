package api

// FindCoordinator, versions 0-6.
//
// v1 adds the key type (0 group, 1 transaction) and an error message; v3 is
// flexible; v4 batches keys (KIP-699); v5 is v4 (it may answer
// TRANSACTION_ABORTABLE); v6 adds key type 2, share groups (KIP-932). The
// first group lookup creates __consumer_offsets, the first transactional
// id lookup __transaction_state, as Kafka does.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(10, 0, 6, (*Handler).findCoordinator) }

func (h *Handler) findCoordinator(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.FindCoordinatorRequest)
	resp := kmsg.NewPtrFindCoordinatorResponse()
	keys := r.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{r.CoordinatorKey}
	}
	for _, key := range keys {
		resp.Coordinators = append(resp.Coordinators, h.coordinatorFor(ctx, r.CoordinatorType, key, listenerOf(req)))
	}
	if req.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
	}
	return respond(req, resp)
}

// coordinatorFor answers one key with its coordinator's address on
// listener; a coordinator without that listener is COORDINATOR_NOT_AVAILABLE,
// as Kafka answers it.
func (h *Handler) coordinatorFor(ctx context.Context, keyType int8, key, listener string) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key, c.NodeID, c.Port = key, -1, -1
	var err error
	switch keyType {
	case 0:
		if h.Groups == nil {
			err = errNoGroups
			break
		}
		b, ferr := h.Groups.FindCoordinator(ctx, key)
		if err = ferr; err == nil {
			err = coordinatorOn(&c, b, listener)
		}
	case 1:
		if h.Txns == nil {
			err = errNoTxns
			break
		}
		b, ferr := h.Txns.FindCoordinator(ctx, key)
		if err = ferr; err == nil {
			err = coordinatorOn(&c, b, listener)
		}
	case 2:
		err = &controller.Error{Code: kerr.InvalidRequest, Message: "share groups are not supported by this broker"}
	default:
		err = &controller.Error{Code: kerr.InvalidRequest, Message: "unknown coordinator key type"}
	}
	if err != nil {
		c.ErrorCode, c.ErrorMessage = h.code(err), message(err)
	}
	return c
}

// coordinatorOn fills c with coordinator b's address on listener.
func coordinatorOn(c *kmsg.FindCoordinatorResponseCoordinator, b metadata.Broker, listener string) error {
	host, port, ok := b.Endpoint(listener)
	if !ok {
		return &controller.Error{Code: kerr.CoordinatorNotAvailable, Message: "the coordinator has no listener " + listener}
	}
	c.NodeID, c.Host, c.Port = b.NodeID, host, port
	return nil
}
