package api

// IncrementalAlterConfigs, versions 0-1.
//
// KIP-339: SET, DELETE, APPEND and SUBTRACT per config; v1 flexible.

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(44, 0, 1, (*Handler).incrementalAlterConfigs) }

func (h *Handler) incrementalAlterConfigs(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.IncrementalAlterConfigsRequest)
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	type key struct {
		typ  int8
		name string
	}
	count := map[key]int{}
	for _, rr := range r.Resources {
		count[key{int8(rr.ResourceType), rr.ResourceName}]++
	}
	for _, rr := range r.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := h.alterResource(ctx, rr, r.ValidateOnly, count[key{int8(rr.ResourceType), rr.ResourceName}] > 1)
		sr.ErrorCode, sr.ErrorMessage = h.code(err), message(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return respond(req, resp)
}

func (h *Handler) alterResource(ctx context.Context, rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly, duplicate bool) error {
	if duplicate {
		return &controller.Error{Code: kerr.InvalidRequest, Message: "resource " + rr.ResourceName + " is named more than once in the request"}
	}
	ops := make([]config.AlterOp, 0, len(rr.Configs))
	seen := map[string]bool{}
	for _, c := range rr.Configs {
		if seen[c.Name] {
			return &controller.Error{Code: kerr.InvalidRequest, Message: "config " + c.Name + " is altered more than once"}
		}
		seen[c.Name] = true
		ops = append(ops, config.AlterOp{Name: c.Name, Op: int8(c.Op), Value: c.Value})
	}
	switch rr.ResourceType {
	case resourceTopic:
		return h.Controller.AlterTopicConfig(ctx, rr.ResourceName, validateOnly, func(cur map[string]string) (map[string]string, error) {
			return config.ApplyIncremental(cur, ops)
		})
	case resourceBroker:
		if err := h.checkBrokerResource(rr.ResourceName); err != nil {
			return err
		}
		return &controller.Error{Code: kerr.InvalidRequest, Message: "dynamic broker configs are not supported yet; set them in server.properties or with --set"}
	default:
		return &controller.Error{Code: kerr.InvalidRequest, Message: "unsupported resource type " + strconv.Itoa(int(rr.ResourceType))}
	}
}
