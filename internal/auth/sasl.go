package auth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// The SASL mechanisms samsa serves, by the names Kafka gives them.
const (
	mechPlain       = "PLAIN"
	mechScramSHA256 = "SCRAM-SHA-256"
	mechScramSHA512 = "SCRAM-SHA-512"
)

// Session is one SASL exchange on one connection. It is not safe for
// concurrent use: a connection drives its own exchange.
type Session interface {
	// Step takes the client's next message (SaslAuthenticate's auth_bytes) and returns
	// the server's reply; done reports the exchange completed successfully. A non-nil
	// error fails authentication; its message (if *Failure) goes to the client.
	Step(in []byte) (out []byte, done bool, err error)
	// User is the authenticated user name once done ("" before).
	User() string
}

// Failure is an authentication failure; Message is what Kafka would tell
// the client in SaslAuthenticate's error_message (e.g. PLAIN:
// "Authentication failed: Invalid username or password").
type Failure struct{ Message string }

func (f *Failure) Error() string { return f.Message }

// errStepAfterEnd is a Step on a session that has already succeeded or
// failed; Kafka answers a SaslAuthenticate after success with
// ILLEGAL_SASL_STATE and this message.
var errStepAfterEnd = errors.New("SaslAuthenticate request received after the SASL exchange ended")

// ScramLookup finds a user's credential for a mechanism (from the metadata
// image, read at each exchange so new credentials work at once).
type ScramLookup func(user string, m metadata.ScramMechanism) (metadata.ScramCredential, bool)

// Mechanisms are the mechanisms one SASL listener enables. It is immutable
// and safe for concurrent use; each Start begins an independent exchange.
type Mechanisms struct {
	enabled []string
	plain   map[string][sha256.Size]byte // user -> SHA-256 of the password
	scram   map[string]*scramServer      // SCRAM mechanism name -> server
}

// NewMechanisms: enabled are SASL mechanism names in config order ("PLAIN",
// "SCRAM-SHA-256", "SCRAM-SHA-512"); any other name (GSSAPI, OAUTHBEARER,
// ...) is an error; an empty list is an error. A name listed twice counts
// once. plainUsers (user -> password) is required (non-empty) when PLAIN is
// enabled; scram is required when a SCRAM mechanism is enabled.
func NewMechanisms(enabled []string, plainUsers map[string]string, scram ScramLookup) (*Mechanisms, error) {
	if len(enabled) == 0 {
		return nil, errors.New("sasl: no SASL mechanism enabled (samsa supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512)")
	}
	m := &Mechanisms{}
	for _, name := range enabled {
		if slices.Contains(m.enabled, name) {
			continue
		}
		switch name {
		case mechPlain:
			if len(plainUsers) == 0 {
				return nil, errors.New("sasl: PLAIN is enabled but no PLAIN user is configured (user_<name>=\"<password>\" options of the PlainLoginModule)")
			}
			m.plain = make(map[string][sha256.Size]byte, len(plainUsers))
			for u, p := range plainUsers {
				m.plain[u] = sha256.Sum256([]byte(p))
			}
		case mechScramSHA256, mechScramSHA512:
			if scram == nil {
				return nil, fmt.Errorf("sasl: %s is enabled without a SCRAM credential store", name)
			}
			mech, _ := metadata.ScramMechanismNamed(name)
			s, err := newScramServer(mech, scram)
			if err != nil {
				return nil, err
			}
			if m.scram == nil {
				m.scram = map[string]*scramServer{}
			}
			m.scram[name] = s
		default:
			return nil, fmt.Errorf("sasl: unsupported SASL mechanism %q: samsa supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512", name)
		}
		m.enabled = append(m.enabled, name)
	}
	return m, nil
}

// Enabled are the enabled mechanism names, in config order.
func (m *Mechanisms) Enabled() []string { return slices.Clone(m.enabled) }

// Start begins an exchange with mechanism, which must be enabled: its name
// exactly, as Kafka compares it (case-sensitive). False if it is not.
func (m *Mechanisms) Start(mechanism string) (Session, bool) {
	if !slices.Contains(m.enabled, mechanism) {
		return nil, false
	}
	if mechanism == mechPlain {
		return &plainSession{users: m.plain}, true
	}
	return m.scram[mechanism].start(), true
}
