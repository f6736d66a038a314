package api

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// TestApplied: an admin answer is applied once the image shows each
// successful change, and refusals and validate-only answers need nothing.
func TestApplied(t *testing.T) {
	id := metadata.UUID{1}
	empty := metadata.Empty("c", 1)
	withTopic, err := empty.Apply(1, metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "a", ID: id, Replicas: [][]int32{{1}}}})
	if err != nil {
		t.Fatal(err)
	}
	created := &kmsg.CreateTopicsResponse{Topics: []kmsg.CreateTopicsResponseTopic{{Topic: "a", TopicID: id}}}
	refused := &kmsg.CreateTopicsResponse{Topics: []kmsg.CreateTopicsResponseTopic{{Topic: "b", ErrorCode: 36}}}
	validated := &kmsg.CreateTopicsResponse{Topics: []kmsg.CreateTopicsResponseTopic{{Topic: "c"}}}
	deleted := &kmsg.DeleteTopicsResponse{Topics: []kmsg.DeleteTopicsResponseTopic{{Topic: kmsg.StringPtr("a"), TopicID: id}}}
	grown := &kmsg.CreatePartitionsResponse{Topics: []kmsg.CreatePartitionsResponseTopic{{Topic: "a"}}}
	grow := &kmsg.CreatePartitionsRequest{Topics: []kmsg.CreatePartitionsRequestTopic{{Topic: "a", Count: 2}}}
	for _, tc := range []struct {
		name string
		img  *metadata.Image
		req  kmsg.Request
		resp kmsg.Response
		want bool
	}{
		{"created, not yet seen", empty, &kmsg.CreateTopicsRequest{}, created, false},
		{"created, seen", withTopic, &kmsg.CreateTopicsRequest{}, created, true},
		{"refused", empty, &kmsg.CreateTopicsRequest{}, refused, true},
		{"validate-only", empty, &kmsg.CreateTopicsRequest{}, validated, true},
		{"deleted, still seen", withTopic, &kmsg.DeleteTopicsRequest{}, deleted, false},
		{"deleted, gone", empty, &kmsg.DeleteTopicsRequest{}, deleted, true},
		{"grown, not yet seen", withTopic, grow, grown, false},
	} {
		if got := applied(tc.img, tc.req, tc.resp); got != tc.want {
			t.Errorf("%s: applied %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		req  kmsg.Request
		want time.Duration
	}{
		{&kmsg.CreateTopicsRequest{TimeoutMillis: 30000}, 30 * time.Second},
		{&kmsg.CreateTopicsRequest{TimeoutMillis: 0}, defaultAdminWait},
		{&kmsg.DeleteTopicsRequest{TimeoutMillis: 600000}, maxAdminWait},
		{&kmsg.AlterConfigsRequest{}, defaultAdminWait},
	} {
		if got := adminWait(tc.req); got != tc.want {
			t.Errorf("adminWait(%T %v) = %v, want %v", tc.req, tc.req, got, tc.want)
		}
	}
}
