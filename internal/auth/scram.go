// Package auth holds what authenticates Kafka clients: the SCRAM
// credential derivations (RFC 5802) shared by the controller, which keeps
// credentials, and the tools that create them; the server side of the SASL
// mechanisms PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 as Kafka's broker runs
// them (Mechanisms, Session); and the parser of sasl.jaas.config values a
// listener's PLAIN users come from (ParseJAAS). No networking: a
// connection feeds a Session the SaslAuthenticate auth_bytes it receives.
package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// Iteration bounds Kafka enforces on a SCRAM credential: its mechanisms'
// minimum (4096 for both SHA-256 and SHA-512) and its MAX_ITERATIONS.
const (
	MinScramIterations = 4096
	MaxScramIterations = 16384
)

// hashOf is the hash function of a known mechanism.
func hashOf(m metadata.ScramMechanism) func() hash.Hash {
	if m == metadata.ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// ScramKeys derives the stored and server keys a broker keeps from a
// salted password (RFC 5802): StoredKey = H(HMAC(salted, "Client Key")),
// ServerKey = HMAC(salted, "Server Key"). m must be known.
func ScramKeys(m metadata.ScramMechanism, salted []byte) (stored, server []byte) {
	h := hashOf(m)
	mac := func(msg string) []byte {
		x := hmac.New(h, salted)
		x.Write([]byte(msg))
		return x.Sum(nil)
	}
	d := h()
	d.Write(mac("Client Key"))
	return d.Sum(nil), mac("Server Key")
}

// SaltedPassword is RFC 5802's Hi(password, salt, iterations): PBKDF2 with
// the mechanism's HMAC, as long as its hash. m must be known.
func SaltedPassword(m metadata.ScramMechanism, password string, salt []byte, iterations int) ([]byte, error) {
	h := hashOf(m)
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}
