package auth

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl"
	kscram "github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// scramStore is a credential store as the metadata image would be one:
// read at each exchange.
type scramStore struct {
	mu    sync.Mutex
	creds map[string]map[metadata.ScramMechanism]metadata.ScramCredential
}

func (s *scramStore) lookup(user string, m metadata.ScramMechanism) (metadata.ScramCredential, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[user][m]
	return c, ok
}

// set stores user's credential for m the way AlterUserScramCredentials
// does: keys derived with SaltedPassword and ScramKeys.
func (s *scramStore) set(t testing.TB, user string, m metadata.ScramMechanism, password string, iterations int) {
	t.Helper()
	salt := []byte("salt of " + user + " for " + m.String())
	salted, err := SaltedPassword(m, password, salt, iterations)
	if err != nil {
		t.Fatal(err)
	}
	stored, server := ScramKeys(m, salted)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creds == nil {
		s.creds = map[string]map[metadata.ScramMechanism]metadata.ScramCredential{}
	}
	if s.creds[user] == nil {
		s.creds[user] = map[metadata.ScramMechanism]metadata.ScramCredential{}
	}
	s.creds[user][m] = metadata.ScramCredential{Salt: salt, StoredKey: stored, ServerKey: server, Iterations: int32(iterations)}
}

func newScramTestMechanisms(t testing.TB) (*Mechanisms, *scramStore) {
	t.Helper()
	store := &scramStore{}
	store.set(t, "alice", metadata.ScramSHA256, "alice-secret", 4096)
	store.set(t, "alice", metadata.ScramSHA512, "alice-secret-512", 8192)
	store.set(t, "bob", metadata.ScramSHA256, "bob-secret", 4096) // no SHA-512 credential
	store.set(t, "a,b=c", metadata.ScramSHA512, "odd", 4096)
	store.set(t, "few", metadata.ScramSHA256, "few", 4095) // under Kafka's minimum
	m, err := NewMechanisms([]string{"SCRAM-SHA-256", "SCRAM-SHA-512"}, nil, store.lookup)
	if err != nil {
		t.Fatal(err)
	}
	return m, store
}

func scramFailure(m metadata.ScramMechanism) string {
	return "Authentication failed during authentication due to invalid credentials with SASL mechanism " + m.String()
}

// exchange runs franz-go's SCRAM client against a server session, in
// memory as the client would over SaslAuthenticate. It returns the server
// session and the first error of either side, whose side it names.
func exchange(t *testing.T, ms *Mechanisms, mech sasl.Mechanism) (Session, error) {
	t.Helper()
	server, ok := ms.Start(mech.Name())
	if !ok {
		t.Fatalf("%s not enabled", mech.Name())
	}
	client, msg, err := mech.Authenticate(context.Background(), "broker:9092")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if i > 3 {
			t.Fatal("exchange does not end")
		}
		reply, serverDone, err := server.Step(msg)
		if err != nil {
			if serverDone {
				t.Fatalf("server failed and done: %v", err)
			}
			return server, err
		}
		clientDone, next, err := client.Challenge(reply)
		if err != nil {
			return server, fmt.Errorf("client: %w", err)
		}
		if clientDone != serverDone {
			t.Fatalf("step %d: client done %v, server done %v", i, clientDone, serverDone)
		}
		if serverDone {
			if len(next) != 0 {
				t.Fatalf("client sends %q after the end", next)
			}
			if out, done, err := server.Step([]byte("c=biws")); err != errStepAfterEnd || done || out != nil {
				t.Fatalf("Step after done = %q, %v, %v", out, done, err)
			}
			return server, nil
		}
		msg = next
	}
}

func wantFailure(t *testing.T, s Session, err error, msg string) {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) || f.Message != msg {
		t.Fatalf("err = %v, want failure %q", err, msg)
	}
	if s.User() != "" {
		t.Fatalf("User = %q after a failure", s.User())
	}
	if out, done, err := s.Step([]byte("n,,n=alice,r=x")); err != errStepAfterEnd || done || out != nil {
		t.Fatalf("Step after a failure = %q, %v, %v", out, done, err)
	}
}

// TestScramFranzGo: franz-go's SCRAM client authenticates with a password
// whose keys ScramKeys derived, for either mechanism, and verifies the
// server's signature; every wrong credential fails with Kafka's message.
func TestScramFranzGo(t *testing.T) {
	t.Parallel()
	ms, store := newScramTestMechanisms(t)
	sha256 := func(user, pass string) sasl.Mechanism { return kscram.Auth{User: user, Pass: pass}.AsSha256Mechanism() }
	sha512 := func(user, pass string) sasl.Mechanism { return kscram.Auth{User: user, Pass: pass}.AsSha512Mechanism() }
	for _, tc := range []struct {
		name string
		mech sasl.Mechanism
		user string // authenticated, or "" for a failure
	}{
		{"sha256", sha256("alice", "alice-secret"), "alice"},
		{"sha512", sha512("alice", "alice-secret-512"), "alice"},
		{"escaped user name", sha512("a,b=c", "odd"), "a,b=c"},
		{"sha256 wrong password", sha256("alice", "alice-secret-512"), ""},
		{"sha512 wrong password", sha512("alice", "alice-secret"), ""},
		{"sha256 unknown user", sha256("mallory", "alice-secret"), ""},
		{"sha512 unknown user", sha512("mallory", "alice-secret-512"), ""},
		{"user case", sha256("Alice", "alice-secret"), ""},
		// bob has only a SHA-256 credential: it does not count for SHA-512.
		{"sha256 credential for sha512", sha512("bob", "bob-secret"), ""},
		{"sha256 credential for sha256", sha256("bob", "bob-secret"), "bob"},
		{"under minimum iterations", sha256("few", "few"), ""},
		// A delegation token (KIP-48): samsa has none.
		{"tokenauth", kscram.Auth{User: "alice", Pass: "alice-secret", IsToken: true}.AsSha256Mechanism(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := exchange(t, ms, tc.mech)
			if tc.user != "" {
				if err != nil || s.User() != tc.user {
					t.Fatalf("err %v, User %q; want %q", err, s.User(), tc.user)
				}
				return
			}
			m, _ := metadata.ScramMechanismNamed(tc.mech.Name())
			wantFailure(t, s, err, scramFailure(m))
		})
	}

	// A credential created after NewMechanisms works at once, a replaced
	// one stops working.
	t.Run("new credential", func(t *testing.T) {
		t.Parallel()
		store.set(t, "carol", metadata.ScramSHA512, "carol-1", 4096)
		if s, err := exchange(t, ms, sha512("carol", "carol-1")); err != nil || s.User() != "carol" {
			t.Fatalf("err %v, User %q", err, s.User())
		}
		store.set(t, "carol", metadata.ScramSHA512, "carol-2", 4096)
		s, err := exchange(t, ms, sha512("carol", "carol-1"))
		wantFailure(t, s, err, scramFailure(metadata.ScramSHA512))
	})
}

// TestScramAuthzid: an authorization id other than the user fails with
// Kafka's message for it; the user's own one is accepted.
func TestScramAuthzid(t *testing.T) {
	t.Parallel()
	ms, _ := newScramTestMechanisms(t)
	s, err := exchange(t, ms, kscram.Auth{Zid: "admin", User: "alice", Pass: "alice-secret"}.AsSha256Mechanism())
	wantFailure(t, s, err, "Authentication failed: Client requested an authorization id that is different from username")
	// Even with a wrong password, as Kafka checks it after the lookup and
	// before the proof.
	s, err = exchange(t, ms, kscram.Auth{Zid: "admin", User: "alice", Pass: "x"}.AsSha256Mechanism())
	wantFailure(t, s, err, "Authentication failed: Client requested an authorization id that is different from username")
	// Unless the user is unknown: the lookup fails first.
	s, err = exchange(t, ms, kscram.Auth{Zid: "admin", User: "mallory", Pass: "x"}.AsSha256Mechanism())
	wantFailure(t, s, err, scramFailure(metadata.ScramSHA256))

	// RFC 5802's channel binding of "n,a=alice," is its base64.
	s, _ = ms.Start("SCRAM-SHA-256")
	if err := scramByHand(s, metadata.ScramSHA256, "n,a=alice,", "n=alice,r=abc", "alice-secret", nil); err != nil || s.User() != "alice" {
		t.Fatalf("err %v, User %q", err, s.User())
	}
	// franz-go sends c=biws ("n,,") whatever its authorization id, which
	// Kafka does not check, and neither does samsa.
	s, err = exchange(t, ms, kscram.Auth{Zid: "alice", User: "alice", Pass: "alice-secret"}.AsSha256Mechanism())
	if err != nil || s.User() != "alice" {
		t.Fatalf("franz-go with its own user as authorization id: %v, User %q", err, s.User())
	}
}

// TestScramLibrdkafkaNonce: librdkafka's client-final nonce is its own
// nonce followed by the server's whole nonce; Kafka accepts a final nonce
// that ends with the server's, and so does samsa, with the proof computed
// over what the client sent. One that does not end with it fails.
func TestScramLibrdkafkaNonce(t *testing.T) {
	t.Parallel()
	ms, _ := newScramTestMechanisms(t)
	s, _ := ms.Start("SCRAM-SHA-256")
	if err := scramByHandNonce(s, metadata.ScramSHA256, "n,,", "n=alice,r=abc", "alice-secret", func(nonce string) string { return "abc" + nonce }); err != nil || s.User() != "alice" {
		t.Fatalf("librdkafka's nonce: %v, User %q", err, s.User())
	}
	s, _ = ms.Start("SCRAM-SHA-256")
	err := scramByHandNonce(s, metadata.ScramSHA256, "n,,", "n=alice,r=abc", "alice-secret", func(nonce string) string { return nonce + "x" })
	wantFailure(t, s, err, scramFailure(metadata.ScramSHA256))
}

// TestScramExtensions: extension attributes after the client nonce are
// accepted (and part of the proof), but tokenauth=true, which asks for a
// delegation token, fails.
func TestScramExtensions(t *testing.T) {
	t.Parallel()
	ms, _ := newScramTestMechanisms(t)
	for _, tc := range []struct {
		bare string
		ok   bool
	}{
		{"n=alice,r=abc", true},
		{"n=alice,r=abc,foo=bar", true},
		{"n=alice,r=abc,tokenauth=false", true},
		{"n=alice,r=abc,tokenauth=true", false},
		{"n=alice,r=abc,foo=bar,tokenauth=TRUE", false},
	} {
		t.Run(tc.bare, func(t *testing.T) {
			t.Parallel()
			s, _ := ms.Start("SCRAM-SHA-256")
			err := scramByHand(s, metadata.ScramSHA256, "n,,", tc.bare, "alice-secret", nil)
			if tc.ok {
				if err != nil || s.User() != "alice" {
					t.Fatalf("err %v, User %q", err, s.User())
				}
				return
			}
			wantFailure(t, s, err, scramFailure(metadata.ScramSHA256))
		})
	}
}

// TestScramMalformed: a malformed client message fails with the generic
// message, at whichever step it comes.
func TestScramMalformed(t *testing.T) {
	t.Parallel()
	ms, _ := newScramTestMechanisms(t)
	for _, first := range []string{
		"", "n,,", "n,,n=alice", "n,,r=abc,n=alice", "x,,n=alice,r=abc", "n,,n=al=ice,r=abc",
		"p=tls-server-end-point,,n=alice,r=abc", "y,,n=alice,r=abc", "n,b=x,n=alice,r=abc", "n,,n=alice,r=a b",
	} {
		s, _ := ms.Start("SCRAM-SHA-256")
		out, done, err := s.Step([]byte(first))
		if out != nil || done {
			t.Fatalf("first %q: Step = %q, %v, %v", first, out, done, err)
		}
		wantFailure(t, s, err, scramFailure(metadata.ScramSHA256))
	}
	for name, final := range map[string]string{
		"empty":         "",
		"no proof":      "c=biws,r=",
		"bad base64":    "c=biws,r=,p=***",
		"wrong nonce":   "c=biws,r=abc,p=AAAA",
		"short proof":   "c=biws,nonce,p=AAAA",
		"wrong binding": "c=eSws,nonce,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"wrong proof":   "c=biws,nonce,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"garbage":       "\xff\x00,,,",
	} {
		s, _ := ms.Start("SCRAM-SHA-256")
		err := scramByHand(s, metadata.ScramSHA256, "n,,", "n=alice,r=abc", "alice-secret", &final)
		if err == nil {
			t.Fatalf("%s: authenticated", name)
		}
		wantFailure(t, s, err, scramFailure(metadata.ScramSHA256))
	}
}

// scramByHand runs a SCRAM client written out here, so that a test can
// send what franz-go would not: gs2 is the GS2 header, bare the rest of
// the client-first message. The client-final message is computed with
// password unless final is given (non-nil), where "nonce" in it stands for
// "r=<the server's nonce>".
func scramByHand(s Session, m metadata.ScramMechanism, gs2, bare, password string, final *string) error {
	return scramByHandFinal(s, m, gs2, bare, password, final, func(nonce string) string { return nonce })
}

// scramByHandNonce is scramByHand whose client-final nonce is
// finalNonce(the server's nonce).
func scramByHandNonce(s Session, m metadata.ScramMechanism, gs2, bare, password string, finalNonce func(string) string) error {
	return scramByHandFinal(s, m, gs2, bare, password, nil, finalNonce)
}

func scramByHandFinal(s Session, m metadata.ScramMechanism, gs2, bare, password string, final *string, finalNonce func(string) string) error {
	first, done, err := s.Step([]byte(gs2 + bare))
	if err != nil || done {
		return fmt.Errorf("first step: done %v, %w", done, err)
	}
	fields := strings.Split(string(first), ",")
	if len(fields) != 3 || !strings.HasPrefix(fields[0], "r=") || !strings.HasPrefix(fields[1], "s=") || !strings.HasPrefix(fields[2], "i=") {
		return fmt.Errorf("server-first %q", first)
	}
	nonce := fields[0][2:]
	if final != nil {
		_, _, err := s.Step([]byte(strings.ReplaceAll(*final, "nonce", "r="+nonce)))
		return err
	}
	salt, err := base64.StdEncoding.DecodeString(fields[1][2:])
	if err != nil {
		return err
	}
	iters, err := strconv.Atoi(fields[2][2:])
	if err != nil {
		return err
	}
	salted, err := SaltedPassword(m, password, salt, iters)
	if err != nil {
		return err
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2)) + ",r=" + finalNonce(nonce)
	authMsg := bare + "," + string(first) + "," + withoutProof
	h := hashOf(m)
	mac := func(key []byte, msg string) []byte {
		x := hmac.New(h, key)
		x.Write([]byte(msg))
		return x.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	stored, serverKey := ScramKeys(m, salted)
	proof := mac(stored, authMsg)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	out, done, err := s.Step([]byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)))
	if err != nil {
		return err
	}
	if want := "v=" + base64.StdEncoding.EncodeToString(mac(serverKey, authMsg)); !done || string(out) != want {
		return fmt.Errorf("server-final %q, done %v; want %q", out, done, want)
	}
	return nil
}

// FuzzScram: any pair of client messages is answered without panicking and
// never authenticates.
func FuzzScram(f *testing.F) {
	ms, _ := newScramTestMechanisms(f)
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc,p=AAAA"))
	f.Add([]byte("n,,n=alice,r=abc,tokenauth=true"), []byte("c=biws,r=abc,p=AAAA"))
	f.Add([]byte("n,a=alice,n=alice,r=abc"), []byte("c=bixhPWFsaWNlLA==,r=abc,x=y,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
	f.Add([]byte("y,,n=bob,r="), []byte("c=eSws,r=,p="))
	f.Add([]byte("n,,n=a=2Cb=3Dc,r=x,m=1"), []byte(""))
	f.Add([]byte(""), []byte(""))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			s, _ := ms.Start(mech)
			out, done, err := s.Step(first)
			if done {
				t.Fatalf("%s: done after %q", mech, first)
			}
			if err == nil {
				out, done, err = s.Step(second)
			}
			var fail *Failure
			if !errors.As(err, &fail) || done || out != nil || s.User() != "" {
				t.Fatalf("%s: %q, %q: Step = %q, %v, %v; User %q", mech, first, second, out, done, err, s.User())
			}
			if _, _, err := s.Step(second); err != errStepAfterEnd {
				t.Fatalf("%s: Step after the end: %v", mech, err)
			}
		}
	})
}
