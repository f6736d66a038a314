package auth

import (
	"bytes"
	"errors"
	"testing"
)

var plainTestUsers = map[string]string{"admin": "admin-secret", "alice": "alice-secret", "bob": "b\x00b"}

func plainSessionFor(t testing.TB) Session {
	t.Helper()
	m, err := NewMechanisms([]string{"PLAIN"}, plainTestUsers, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := m.Start("PLAIN")
	if !ok {
		t.Fatal("PLAIN not enabled")
	}
	return s
}

// TestPlain: PlainSaslServer's outcomes, each failure with Kafka's message.
func TestPlain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		user     string // on success
		fail     string // else
	}{
		{"success", "\x00alice\x00alice-secret", "alice", ""},
		{"authzid equal to username", "admin\x00admin\x00admin-secret", "admin", ""},
		{"wrong password", "\x00alice\x00admin-secret", "", "Authentication failed: Invalid username or password"},
		{"password prefix", "\x00alice\x00alice-secre", "", "Authentication failed: Invalid username or password"},
		{"password longer", "\x00alice\x00alice-secrets", "", "Authentication failed: Invalid username or password"},
		{"unknown user", "\x00mallory\x00alice-secret", "", "Authentication failed: Invalid username or password"},
		{"user case", "\x00Alice\x00alice-secret", "", "Authentication failed: Invalid username or password"},
		{"empty username", "\x00\x00alice-secret", "", "Authentication failed: username not specified"},
		{"empty password", "\x00alice\x00", "", "Authentication failed: password not specified"},
		{"empty both", "\x00\x00", "", "Authentication failed: username not specified"},
		{"other authzid", "admin\x00alice\x00alice-secret", "", "Authentication failed: Client requested an authorization id that is different from username"},
		// Kafka checks the credentials before the authorization id.
		{"other authzid, wrong password", "admin\x00alice\x00x", "", "Authentication failed: Invalid username or password"},
		{"empty", "", "", "Invalid SASL/PLAIN response: expected 3 tokens, got 1"},
		{"one NUL", "alice\x00alice-secret", "", "Invalid SASL/PLAIN response: expected 3 tokens, got 2"},
		{"three NULs", "\x00alice\x00alice-secret\x00", "", "Invalid SASL/PLAIN response: expected 3 tokens, got 4"},
		// Kafka stops splitting at four tokens.
		{"five NULs", "\x00\x00\x00\x00\x00", "", "Invalid SASL/PLAIN response: expected 3 tokens, got 4"},
		// A password with a NUL cannot be sent.
		{"NUL in password", "\x00bob\x00b\x00b", "", "Invalid SASL/PLAIN response: expected 3 tokens, got 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := plainSessionFor(t)
			out, done, err := s.Step([]byte(tc.in))
			if tc.fail == "" {
				if err != nil || !done || out == nil || len(out) != 0 || s.User() != tc.user {
					t.Fatalf("Step = %q, %v, %v; User %q", out, done, err, s.User())
				}
			} else {
				var f *Failure
				if !errors.As(err, &f) || f.Message != tc.fail || done || out != nil || s.User() != "" {
					t.Fatalf("Step = %q, %v, %v; User %q; want failure %q", out, done, err, s.User(), tc.fail)
				}
			}
			// The exchange is over either way.
			out, done, err = s.Step([]byte("\x00alice\x00alice-secret"))
			if err != errStepAfterEnd || done || out != nil || s.User() != tc.user {
				t.Fatalf("second Step = %q, %v, %v; User %q", out, done, err, s.User())
			}
		})
	}
}

// FuzzPlain: any message is answered without panicking, and succeeds only
// for a configured user with their password, as the given user.
func FuzzPlain(f *testing.F) {
	for _, seed := range []string{"\x00alice\x00alice-secret", "admin\x00admin\x00admin-secret", "alice\x00alice\x00x",
		"", "\x00", "\x00\x00", "\x00\x00\x00", "\xff\x00\xfe\x00\xfd", "a\x00alice\x00alice-secret"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := plainSessionFor(t)
		out, done, err := s.Step(in)
		tokens := bytes.Split(in, []byte{0})
		ok := len(tokens) == 3 && len(tokens[1]) > 0 && len(tokens[2]) > 0 &&
			plainTestUsers[string(tokens[1])] == string(tokens[2]) &&
			(len(tokens[0]) == 0 || bytes.Equal(tokens[0], tokens[1]))
		if ok {
			if err != nil || !done || len(out) != 0 || s.User() != string(tokens[1]) {
				t.Fatalf("Step(%q) = %q, %v, %v; User %q", in, out, done, err, s.User())
			}
			return
		}
		var f *Failure
		if !errors.As(err, &f) || done || out != nil || s.User() != "" {
			t.Fatalf("Step(%q) = %q, %v, %v; User %q; want a failure", in, out, done, err, s.User())
		}
	})
}
