package api

// IncrementalAlterConfigs, versions 0-1.
//
// KIP-339: SET, DELETE, APPEND and SUBTRACT per config; v1 flexible.
//
// Broker resources (KIP-226): "" alters the dynamic cluster-wide defaults
// (DYNAMIC_DEFAULT_BROKER_CONFIG), this broker's id its own dynamic configs
// (DYNAMIC_BROKER_CONFIG). Only configs whose update mode allows it may be
// set; a refusal is INVALID_REQUEST, as Kafka answers the ConfigException
// behind "Cannot update these configs dynamically" or a bad broker value.
//
// Group resources (KIP-848) have no configs in samsa; an operation that
// would set one is INVALID_CONFIG (group_configs.go).

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
		node, err := h.brokerLevel(rr.ResourceName)
		if err != nil {
			return err
		}
		return h.Controller.AlterBrokerConfig(ctx, node, validateOnly, func(cur map[string]string) (map[string]string, error) {
			next, err := config.ApplyIncrementalBroker(cur, ops, node != nil)
			if err != nil {
				return nil, err
			}
			return next, h.checkDynamic(node, next)
		})
	case resourceGroup:
		return alterGroupConfigs(rr.ResourceName, ops)
	default:
		return &controller.Error{Code: kerr.InvalidRequest, Message: "unsupported resource type " + strconv.Itoa(int(rr.ResourceType))}
	}
}

// brokerLevel maps a broker resource name to the level of dynamic configs
// it alters: nil for "" (the cluster-wide defaults), else this broker's id.
func (h *Handler) brokerLevel(name string) (*int32, error) {
	if err := h.checkBrokerResource(name); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, nil
	}
	id := h.NodeID
	return &id, nil
}

// checkDynamic checks that the static configuration still builds with next
// as the dynamic configs of the given level (and the image's for the other
// level): the rules between configs hold wherever each value comes from.
// Called under the controller's lock, so the image cannot change meanwhile.
func (h *Handler) checkDynamic(node *int32, next map[string]string) error {
	clusterDefault, perBroker := h.image().DynamicBrokerConfigs(h.NodeID)
	if node == nil {
		clusterDefault = next
	} else {
		perBroker = next
	}
	_, err := h.Config.WithDynamic(clusterDefault, perBroker)
	return err
}
