package api

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// An admin request's answer is held until this broker's subscribers (the
// replica manager above all) have acted on what it changed, so a client
// that created a topic through a broker can produce to it at once, and one
// that deleted a topic no longer sees it there. Kafka's controller answers
// on commit and leaves brokers to catch up; waiting here costs the client
// no more than the propagation it would otherwise poll for.

// adminWait bounds that wait: the request's own timeout_ms where it has
// one (1000 partitions take a while to open), else defaultAdminWait.
func adminWait(req kmsg.Request) time.Duration {
	ms := int32(-1)
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		ms = r.TimeoutMillis
	case *kmsg.DeleteTopicsRequest:
		ms = r.TimeoutMillis
	case *kmsg.CreatePartitionsRequest:
		ms = r.TimeoutMillis
	case *kmsg.AlterPartitionAssignmentsRequest:
		ms = r.TimeoutMillis
	}
	if ms <= 0 {
		return defaultAdminWait
	}
	return min(time.Duration(ms)*time.Millisecond, maxAdminWait)
}

const (
	defaultAdminWait = 5 * time.Second
	maxAdminWait     = 60 * time.Second
)

// applied reports whether img shows what a successful answer to req says
// the controller did; requests with nothing to check are applied at once.
func applied(img *metadata.Image, req kmsg.Request, resp kmsg.Response) bool {
	switch r := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		for _, t := range r.Topics {
			if t.ErrorCode != 0 || t.TopicID == [16]byte{} {
				continue // refused, or validate-only
			}
			if it := img.Topics[t.Topic]; it == nil || it.ID != metadata.UUID(t.TopicID) {
				return false
			}
		}
	case *kmsg.DeleteTopicsResponse:
		for _, t := range r.Topics {
			if t.ErrorCode != 0 {
				continue
			}
			if t.TopicID != [16]byte{} {
				if img.ByID[metadata.UUID(t.TopicID)] != nil {
					return false
				}
			} else if t.Topic != nil && img.Topics[*t.Topic] != nil {
				return false
			}
		}
	case *kmsg.CreatePartitionsResponse:
		cr, ok := req.(*kmsg.CreatePartitionsRequest)
		if !ok || cr.ValidateOnly {
			return true
		}
		want := map[string]int32{}
		for _, t := range cr.Topics {
			want[t.Topic] = t.Count
		}
		for _, t := range r.Topics {
			if t.ErrorCode != 0 {
				continue
			}
			if it := img.Topics[t.Topic]; it == nil || int32(len(it.Partitions)) < want[t.Topic] {
				return false
			}
		}
	case *kmsg.AlterUserSCRAMCredentialsResponse:
		ar, ok := req.(*kmsg.AlterUserSCRAMCredentialsRequest)
		if !ok {
			return true
		}
		return scramApplied(img, ar, r)
	case *kmsg.AlterPartitionAssignmentsResponse:
		ar, ok := req.(*kmsg.AlterPartitionAssignmentsRequest)
		if !ok || r.ErrorCode != 0 {
			return true
		}
		for i, t := range r.Topics {
			for j, p := range t.Partitions {
				if p.ErrorCode != 0 || i >= len(ar.Topics) || j >= len(ar.Topics[i].Partitions) {
					continue
				}
				if !reassignmentApplied(img, t.Topic, p.Partition, ar.Topics[i].Partitions[j].Replicas) {
					return false
				}
			}
		}
	}
	return true
}

// scramApplied reports whether img shows the alterations of the users the
// answer accepted: a deleted credential gone, an upserted one there with
// its salt and iterations (a user is altered at most once per request).
func scramApplied(img *metadata.Image, req *kmsg.AlterUserSCRAMCredentialsRequest, resp *kmsg.AlterUserSCRAMCredentialsResponse) bool {
	ok := map[string]bool{}
	for _, res := range resp.Results {
		ok[res.User] = res.ErrorCode == 0
	}
	for _, d := range req.Deletions {
		if _, there := img.ScramCredential(d.Name, metadata.ScramMechanism(d.Mechanism)); ok[d.Name] && there {
			return false
		}
	}
	for _, u := range req.Upsertions {
		c, there := img.ScramCredential(u.Name, metadata.ScramMechanism(u.Mechanism))
		if ok[u.Name] && (!there || c.Iterations != u.Iterations || !bytes.Equal(c.Salt, u.Salt)) {
			return false
		}
	}
	return true
}

// reassignmentApplied reports whether img shows partition's reassignment
// to target started (or already done), or its cancellation (target nil).
func reassignmentApplied(img *metadata.Image, topic string, partition int32, target []int32) bool {
	t := img.Topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return false
	}
	p := t.Partitions[partition]
	if target == nil {
		return !p.Reassigning()
	}
	return slices.Equal(p.Target(), target)
}

// awaitApplied waits until this node's subscribers have acted on an image
// in which applied holds, or the bound passes; the answer goes out either
// way (the controller committed it).
func (h *Handler) awaitApplied(ctx context.Context, req kmsg.Request, resp kmsg.Response) {
	ctx, cancel := context.WithTimeout(ctx, adminWait(req))
	defer cancel()
	for {
		img := h.Metadata.Delivered()
		if applied(img, req, resp) || h.Metadata.WaitFor(ctx, img.Offset+1) != nil {
			return
		}
	}
}
