package api

// CreateTopics, versions 2-7.
//
// v1 validate only and error messages; v4 default partitions and
// replication factor (-1, KIP-464); v5 flexible, and the created topic's
// partitions, replication factor and configs in the answer; v7 topic ids.

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(19, 2, 7, (*Handler).createTopics) }

func (h *Handler) createTopics(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.CreateTopicsRequest)
	resp := kmsg.NewPtrCreateTopicsResponse()
	count := map[string]int{}
	for _, t := range r.Topics {
		count[t.Topic]++
	}
	var specs []controller.TopicSpec
	var specIdx []int
	resp.Topics = make([]kmsg.CreateTopicsResponseTopic, len(r.Topics))
	for i, rt := range r.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		if count[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = message(&controller.Error{Code: kerr.InvalidRequest, Message: "topic " + rt.Topic + " is named more than once in the request"})
			continue
		}
		spec, err := topicSpec(rt)
		if err != nil {
			st.ErrorCode, st.ErrorMessage = h.code(err), message(err)
			continue
		}
		// On the controller listener a CreateTopics comes from a broker:
		// a client's was forwarded only after its broker refused the
		// reserved names (forward), so a reserved name here is a
		// coordinator creating its topic, which it marks internal.
		spec.Internal = h.ControllerListener && controller.IsReservedInternal(spec.Name)
		specs = append(specs, spec)
		specIdx = append(specIdx, i)
	}
	created, errs := h.Controller.CreateTopics(ctx, specs, r.ValidateOnly)
	for j, i := range specIdx {
		st := &resp.Topics[i]
		if errs[j] != nil {
			st.ErrorCode, st.ErrorMessage = h.code(errs[j]), message(errs[j])
			continue
		}
		st.TopicID = created[j].ID
		st.NumPartitions = created[j].NumPartitions
		st.ReplicationFactor = created[j].ReplicationFactor
		if req.Version >= 5 {
			entries, err := h.currentConfig().DescribeTopic(specs[j].Configs, nil, false, false)
			if err != nil {
				st.ConfigErrorCode = h.code(err)
				continue
			}
			for _, e := range entries {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name, c.Value, c.ReadOnly, c.Source, c.IsSensitive = e.Name, e.Value, e.ReadOnly, e.Source, e.Sensitive
				st.Configs = append(st.Configs, c)
			}
		}
	}
	return respond(req, resp)
}

func topicSpec(rt kmsg.CreateTopicsRequestTopic) (controller.TopicSpec, error) {
	spec := controller.TopicSpec{
		Name:              rt.Topic,
		NumPartitions:     rt.NumPartitions,
		ReplicationFactor: rt.ReplicationFactor,
		Configs:           map[string]string{},
	}
	if len(rt.ReplicaAssignment) > 0 {
		as := append([]kmsg.CreateTopicsRequestTopicReplicaAssignment(nil), rt.ReplicaAssignment...)
		sort.Slice(as, func(i, j int) bool { return as[i].Partition < as[j].Partition })
		for i, a := range as {
			if a.Partition != int32(i) {
				return spec, &controller.Error{Code: kerr.InvalidReplicaAssignment, Message: "replica assignment partitions must be consecutive from 0"}
			}
			spec.Assignments = append(spec.Assignments, a.Replicas)
		}
	}
	for _, c := range rt.Configs {
		if c.Value == nil {
			return spec, &controller.Error{Code: kerr.InvalidConfig, Message: "null value for config " + c.Name}
		}
		spec.Configs[c.Name] = *c.Value
	}
	return spec, nil
}
