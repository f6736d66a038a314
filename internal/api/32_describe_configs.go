package api

// DescribeConfigs, versions 1-4.
//
// v1 config sources and synonyms (KIP-226); v3 config types and
// documentation (KIP-569); v4 flexible. Topic, broker and group resources;
// a group has no configs (group_configs.go).

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(32, 1, 4, (*Handler).describeConfigs) }

const (
	resourceTopic  = 2
	resourceBroker = 4
)

func (h *Handler) describeConfigs(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DescribeConfigsRequest)
	resp := kmsg.NewPtrDescribeConfigsResponse()
	img := h.image()
	cfg := h.currentConfig()
	for _, rr := range r.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []config.Entry
		var err error
		switch rr.ResourceType {
		case resourceTopic:
			t := img.Topics[rr.ResourceName]
			if t == nil {
				err = &controller.Error{Code: kerr.UnknownTopicOrPartition, Message: "topic " + rr.ResourceName + " does not exist"}
				break
			}
			entries, err = cfg.DescribeTopic(t.Configs, rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation)
		case resourceBroker:
			switch err = h.checkBrokerResource(rr.ResourceName); {
			case err != nil:
			case rr.ResourceName == "":
				entries = cfg.DescribeClusterDefaults(rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation)
			default:
				entries = cfg.DescribeBroker(rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation)
			}
		case resourceGroup:
			err = checkGroupResource(rr.ResourceName, false) // and no configs: see group_configs.go
		default:
			err = &controller.Error{Code: kerr.InvalidRequest, Message: "unsupported resource type " + strconv.Itoa(int(rr.ResourceType))}
		}
		if err != nil {
			sr.ErrorCode, sr.ErrorMessage = h.code(err), message(err)
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		for _, e := range entries {
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name, c.Value, c.ReadOnly, c.Source, c.IsSensitive = e.Name, e.Value, e.ReadOnly, kmsg.ConfigSource(e.Source), e.Sensitive
			c.ConfigType = kmsg.ConfigType(e.Type)
			if r.IncludeDocumentation {
				doc := e.Doc
				c.Documentation = &doc
			}
			for _, s := range e.Synonyms {
				c.ConfigSynonyms = append(c.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: s.Name, Value: s.Value, Source: kmsg.ConfigSource(s.Source)})
			}
			sr.Configs = append(sr.Configs, c)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return respond(req, resp)
}

// checkBrokerResource accepts "" (cluster-wide defaults) or this broker's
// id, as Kafka does; any other id belongs to another broker.
func (h *Handler) checkBrokerResource(name string) error {
	if name == "" || name == strconv.Itoa(int(h.NodeID)) {
		return nil
	}
	return &controller.Error{Code: kerr.InvalidRequest, Message: "unexpected broker id " + name + ", expected " + strconv.Itoa(int(h.NodeID)) + " or the empty string"}
}
