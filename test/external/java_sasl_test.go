//go:build external

package external

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestJavaSASL: Kafka's own tools against a SASL_PLAINTEXT listener, as an
// operator would use them: kafka-configs creates and describes SCRAM users
// (AlterUserScramCredentials, DescribeUserScramCredentials and
// DescribeClientQuotas), and kafka-topics connects with
// --command-config as each of them (SCRAM-SHA-256, SCRAM-SHA-512) and as a
// PLAIN user; a wrong password is refused.
func TestJavaSASL(t *testing.T) {
	javaArgFile(t)
	tool(t, "java")
	b := cluster.StartListeners(t, "INTERNAL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"listener.security.protocol.map=INTERNAL:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL", "sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
		`listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";`)
	internal, external := b.ListenerAddr("INTERNAL"), b.ListenerAddr("SASL_PLAINTEXT")

	// One mechanism per command: both in one request alter the user
	// twice, which KRaft's controller refuses (DUPLICATE_RESOURCE), and so
	// does samsa's.
	for _, cfg := range []string{"SCRAM-SHA-256=[iterations=8192,password=alice-secret]", "SCRAM-SHA-512=[password=alice-secret]"} {
		out := java(t, nil, kafkaConfigs, "--bootstrap-server", internal, "--alter", "--entity-type", "users", "--entity-name", "alice", "--add-config", cfg)
		equalText(t, "kafka-configs --alter users "+cfg, out, textLines("Completed updating config for user alice."))
	}
	out := java(t, nil, kafkaConfigs, "--bootstrap-server", internal, "--describe", "--entity-type", "users", "--entity-name", "alice")
	// It asks DescribeClientQuotas too (none: samsa has no quotas yet).
	equalText(t, "kafka-configs --describe users", out,
		textLines("SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096"))
	_, stderr, code := javaExit(t, kafkaConfigs, "--bootstrap-server", internal, "--alter", "--entity-type", "users", "--entity-name", "bob",
		"--add-config", "SCRAM-SHA-256=[password=b],SCRAM-SHA-512=[password=b]")
	if code == 0 || !strings.Contains(string(stderr), "A user credential cannot be altered twice in the same request") {
		t.Errorf("two mechanisms in one kafka-configs: exit %d, stderr %s", code, stderr)
	}

	dir := t.TempDir()
	props := func(name, mechanism, module, user, pass string) string {
		p := filepath.Join(dir, name)
		text := "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=" + mechanism + "\n" +
			"sasl.jaas.config=org.apache.kafka.common.security." + module + " required username=\"" + user + "\" password=\"" + pass + "\";\n"
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	java(t, nil, kafkaTopics, "--bootstrap-server", external, "--command-config",
		props("create.properties", "SCRAM-SHA-512", "scram.ScramLoginModule", "alice", "alice-secret"), "--create", "--topic", "sasl-java")
	for _, p := range []string{
		props("sha256.properties", "SCRAM-SHA-256", "scram.ScramLoginModule", "alice", "alice-secret"),
		props("sha512.properties", "SCRAM-SHA-512", "scram.ScramLoginModule", "alice", "alice-secret"),
		props("plain.properties", "PLAIN", "plain.PlainLoginModule", "admin", "admin-secret"),
	} {
		out := java(t, nil, kafkaTopics, "--bootstrap-server", external, "--command-config", p, "--list")
		equalText(t, "kafka-topics --list with "+filepath.Base(p), out, textLines("sasl-java"))
	}
	_, stderr, code = javaExit(t, kafkaTopics, "--bootstrap-server", external, "--command-config",
		props("wrong.properties", "SCRAM-SHA-256", "scram.ScramLoginModule", "alice", "wrong"), "--list")
	if code == 0 || !strings.Contains(string(stderr), "Authentication failed") {
		t.Errorf("a wrong password: exit %d, stderr %s", code, stderr)
	}
}
