//go:build external

package external

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestKcatSASL: librdkafka (kcat) authenticates to a SASL_PLAINTEXT
// listener with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, produces and reads
// back, and is refused with a wrong password.
func TestKcatSASL(t *testing.T) {
	kc := tool(t, "kcat")
	b := cluster.StartListeners(t, "INTERNAL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"listener.security.protocol.map=INTERNAL:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL", "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
		`listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`)
	internal, external := b.ListenerAddr("INTERNAL"), b.ListenerAddr("SASL_PLAINTEXT")
	if _, err := kadm.NewClient(client(t, internal)).AlterUserSCRAMs(context.Background(), nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "bob-secret"},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-secret"},
	}); err != nil {
		t.Fatal(err)
	}
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
