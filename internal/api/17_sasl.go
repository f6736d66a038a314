package api

// SaslHandshake (17, version 1) and SaslAuthenticate (36, versions 0-2).
//
// The server runs SASL exchanges itself on SASL_PLAINTEXT listeners
// (server/sasl.go); what reaches the handler is a SASL request on a
// PLAINTEXT listener, or one on a connection that has authenticated
// already, which Kafka's KafkaApis answers ILLEGAL_SASL_STATE. SaslHandshake
// v0 (raw SASL tokens after the handshake, deprecated) is not served: a v0
// handshake closes the connection. ApiVersions still advertises 0-1, as
// Kafka does: librdkafka looks for version 0 in the range to decide that
// the broker has SASL handshakes at all, then sends v1.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() {
	register(17, 1, 1, (*Handler).saslHandshake)
	advertiseFrom(17, 0)
	register(36, 0, 2, (*Handler).saslAuthenticate)
}

func (h *Handler) saslHandshake(ctx context.Context, req *wire.Request) wire.Pending {
	resp := kmsg.NewPtrSASLHandshakeResponse()
	resp.ErrorCode = kerr.IllegalSaslState.Code
	return respond(req, resp)
}

func (h *Handler) saslAuthenticate(ctx context.Context, req *wire.Request) wire.Pending {
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	resp.ErrorCode = kerr.IllegalSaslState.Code
	msg := "SaslAuthenticate request received after successful authentication"
	if req.Conn == nil || req.Conn.Principal == "" {
		msg = "SaslAuthenticate request received on a listener without SASL"
	}
	resp.ErrorMessage = &msg
	return respond(req, resp)
}
