package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestCommandConfigSASL: --command-config takes Kafka's client properties
// for a SASL_PLAINTEXT listener: SCRAM and PLAIN users connect, a wrong
// password is reported as the broker's authentication failure, and what
// samsa cannot speak (TLS, GSSAPI) is refused before connecting.
func TestCommandConfigSASL(t *testing.T) {
	t.Parallel()
	b := cluster.StartListeners(t, "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0",
		"listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL", "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
		`listener.name.external.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`)
	internal, external := "--brokers="+b.ListenerAddr("INTERNAL"), "--brokers="+b.ListenerAddr("EXTERNAL")
	mustRun(t, "", "user", "set-scram", "bob", "--mechanism", "SCRAM-SHA-512", "--password", "bob-secret", internal)
	mustRun(t, "", "topic", "create", "t", internal)

	dir := t.TempDir()
	props := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return "--command-config=" + p
	}
	scram := props("scram.properties", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="bob-secret";`+"\n")
	plain := props("plain.properties", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";`+"\n")
	for _, cc := range []string{scram, plain} {
		equal(t, "topic list "+cc, mustRun(t, "", "topic", "list", external, cc), "t\n")
	}
	for _, c := range []struct {
		text, want string
	}{
		{"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n" +
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="wrong";`,
			"SASL_AUTHENTICATION_FAILED"},
		{"security.protocol=SSL\n", "security.protocol SSL: samsa has no TLS"},
		{"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=GSSAPI\n" +
			`sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required username="a" password="b";`,
			"sasl.mechanism GSSAPI: samsa's tools speak PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512"},
		{"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n" +
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="bob" password="bob-secret";`,
			"needs org.apache.kafka.common.security.scram.ScramLoginModule"},
	} {
		r := samsa(t, "", "topic", "list", external, props("bad.properties", c.text), "--timeout=10s")
		if r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.text, r.err, c.want)
		}
		if r.err != nil && strings.Contains(r.err.Error(), "wrong") {
			t.Errorf("the password is in the error: %v", r.err)
		}
	}
}
