package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// The server side of SCRAM (RFC 5802), answered as Kafka's ScramSaslServer
// answers: two client messages, the second's reply the server-final
// message. It is written here on Go's crypto/hmac and crypto/sha256/512
// rather than run by xdg-go/scram, which the design brief names, because
// that library requires the client-final nonce to equal the server's
// nonce, while Kafka requires only that it end with it; librdkafka (kcat,
// confluent-kafka-*) sends its own nonce before the server's there, and
// Kafka accepts it. The cryptography is the standard library's; what is
// here is the message format and the checks.
//
// Every failure but an authorization id other than the user gets Kafka's
// generic message, which tells the client nothing about why.

// scramServer serves one SCRAM mechanism from a credential lookup.
type scramServer struct {
	mech   metadata.ScramMechanism
	lookup ScramLookup
	fail   *Failure
}

func newScramServer(mech metadata.ScramMechanism, lookup ScramLookup) (*scramServer, error) {
	return &scramServer{mech: mech, lookup: lookup,
		fail: &Failure{Message: "Authentication failed during authentication due to invalid credentials with SASL mechanism " + mech.String()}}, nil
}

func (s *scramServer) start() *scramSession { return &scramSession{srv: s} }

// scramSession is one exchange.
type scramSession struct {
	srv   *scramServer
	step  int // client messages taken
	ended bool
	user  string // once authenticated

	// From the first step, for the second.
	name        string
	cred        metadata.ScramCredential
	nonce       string // client nonce + server nonce
	firstBare   string // client-first-message-bare
	serverFirst string
}

func (s *scramSession) User() string { return s.user }

func (s *scramSession) Step(in []byte) ([]byte, bool, error) {
	if s.ended {
		return nil, false, errStepAfterEnd
	}
	s.step++
	if s.step == 1 {
		out, err := s.first(string(in))
		if err != nil {
			return s.failed(err)
		}
		return []byte(out), false, nil
	}
	out, err := s.final(string(in))
	if err != nil {
		return s.failed(err)
	}
	s.ended, s.user = true, s.name
	return []byte(out), true, nil
}

func (s *scramSession) failed(err error) ([]byte, bool, error) {
	s.ended = true
	return nil, false, err
}

// first takes client-first-message, Kafka's form of it:
//
//	"n," ["a=" authzid] "," ["m=" reserved ","] "n=" saslname ",r=" nonce ("," ext "=" value)*
//
// Only "n" (no channel binding) is accepted as the GS2 flag, as Kafka does.
func (s *scramSession) first(msg string) (string, error) {
	fail := s.srv.fail
	rest, ok := strings.CutPrefix(msg, "n,")
	if !ok {
		return "", fail
	}
	authzEnc, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return "", fail
	}
	authzid := ""
	if authzEnc != "" {
		v, ok := strings.CutPrefix(authzEnc, "a=")
		if !ok {
			return "", fail
		}
		if authzid, ok = saslName(v); !ok {
			return "", fail
		}
	}
	fields := strings.Split(bare, ",")
	if len(fields) > 0 && strings.HasPrefix(fields[0], "m=") {
		fields = fields[1:] // a reserved extension, which Kafka ignores
	}
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "n=") || !strings.HasPrefix(fields[1], "r=") {
		return "", fail
	}
	name, ok := saslName(fields[0][2:])
	cnonce := fields[1][2:]
	if !ok || !printable(cnonce) {
		return "", fail
	}
	for _, ext := range fields[2:] {
		k, v, ok := strings.Cut(ext, "=")
		if !ok || !alpha(k) || !printable(v) && v != "" {
			return "", fail
		}
		// tokenauth=true asks to authenticate a delegation token (KIP-48),
		// which samsa does not have: Kafka fails an unknown token so.
		if k == "tokenauth" && strings.EqualFold(v, "true") {
			return "", fail
		}
	}
	cred, ok := s.srv.lookup(name, s.srv.mech)
	// Kafka refuses a credential under the mechanism's minimum
	// iterations, as clients do.
	if !ok || cred.Iterations < MinScramIterations {
		return "", fail
	}
	if authzid != "" && authzid != name {
		return "", &Failure{Message: "Authentication failed: Client requested an authorization id that is different from username"}
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	s.name, s.cred, s.firstBare = name, cred, bare
	s.nonce = cnonce + base64.RawURLEncoding.EncodeToString(raw[:])
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(int(cred.Iterations))
	return s.serverFirst, nil
}

// final takes client-final-message, "c=" binding ",r=" nonce ("," ext)*
// ",p=" proof, and answers "v=" ServerSignature once the proof verifies
// against the stored key. The nonce must end with the server's (Kafka's
// check: librdkafka repeats its own nonce before it).
func (s *scramSession) final(msg string) (string, error) {
	fail := s.srv.fail
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return "", fail
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	fields := strings.Split(withoutProof, ",")
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "c=") || !strings.HasPrefix(fields[1], "r=") {
		return "", fail
	}
	if _, err := base64.StdEncoding.DecodeString(fields[0][2:]); err != nil {
		return "", fail
	}
	if nonce := fields[1][2:]; !strings.HasSuffix(nonce, s.nonce) {
		return "", fail
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	h := hashOf(s.srv.mech)
	if err != nil || len(proof) != h().Size() {
		return "", fail
	}
	authMessage := s.firstBare + "," + s.serverFirst + "," + withoutProof
	mac := func(key []byte) []byte {
		m := hmac.New(h, key)
		m.Write([]byte(authMessage))
		return m.Sum(nil)
	}
	// ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the proof
	// holds when H(ClientKey) is the stored key.
	clientKey := mac(s.cred.StoredKey)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	d := h()
	d.Write(clientKey)
	if !hmac.Equal(d.Sum(nil), s.cred.StoredKey) {
		return "", fail
	}
	return "v=" + base64.StdEncoding.EncodeToString(mac(s.cred.ServerKey)), nil
}

// saslName decodes RFC 5802's saslname: "=2C" is ',' and "=3D" is '=';
// any other '=' (or a ',' or nothing) is malformed. Kafka accepts ASCII
// only there.
func saslName(v string) (string, bool) {
	if v == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '=':
			switch {
			case strings.HasPrefix(v[i:], "=2C"):
				b.WriteByte(',')
			case strings.HasPrefix(v[i:], "=3D"):
				b.WriteByte('=')
			default:
				return "", false
			}
			i += 2
		case c == 0 || c >= 0x80 || c == ',':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// printable is RFC 5802's printable: %x21-7E except ','; at least one.
func printable(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

func alpha(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
