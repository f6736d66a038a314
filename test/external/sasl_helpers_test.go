//go:build external

package external

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// startSASLBroker starts a broker with a PLAINTEXT listener (inter-broker,
// for setting credentials) and a SASL_PLAINTEXT one enabling SCRAM-SHA-256,
// SCRAM-SHA-512 and PLAIN, with three users: alice (PLAIN, alice-secret),
// bob (SCRAM-SHA-256, bob-secret) and carol (SCRAM-SHA-512, carol-secret).
// It returns both listeners' addresses.
func startSASLBroker(t *testing.T) (internal, external string) {
	t.Helper()
	b := cluster.StartListeners(t, "INTERNAL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"listener.security.protocol.map=INTERNAL:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL", "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
		`listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`)
	internal, external = b.ListenerAddr("INTERNAL"), b.ListenerAddr("SASL_PLAINTEXT")
	if _, err := kadm.NewClient(client(t, internal)).AlterUserSCRAMs(context.Background(), nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "bob-secret"},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-secret"},
	}); err != nil {
		t.Fatal(err)
	}
	return internal, external
}
