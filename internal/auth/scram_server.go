package auth

import (
	"strings"

	xdgscram "github.com/xdg-go/scram"
)

// scramSession is the server side of one SCRAM exchange (RFC 5802), run
// by xdg-go/scram and answered as Kafka's ScramSaslServer answers: two
// client messages, the second's reply the server-final message. Every
// failure but an authorization id other than the user is Kafka's generic
// message, which tells the client nothing about why.
type scramSession struct {
	conv  *xdgscram.ServerConversation
	fail  *Failure
	step  int // client messages taken
	user  string
	ended bool
}

func (s *scramSession) Step(in []byte) ([]byte, bool, error) {
	if s.ended {
		return nil, false, errStepAfterEnd
	}
	s.step++
	switch s.step {
	case 1:
		// Kafka's tokenauth=true extension (KIP-48) asks to authenticate a
		// delegation token, which samsa does not have; Kafka fails an
		// unknown token with the generic message.
		if scramTokenAuth(in) {
			return s.failed(s.fail)
		}
		out, err := s.conv.Step(string(in))
		if err != nil {
			return s.failed(s.fail)
		}
		if z := s.conv.AuthzID(); z != "" && z != s.conv.Username() {
			return s.failed(&Failure{Message: "Authentication failed: Client requested an authorization id that is different from username"})
		}
		return []byte(out), false, nil
	default:
		out, err := s.conv.Step(string(in))
		if err != nil || !s.conv.Valid() {
			return s.failed(s.fail)
		}
		s.ended = true
		s.user = s.conv.Username()
		return []byte(out), true, nil
	}
}

func (s *scramSession) failed(f *Failure) ([]byte, bool, error) {
	s.ended = true
	return nil, false, f
}

func (s *scramSession) User() string { return s.user }

// scramTokenAuth reports whether a client-first message carries Kafka's
// tokenauth extension set true: "n,,n=user,r=nonce,tokenauth=true". The
// extensions follow the nonce; Kafka reads the value as Java's
// Boolean.parseBoolean does (case-insensitive "true").
func scramTokenAuth(in []byte) bool {
	fields := strings.Split(string(in), ",")
	if len(fields) <= 4 {
		return false
	}
	for _, f := range fields[4:] {
		if k, v, ok := strings.Cut(f, "="); ok && k == "tokenauth" && strings.EqualFold(v, "true") {
			return true
		}
	}
	return false
}
