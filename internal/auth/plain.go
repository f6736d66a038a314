package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"strconv"
)

// unknownUserPassword is what a PLAIN password of an unknown user is
// compared with, so that an unknown user costs what a known one does.
var unknownUserPassword = sha256.Sum256([]byte("samsa: no such PLAIN user"))

// plainSession is the server side of SASL/PLAIN (RFC 4616) as Kafka's
// PlainSaslServer does it: one client message, an empty reply.
type plainSession struct {
	users map[string][sha256.Size]byte
	user  string
	ended bool
}

func plainFailure(msg string) *Failure { return &Failure{Message: "Authentication failed: " + msg} }

func (s *plainSession) Step(in []byte) ([]byte, bool, error) {
	if s.ended {
		return nil, false, errStepAfterEnd
	}
	s.ended = true
	// [authzid] NUL authcid NUL passwd. Kafka splits into at most four
	// tokens and wants exactly three.
	tokens := bytes.SplitN(in, []byte{0}, 4)
	if len(tokens) != 3 {
		return nil, false, &Failure{Message: "Invalid SASL/PLAIN response: expected 3 tokens, got " + strconv.Itoa(len(tokens))}
	}
	authzid, user, password := tokens[0], string(tokens[1]), tokens[2]
	if user == "" {
		return nil, false, plainFailure("username not specified")
	}
	if len(password) == 0 {
		return nil, false, plainFailure("password not specified")
	}
	want, known := s.users[user]
	if !known {
		want = unknownUserPassword
	}
	got := sha256.Sum256(password)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
		return nil, false, plainFailure("Invalid username or password")
	}
	// Kafka checks the authorization id only once the credentials are.
	if len(authzid) != 0 && string(authzid) != user {
		return nil, false, plainFailure("Client requested an authorization id that is different from username")
	}
	s.user = user
	return []byte{}, true, nil
}

func (s *plainSession) User() string { return s.user }
