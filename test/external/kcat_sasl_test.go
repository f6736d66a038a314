//go:build external

package external

import (
	"strings"
	"testing"
)

// TestKcatSASL: librdkafka (kcat) authenticates to a SASL_PLAINTEXT
// listener with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, produces and reads
// back, and is refused with a wrong password.
func TestKcatSASL(t *testing.T) {
	kc := tool(t, "kcat")
	internal, external := startSASLBroker(t)
	createTopic(t, internal, "sasl", 1)
	sasl := func(mechanism, user, pass string) []string {
		return []string{"-b", external, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=" + mechanism,
			"-X", "sasl.username=" + user, "-X", "sasl.password=" + pass}
	}
	users := []struct{ mechanism, user, pass string }{
		{"SCRAM-SHA-256", "bob", "bob-secret"}, {"SCRAM-SHA-512", "carol", "carol-secret"}, {"PLAIN", "alice", "alice-secret"},
	}
	for _, u := range users {
		run(t, "", []byte(u.user+"\n"), kc, append(sasl(u.mechanism, u.user, u.pass), "-P", "-t", "sasl")...)
	}
	for _, u := range users {
		out := run(t, "", nil, kc, append(sasl(u.mechanism, u.user, u.pass), "-C", "-t", "sasl", "-o", "beginning", "-e", "-q")...)
		if got := strings.Fields(string(out)); strings.Join(got, ",") != "bob,carol,alice" {
			t.Errorf("%s %s read %q", u.mechanism, u.user, got)
		}
	}
	// A wrong password: kcat reports the broker's authentication failure.
	_, stderr, err := runExit(t, "", nil, kc, append(sasl("SCRAM-SHA-256", "bob", "wrong"), "-L", "-m", "5")...)
	if err == nil || !strings.Contains(string(stderr), "Authentication failed") {
		t.Errorf("wrong password: exit %v, stderr %s", err, stderr)
	}
}
