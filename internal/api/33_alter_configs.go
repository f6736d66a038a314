package api

// AlterConfigs, versions 0-2.
//
// The legacy, replace-all form of IncrementalAlterConfigs: the configs given
// for a resource become its whole set of dynamic configs, and any not given
// are removed (a topic's overrides, or the dynamic broker configs of the
// level the broker resource names: "" for the cluster-wide defaults, this
// broker's id for its own). A null value is dropped, as Kafka drops it.
// v1 changes nothing on the wire; v2 flexible. A group resource may only be
// left without configs (group_configs.go).
//
// As in IncrementalAlterConfigs, a bad topic config is INVALID_CONFIG and a
// bad broker config INVALID_REQUEST; a resource named twice, or a config
// named twice in one resource, is INVALID_REQUEST (Kafka's map would keep
// the last silently).

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(33, 0, 2, (*Handler).alterConfigs) }

func (h *Handler) alterConfigs(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.AlterConfigsRequest)
	resp := kmsg.NewPtrAlterConfigsResponse()
	type key struct {
		typ  kmsg.ConfigResourceType
		name string
	}
	count := map[key]int{}
	for _, rr := range r.Resources {
		count[key{rr.ResourceType, rr.ResourceName}]++
	}
	for _, rr := range r.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if count[key{rr.ResourceType, rr.ResourceName}] > 1 {
			err = &controller.Error{Code: kerr.InvalidRequest, Message: "resource " + rr.ResourceName + " is named more than once in the request"}
		} else {
			err = h.replaceConfigs(ctx, rr, r.ValidateOnly)
		}
		sr.ErrorCode, sr.ErrorMessage = h.code(err), message(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return respond(req, resp)
}

func (h *Handler) replaceConfigs(ctx context.Context, rr kmsg.AlterConfigsRequestResource, validateOnly bool) error {
	given := make(map[string]string, len(rr.Configs))
	seen := map[string]bool{}
	for _, c := range rr.Configs {
		if seen[c.Name] {
			return &controller.Error{Code: kerr.InvalidRequest, Message: "config " + c.Name + " is named more than once"}
		}
		seen[c.Name] = true
		if c.Value != nil {
			given[c.Name] = *c.Value
		}
	}
	switch rr.ResourceType {
	case resourceTopic:
		// The controller validates the whole new set (ValidateConfigs) and
		// answers INVALID_CONFIG naming the config.
		return h.Controller.AlterTopicConfig(ctx, rr.ResourceName, validateOnly, func(map[string]string) (map[string]string, error) {
			return given, nil
		})
	case resourceBroker:
		node, err := h.brokerLevel(rr.ResourceName)
		if err != nil {
			return err
		}
		return h.Controller.AlterBrokerConfig(ctx, node, validateOnly, func(map[string]string) (map[string]string, error) {
			var errs []error
			for _, name := range sortedNames(given) {
				if err := config.ValidateBrokerConfig(name, given[name], node != nil); err != nil {
					errs = append(errs, err)
				}
			}
			if err := errors.Join(errs...); err != nil {
				return nil, err
			}
			return given, h.checkDynamic(node, given)
		})
	case resourceGroup:
		return replaceGroupConfigs(rr.ResourceName, given)
	default:
		return &controller.Error{Code: kerr.InvalidRequest, Message: "AlterConfigs supports topic, broker and group resources, not resource type " + strconv.Itoa(int(rr.ResourceType))}
	}
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
