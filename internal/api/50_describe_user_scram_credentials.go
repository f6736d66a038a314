package api

// DescribeUserScramCredentials, version 0 (flexible).
//
// Served by every broker from its metadata image, as Kafka's brokers serve
// it from theirs (KIP-554): the mechanisms and iteration counts of each
// user's credentials, never the credentials.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(50, 0, 0, (*Handler).describeUserScramCredentials) }

// describeUserScramCredentials describes the users named, or every user
// with a credential when none is named (a null or an empty list, as
// Kafka). A user named twice gets DUPLICATE_RESOURCE, one without any
// credential RESOURCE_NOT_FOUND, each with Kafka's message. Results are
// in user-name order.
func (h *Handler) describeUserScramCredentials(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	img := h.image()
	resp := kmsg.NewPtrDescribeUserSCRAMCredentialsResponse()
	var users []string
	named := map[string]int{}
	if len(r.Users) == 0 {
		users = img.ScramUsers()
	} else {
		for _, u := range r.Users {
			if named[u.Name] == 0 {
				users = append(users, u.Name)
			}
			named[u.Name]++
		}
		slices.Sort(users)
	}
	for _, user := range users {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = user
		if named[user] > 1 {
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + user)
			resp.Results = append(resp.Results, res)
			continue
		}
		for _, m := range metadata.ScramMechanisms {
			if c, ok := img.ScramCredential(user, m); ok {
				info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				info.Mechanism, info.Iterations = int8(m), c.Iterations
				res.CredentialInfos = append(res.CredentialInfos, info)
			}
		}
		if len(res.CredentialInfos) == 0 {
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr("Attempt to describe a user credential that does not exist: " + user)
		}
		resp.Results = append(resp.Results, res)
	}
	return respond(req, resp)
}
