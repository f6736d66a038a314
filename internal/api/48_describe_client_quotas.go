package api

// DescribeClientQuotas, versions 0-1 (v1 flexible).
//
// samsa has no client quotas yet (AlterClientQuotas is not served, and
// ApiVersions does not list it), so no entity has one: a valid filter
// matches nothing, and the answer lists no entry, as a Kafka cluster with
// no quotas set answers. The filter is checked as Kafka's ClientQuotasImage
// checks it, with its messages. kafka-configs --describe --entity-type
// users asks this beside DescribeUserScramCredentials, and fails as a whole
// when either API is missing.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(48, 0, 1, (*Handler).describeClientQuotas) }

func (h *Handler) describeClientQuotas(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DescribeClientQuotasRequest)
	resp := kmsg.NewPtrDescribeClientQuotasResponse()
	if code, msg := quotaFilterError(r.Components); code != 0 {
		resp.ErrorCode, resp.ErrorMessage = code, &msg // entries null, as Kafka's error answer
	} else {
		resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{} // empty, not null: the Java client reads its size
	}
	return respond(req, resp)
}

// quotaFilterError is Kafka's refusal of a quota filter, or 0.
func quotaFilterError(components []kmsg.DescribeClientQuotasRequestComponent) (int16, string) {
	seen := map[string]bool{}
	for _, c := range components {
		switch {
		case c.EntityType == "":
			return kerr.InvalidRequest.Code, "Invalid empty entity type."
		case seen[c.EntityType]:
			return kerr.InvalidRequest.Code, "Entity type " + c.EntityType + " cannot appear more than once in the filter."
		case c.EntityType != "user" && c.EntityType != "client-id" && c.EntityType != "ip":
			return kerr.UnsupportedVersion.Code, "Unsupported entity type " + c.EntityType
		}
		seen[c.EntityType] = true
		switch c.MatchType {
		case 0:
			if c.Match == nil {
				return kerr.InvalidRequest.Code, "Request specified MATCH_TYPE_EXACT, but set match string to null."
			}
		case 1:
			if c.Match != nil {
				return kerr.InvalidRequest.Code, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."
			}
		case 2:
			if c.Match != nil {
				return kerr.InvalidRequest.Code, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."
			}
		default:
			return kerr.InvalidRequest.Code, fmt.Sprintf("Unknown match type %d", c.MatchType)
		}
	}
	if seen["ip"] && (seen["user"] || seen["client-id"]) {
		return kerr.InvalidRequest.Code, "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component."
	}
	return 0, ""
}
