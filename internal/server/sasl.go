package server

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/auth"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// SASL on a SASL_PLAINTEXT listener, as Kafka's SaslServerAuthenticator
// runs it: until a connection has authenticated, it may send ApiVersions,
// one SaslHandshake (v1) naming a mechanism, then the SaslAuthenticate
// requests that mechanism's exchange takes, and nothing else; anything
// else closes it. A mechanism not enabled is answered
// UNSUPPORTED_SASL_MECHANISM with the enabled ones, a failed exchange
// SASL_AUTHENTICATION_FAILED with the reason, and the connection closes
// after either answer. Once authenticated, requests go to the handler with
// the principal in ConnInfo (SaslHandshake and SaslAuthenticate among
// them, which the handler answers ILLEGAL_SASL_STATE, as Kafka's KafkaApis
// does: there is no re-authentication, KIP-368, yet).
//
// The exchange runs on the connection's reader, where requests are
// dispatched one at a time in order, so no request is read as
// authenticated before the answer that completes the exchange.

// Authenticator starts a listener's SASL exchanges (auth.Mechanisms).
type Authenticator interface {
	// Enabled are the mechanism names, in the operator's order.
	Enabled() []string
	// Start begins an exchange, or reports false for a mechanism that is
	// not enabled.
	Start(mechanism string) (auth.Session, bool)
}

// saslMaxReceive bounds a request frame before its connection has
// authenticated: Kafka's sasl.server.max.receive.size default.
const saslMaxReceive = 524288

// saslConn is a SASL connection's authentication state; reader only.
type saslConn struct {
	auth    Authenticator
	session auth.Session // set by the handshake
	done    bool
}

// ServeSASL is ServeListener for a SASL_PLAINTEXT listener whose
// connections authenticate with a.
func (s *Server) ServeSASL(ln net.Listener, name string, a Authenticator) error {
	return s.serve(ln, name, a)
}

// errNotAuthenticated closes a connection that sent a request SASL does
// not allow before authenticating.
var errNotAuthenticated = errors.New("server: request before SASL authentication completed")

// authResponse is the pending answer to a request of an unauthenticated
// connection. A failed authentication's answer, and the close after it,
// wait out FailedAuthDelay first, as Kafka delays them, to slow a client
// guessing passwords; the connection reads nothing meanwhile.
func (c *conn) authResponse(resp kmsg.Response, closeAfter bool) wire.Pending {
	delay := c.srv.authDelay
	failed := false
	if r, ok := resp.(*kmsg.SASLAuthenticateResponse); ok && r.ErrorCode != 0 {
		failed = true
	}
	if !failed || delay <= 0 {
		return wire.Now(wire.Response{Msg: resp, Close: closeAfter})
	}
	return func(ctx context.Context) wire.Response {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return wire.Response{Msg: resp, Close: closeAfter}
	}
}

// authenticate answers a request of an unauthenticated SASL connection:
// the response, whether the connection closes after it, or an error when
// it closes at once.
func (c *conn) authenticate(msg kmsg.Request) (kmsg.Response, bool, error) {
	st := c.sasl
	switch r := msg.(type) {
	case *kmsg.SASLHandshakeRequest:
		if st.session != nil {
			return nil, false, errNotAuthenticated // a second handshake
		}
		resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = st.auth.Enabled()
		session, ok := st.auth.Start(r.Mechanism)
		if !ok {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			c.srv.stats.authFailed.Add(1)
			return resp, true, nil
		}
		st.session = session
		return resp, false, nil
	case *kmsg.SASLAuthenticateRequest:
		if st.session == nil {
			return nil, false, errNotAuthenticated // no handshake yet
		}
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		out, done, err := st.session.Step(r.SASLAuthBytes)
		if err != nil {
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			text := "Authentication failed"
			var f *auth.Failure
			if errors.As(err, &f) {
				text = f.Message
			}
			resp.ErrorMessage = &text
			c.log.Info("server: SASL authentication failed", "err", err)
			c.srv.stats.authFailed.Add(1)
			return resp, true, nil
		}
		resp.SASLAuthBytes = out
		if done {
			st.done = true
			c.srv.stats.authSucceeded.Add(1)
			c.info.Principal = "User:" + st.session.User()
		}
		return resp, false, nil
	}
	return nil, false, errNotAuthenticated
}
