package api

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestQuotaFilterError: DescribeClientQuotas refuses a filter as Kafka's
// ClientQuotasImage does, code and message; a valid one is accepted.
func TestQuotaFilterError(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	c := func(typ string, match kmsg.QuotasMatchType, m *string) kmsg.DescribeClientQuotasRequestComponent {
		return kmsg.DescribeClientQuotasRequestComponent{EntityType: typ, MatchType: match, Match: m}
	}
	for _, tc := range []struct {
		components []kmsg.DescribeClientQuotasRequestComponent
		code       int16
		msg        string
	}{
		{nil, 0, ""},
		{[]kmsg.DescribeClientQuotasRequestComponent{c("user", 0, s("alice")), c("client-id", 2, nil)}, 0, ""},
		{[]kmsg.DescribeClientQuotasRequestComponent{c("user", 1, nil)}, 0, ""},
		{[]kmsg.DescribeClientQuotasRequestComponent{c("", 0, s("a"))}, kerr.InvalidRequest.Code, "Invalid empty entity type."},
		{[]kmsg.DescribeClientQuotasRequestComponent{c("user", 2, nil), c("user", 2, nil)}, kerr.InvalidRequest.Code, "Entity type user cannot appear more than once in the filter."},
		{[]kmsg.DescribeClientQuotasRequestComponent{c("group", 2, nil)}, kerr.UnsupportedVersion.Code, "Unsupported entity type group"},
		{[]kmsg.DescribeClientQuotasRequestComponent{c("user", 0, nil)}, kerr.InvalidRequest.Code, "Request specified MATCH_TYPE_EXACT, but set match string to null."},
		{[]kmsg.DescribeClientQuotasRequestComponent{c("user", 1, s("a"))}, kerr.InvalidRequest.Code, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."},
		{[]kmsg.DescribeClientQuotasRequestComponent{c("user", 2, s("a"))}, kerr.InvalidRequest.Code, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."},
		{[]kmsg.DescribeClientQuotasRequestComponent{c("user", 7, nil)}, kerr.InvalidRequest.Code, "Unknown match type 7"},
		{[]kmsg.DescribeClientQuotasRequestComponent{c("ip", 2, nil), c("user", 2, nil)}, kerr.InvalidRequest.Code,
			"Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component."},
	} {
		code, msg := quotaFilterError(tc.components)
		if code != tc.code || msg != tc.msg {
			t.Errorf("%+v: %d %q, want %d %q", tc.components, code, msg, tc.code, tc.msg)
		}
	}
}
