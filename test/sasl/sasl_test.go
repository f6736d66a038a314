package sasl

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// jaas is the PLAIN listener's users: admin and alice.
const jaas = `org.apache.kafka.common.security.plain.PlainLoginModule required
	username="admin" password="admin-secret"
	user_admin="admin-secret"
	user_alice="alice-secret";`

// start runs a broker with a PLAINTEXT listener (inter-broker, for the
// admin client that sets SCRAM credentials) and a SASL_PLAINTEXT one
// enabling mechanisms; it returns the broker and both addresses.
func start(t *testing.T, mechanisms string) (*cluster.Broker, string, string) {
	t.Helper()
	b := cluster.StartListeners(t, "INTERNAL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"listener.security.protocol.map=INTERNAL:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL",
		"sasl.enabled.mechanisms="+mechanisms,
		"listener.name.sasl_plaintext.plain.sasl.jaas.config="+jaas)
	return b, b.ListenerAddr("INTERNAL"), b.ListenerAddr("SASL_PLAINTEXT")
}

// roundTrip produces one record to topic and reads it back through the
// SASL listener with mechanism m, returning the first error.
func roundTrip(ctx context.Context, addr string, m sasl.Mechanism, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(m), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RequestRetries(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	// A failed authentication fails the request that needed the
	// connection; a produce would retry until its own deadline.
	if err := cl.Ping(ctx); err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
		return err
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return err
		}
		if fs.NumRecords() > 0 {
			if v := string(fs.Records()[0].Value); v != "v" {
				return errors.New("read " + v)
			}
			return nil
		}
	}
}

// authFailed reports whether err is the broker's SASL_AUTHENTICATION_FAILED.
func authFailed(err error) bool { return errors.Is(err, kerr.SaslAuthenticationFailed) }

// TestPLAINAndSCRAM: PLAIN users from the listener's JAAS config and SCRAM
// users from stored credentials authenticate and produce and consume; a
// wrong password, an unknown user, a credential of the other SCRAM
// mechanism and a deleted credential do not.
func TestPLAINAndSCRAM(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, internal, external := start(t, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512")
	admin, err := kgo.NewClient(kgo.SeedBrokers(internal))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	if _, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-secret"},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "carol-secret"},
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		m    sasl.Mechanism
		ok   bool
	}{
		{"PLAIN alice", plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism(), true},
		{"PLAIN admin", plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism(), true},
		{"PLAIN alice, wrong password", plain.Auth{User: "alice", Pass: "nope"}.AsMechanism(), false},
		{"PLAIN unknown user", plain.Auth{User: "mallory", Pass: "alice-secret"}.AsMechanism(), false},
		{"SCRAM-SHA-256 bob", scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha256Mechanism(), true},
		{"SCRAM-SHA-512 carol", scram.Auth{User: "carol", Pass: "carol-secret"}.AsSha512Mechanism(), true},
		{"SCRAM-SHA-256 bob, wrong password", scram.Auth{User: "bob", Pass: "nope"}.AsSha256Mechanism(), false},
		{"SCRAM-SHA-512 bob (his credential is SHA-256)", scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism(), false},
		{"SCRAM-SHA-256 alice (a PLAIN user only)", scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism(), false},
	} {
		err := roundTrip(ctx, external, c.m, "t")
		if c.ok && err != nil || !c.ok && !authFailed(err) {
			t.Errorf("%s: %v (want success: %v)", c.name, err, c.ok)
		}
	}
	// A deleted credential stops authenticating at once.
	if _, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha256}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(ctx, external, scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha256Mechanism(), "t"); !authFailed(err) {
		t.Errorf("SCRAM-SHA-256 bob after his credential was deleted: %v", err)
	}
}

// conn is a raw Kafka connection for the protocol rules.
type conn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	id int32
}

func dial(t *testing.T, addr string) *conn {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &conn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// send writes req and reads its response into resp; it returns io.EOF (or
// another read error) when the broker closed the connection instead.
func (c *conn) send(req kmsg.Request, resp kmsg.Response) error {
	c.id++
	body := req.AppendTo(nil)
	hdr := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(req.GetVersion()))
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(c.id))
	hdr = append(hdr, 0xff, 0xff) // null client id
	if req.IsFlexible() {
		hdr = append(hdr, 0) // no tagged fields
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(hdr)+len(body)))
	if _, err := c.nc.Write(append(append(frame, hdr...), body...)); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.br, size[:]); err != nil {
		return err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return err
	}
	buf = buf[4:] // correlation id
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != 18 {
		buf = buf[1:] // the header's tagged fields
	}
	return resp.ReadFrom(buf)
}

// closed reports whether the broker closed the connection: a read sees
// EOF or a reset, not the deadline.
func (c *conn) closed() bool {
	_, err := c.br.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// TestBeforeAuthentication: before authenticating a connection may send
// ApiVersions, a handshake and the exchange, and nothing else; a mechanism
// not enabled is answered with the enabled ones and the connection closes;
// a failed exchange is answered SASL_AUTHENTICATION_FAILED and closes; after
// authenticating, another handshake is ILLEGAL_SASL_STATE, as on a
// PLAINTEXT listener.
func TestBeforeAuthentication(t *testing.T) {
	t.Parallel()
	b, internal, external := start(t, "PLAIN,SCRAM-SHA-256")

	// A Metadata request before authenticating closes the connection.
	c := dial(t, external)
	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(3)
	av.ClientSoftwareName, av.ClientSoftwareVersion = "test", "1"
	if err := c.send(av, kmsg.NewPtrApiVersionsResponse()); err != nil {
		t.Fatalf("ApiVersions before authenticating: %v", err)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(12)
	if err := c.send(md, kmsg.NewPtrMetadataResponse()); err == nil {
		t.Fatal("Metadata before authenticating was answered")
	}

	// So does a frame above Kafka's sasl.server.max.receive.size (512 KiB),
	// even a Produce, whose frames may otherwise be large.
	c = dial(t, external)
	big := binary.BigEndian.AppendUint32(nil, 600000)
	big = append(big, 0, 0, 0, 9, 0, 0, 0, 1) // Produce v9, correlation id 1
	if _, err := c.nc.Write(big); err != nil {
		t.Fatal(err)
	}
	if !c.closed() {
		t.Fatal("a 600000-byte frame before authenticating did not close the connection")
	}

	// SaslAuthenticate without a handshake closes it too.
	c = dial(t, external)
	sa := kmsg.NewPtrSASLAuthenticateRequest()
	sa.SetVersion(2)
	if err := c.send(sa, kmsg.NewPtrSASLAuthenticateResponse()); err == nil {
		t.Fatal("SaslAuthenticate before a handshake was answered")
	}

	// A mechanism not enabled.
	c = dial(t, external)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.SetVersion(1)
	hs.Mechanism = "GSSAPI"
	hsResp := kmsg.NewPtrSASLHandshakeResponse()
	if err := c.send(hs, hsResp); err != nil {
		t.Fatal(err)
	}
	if hsResp.ErrorCode != kerr.UnsupportedSaslMechanism.Code || strings.Join(hsResp.SupportedMechanisms, ",") != "PLAIN,SCRAM-SHA-256" {
		t.Fatalf("GSSAPI handshake: error %d, mechanisms %v", hsResp.ErrorCode, hsResp.SupportedMechanisms)
	}
	if !c.closed() {
		t.Fatal("the connection stayed open after an unsupported mechanism")
	}

	// A failed PLAIN exchange.
	c = dial(t, external)
	hs.Mechanism = "PLAIN"
	if err := c.send(hs, hsResp); err != nil || hsResp.ErrorCode != 0 {
		t.Fatalf("PLAIN handshake: %v %d", err, hsResp.ErrorCode)
	}
	sa.SASLAuthBytes = []byte("\x00alice\x00wrong")
	saResp := kmsg.NewPtrSASLAuthenticateResponse()
	if err := c.send(sa, saResp); err != nil {
		t.Fatal(err)
	}
	if saResp.ErrorCode != kerr.SaslAuthenticationFailed.Code || saResp.ErrorMessage == nil ||
		*saResp.ErrorMessage != "Authentication failed: Invalid username or password" {
		t.Fatalf("wrong password: error %d %v", saResp.ErrorCode, saResp.ErrorMessage)
	}
	if !c.closed() {
		t.Fatal("the connection stayed open after a failed authentication")
	}

	// A successful one; then requests are served, and a second
	// handshake is ILLEGAL_SASL_STATE.
	c = dial(t, external)
	if err := c.send(hs, hsResp); err != nil || hsResp.ErrorCode != 0 {
		t.Fatalf("PLAIN handshake: %v %d", err, hsResp.ErrorCode)
	}
	sa.SASLAuthBytes = []byte("\x00alice\x00alice-secret")
	if err := c.send(sa, saResp); err != nil || saResp.ErrorCode != 0 || saResp.SessionLifetimeMillis != 0 {
		t.Fatalf("right password: %v %d %d", err, saResp.ErrorCode, saResp.SessionLifetimeMillis)
	}
	mdResp := kmsg.NewPtrMetadataResponse()
	if err := c.send(md, mdResp); err != nil || len(mdResp.Brokers) != 1 {
		t.Fatalf("Metadata after authenticating: %v %+v", err, mdResp.Brokers)
	}
	if err := c.send(hs, hsResp); err != nil || hsResp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("a second handshake: %v %d", err, hsResp.ErrorCode)
	}

	// The broker counted one success and two failures (the refused
	// mechanism, the wrong password); the connections closed for
	// requests out of turn are protocol errors, not authentications.
	if st := b.Server().Stats(); st.AuthSucceeded != 1 || st.AuthFailed != 2 {
		t.Errorf("authentications: %d succeeded, %d failed; want 1 and 2", st.AuthSucceeded, st.AuthFailed)
	}

	// On the PLAINTEXT listener, SASL requests are ILLEGAL_SASL_STATE.
	c = dial(t, internal)
	if err := c.send(hs, hsResp); err != nil || hsResp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("handshake on PLAINTEXT: %v %d", err, hsResp.ErrorCode)
	}
}
