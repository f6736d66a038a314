//go:build external

package external

import (
	"strconv"
	"strings"
	"testing"
)

// TestKafkaJSSASL: KafkaJS authenticates to a SASL_PLAINTEXT listener with
// SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN and runs produce.js (its admin
// client creates the topic, its idempotent producer writes); a wrong
// password fails the script. Not parallel: the credentials reach the
// script through the environment.
func TestKafkaJSSASL(t *testing.T) {
	tool(t, "node")
	kafkajsDir(t)
	internal, external := startSASLBroker(t)
	for i, u := range []struct{ mechanism, user, pass string }{
		{"scram-sha-256", "bob", "bob-secret"}, {"scram-sha-512", "carol", "carol-secret"}, {"plain", "alice", "alice-secret"},
	} {
		t.Setenv("KAFKAJS_SASL_MECHANISM", u.mechanism)
		t.Setenv("KAFKAJS_SASL_USERNAME", u.user)
		t.Setenv("KAFKAJS_SASL_PASSWORD", u.pass)
		topic := "kafkajs-sasl-" + strconv.Itoa(i)
		node(t, "produce.js", external, topic, "10")
		if got := len(consumeAll(t, internal, topic)); got != 10 {
			t.Errorf("%s %s: %d records stored, want 10", u.mechanism, u.user, got)
		}
	}
	t.Setenv("KAFKAJS_SASL_MECHANISM", "scram-sha-256")
	t.Setenv("KAFKAJS_SASL_USERNAME", "bob")
	t.Setenv("KAFKAJS_SASL_PASSWORD", "wrong")
	_, stderr, err := runExit(t, kafkajsDir(t), nil, tool(t, "node"), "produce.js", external, "kafkajs-sasl-wrong", "10")
	if err == nil || !strings.Contains(string(stderr), "SASL SCRAM SHA256 authentication failed") {
		t.Errorf("a wrong password: %v\n%s", err, stderr)
	}
}
