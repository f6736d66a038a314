package api

// AlterUserScramCredentials, version 0 (flexible).
//
// Forwarded to the active controller, which validates and commits the
// credentials (see controller.AlterScramCredentials); the request carries
// salted passwords, and the controller keeps only the keys derived from
// them.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(51, 0, 0, (*Handler).alterUserScramCredentials) }

func (h *Handler) alterUserScramCredentials(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := kmsg.NewPtrAlterUserSCRAMCredentialsResponse()
	ctl, err := h.activeController()
	if err != nil {
		return respond(req, scramUsersError(r, h.code(err), message(err)))
	}
	dels := make([]controller.ScramDeletion, 0, len(r.Deletions))
	for _, d := range r.Deletions {
		dels = append(dels, controller.ScramDeletion{User: d.Name, Mechanism: metadata.ScramMechanism(d.Mechanism)})
	}
	ups := make([]controller.ScramUpsertion, 0, len(r.Upsertions))
	for _, u := range r.Upsertions {
		ups = append(ups, controller.ScramUpsertion{User: u.Name, Mechanism: metadata.ScramMechanism(u.Mechanism),
			Iterations: u.Iterations, Salt: u.Salt, SaltedPassword: u.SaltedPassword})
	}
	for _, res := range ctl.AlterScramCredentials(ctx, dels, ups) {
		x := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		x.User, x.ErrorCode, x.ErrorMessage = res.User, h.code(res.Err), message(res.Err)
		resp.Results = append(resp.Results, x)
	}
	return respond(req, resp)
}

// scramUsersError answers every user named in r with code, each once.
func scramUsersError(r *kmsg.AlterUserSCRAMCredentialsRequest, code int16, msg *string) *kmsg.AlterUserSCRAMCredentialsResponse {
	resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	seen := map[string]bool{}
	add := func(user string) {
		if seen[user] {
			return
		}
		seen[user] = true
		x := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		x.User, x.ErrorCode, x.ErrorMessage = user, code, msg
		resp.Results = append(resp.Results, x)
	}
	for _, d := range r.Deletions {
		add(d.Name)
	}
	for _, u := range r.Upsertions {
		add(u.Name)
	}
	return resp
}
