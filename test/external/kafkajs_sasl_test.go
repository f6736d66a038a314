//go:build external

package external

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestKafkaJSSASL: KafkaJS authenticates to a SASL_PLAINTEXT listener with
// SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN and runs produce.js (its admin
// client creates the topic, its idempotent producer writes); a wrong
// password fails the script. Not parallel: the credentials reach the
// script through the environment.
func TestKafkaJSSASL(t *testing.T) {
	tool(t, "node")
	kafkajsDir(t)
	b := cluster.StartListeners(t, "INTERNAL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"listener.security.protocol.map=INTERNAL:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL", "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
		`listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`)
	internal, external := b.ListenerAddr("INTERNAL"), b.ListenerAddr("SASL_PLAINTEXT")
	if _, err := kadm.NewClient(client(t, internal)).AlterUserSCRAMs(context.Background(), nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-secret"},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-secret"},
	}); err != nil {
		t.Fatal(err)
	}
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
