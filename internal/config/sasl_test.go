package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestSASLListeners: a SASL_PLAINTEXT client listener takes its mechanisms
// from sasl.enabled.mechanisms or its own override, PLAIN's users from its
// JAAS config; what samsa cannot serve, or a PLAIN without users, stops the
// broker with an error that never shows a password.
func TestSASLListeners(t *testing.T) {
	t.Parallel()
	base := []string{
		"listeners=INTERNAL://127.0.0.1:9092,EXTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093",
		"listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL",
	}
	const plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="hunter2" user_bob="s3cret";`
	sets := func(extra ...string) []string { return append(slices.Clone(base), extra...) }

	b := mustLoad(t, sets("sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
		"listener.name.external.plain.sasl.jaas.config="+plainJAAS,
		"listener.name.external.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;")...)
	ext := b.Listeners[1]
	if ext.Name != "EXTERNAL" || ext.Protocol != "SASL_PLAINTEXT" || !slices.Equal(ext.SASLMechanisms, []string{"PLAIN", "SCRAM-SHA-512"}) ||
		len(ext.PlainUsers) != 2 || ext.PlainUsers["alice"] != "hunter2" {
		t.Fatalf("EXTERNAL: %s %s %v, %d PLAIN users", ext.Name, ext.Protocol, ext.SASLMechanisms, len(ext.PlainUsers))
	}
	if b.Listeners[0].SASLMechanisms != nil {
		t.Fatalf("INTERNAL has mechanisms %v", b.Listeners[0].SASLMechanisms)
	}
	if s := fmt.Sprintf("%v %+v %#v", b.Listeners, b.Listeners, ext); strings.Contains(s, "hunter2") {
		t.Fatalf("a password is printed: %s", s)
	}
	// The listener's own list wins over the broker-wide one.
	b = mustLoad(t, sets("listener.name.external.sasl.enabled.mechanisms=SCRAM-SHA-256")...)
	if got := b.Listeners[1].SASLMechanisms; !slices.Equal(got, []string{"SCRAM-SHA-256"}) {
		t.Fatalf("per-listener mechanisms %v", got)
	}

	for _, tc := range []struct {
		sets []string
		want string
	}{
		{sets(), `config: sasl.enabled.mechanisms="GSSAPI" (from default): listener EXTERNAL enables GSSAPI: samsa implements PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{sets("sasl.enabled.mechanisms=PLAIN"),
			`config: listener.name.external.plain.sasl.jaas.config: listener EXTERNAL enables PLAIN, whose users (user_<name>="<password>" options of ` +
				`org.apache.kafka.common.security.plain.PlainLoginModule) this config gives: set it`},
		{sets("sasl.enabled.mechanisms=PLAIN", `listener.name.external.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="hunter2";`),
			`config: listener.name.external.plain.sasl.jaas.config (from --set): names no user: PLAIN's users are its user_<name>="<password>" options`},
		{sets("sasl.enabled.mechanisms=SCRAM-SHA-256", `listener.name.external.scram-sha-256.sasl.jaas.config=`+plainJAAS),
			`config: listener.name.external.scram-sha-256.sasl.jaas.config (from --set): must use org.apache.kafka.common.security.scram.ScramLoginModule`},
		{sets("listener.name.external.sasl.enabled.mechanisms=OAUTHBEARER"),
			`config: listener.name.external.sasl.enabled.mechanisms="OAUTHBEARER" (from --set): listener EXTERNAL enables OAUTHBEARER: samsa implements PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{sets("sasl.enabled.mechanisms=SCRAM-SHA-256", "listener.name.internal.plain.sasl.jaas.config="+plainJAAS),
			`config: listener.name.internal.plain.sasl.jaas.config (from --set): names no SASL_PLAINTEXT listener: a SASL setting for a listener that does not authenticate is refused`},
		{sets("sasl.enabled.mechanisms=SCRAM-SHA-256", "inter.broker.listener.name=EXTERNAL"),
			`config: inter.broker.listener.name="EXTERNAL" (from --set): listener EXTERNAL is SASL_PLAINTEXT; samsa's brokers replicate over PLAINTEXT only: add a PLAINTEXT listener for them (e.g. INTERNAL://...)`},
	} {
		_, err := loadSets(tc.sets...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.sets[len(base):], err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("a password is in the error: %v", err)
		}
	}
}
