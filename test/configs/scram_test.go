package configs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/auth"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/test/cluster"
)

// describeSCRAMs is what DescribeUserScramCredentials says of each user:
// "SCRAM-SHA-256:4096,SCRAM-SHA-512:8192", or the error's name.
func describeSCRAMs(t *testing.T, ctx context.Context, adm *kadm.Client, users ...string) map[string]string {
	t.Helper()
	described, err := adm.DescribeUserSCRAMs(ctx, users...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range described.Sorted() {
		if d.Err != nil {
			var ke *kerr.Error
			if !errors.As(d.Err, &ke) {
				t.Fatalf("user %s: %v", d.User, d.Err)
			}
			out[d.User] = ke.Message
			continue
		}
		s := ""
		for i, c := range d.CredInfos {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf("%s:%d", c.Mechanism, c.Iterations)
		}
		out[d.User] = s
	}
	return out
}

func sameMap(a, b map[string]string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestScramCredentials: AlterUserScramCredentials and
// DescribeUserScramCredentials as Kafka answers them (KIP-554), the
// credentials derived from the salted password as RFC 5802 says, kept
// across a restart.
func TestScramCredentials(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := cluster.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	if got := describeSCRAMs(t, ctx, adm); len(got) != 0 {
		t.Fatalf("credentials before any was set: %v", got)
	}
	salt := []byte("pinch-of-salt")
	salted, err := auth.SaltedPassword(metadata.ScramSHA256, "alice-secret", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	altered, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Salt: salt, SaltedPassword: salted},
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "bob-secret"},
	})
	if err != nil || altered.Error() != nil {
		t.Fatalf("upsert: %v %v", err, altered.Error())
	}
	want := map[string]string{"alice": "SCRAM-SHA-256:4096", "bob": "SCRAM-SHA-512:8192"}
	if got := describeSCRAMs(t, ctx, adm); !sameMap(got, want) {
		t.Fatalf("described %v, want %v", got, want)
	}
	// The broker keeps the salt and the keys RFC 5802 derives, never the
	// salted password.
	c, ok := b.Image().ScramCredential("alice", metadata.ScramSHA256)
	stored, server := auth.ScramKeys(metadata.ScramSHA256, salted)
	if !ok || !bytes.Equal(c.Salt, salt) || !bytes.Equal(c.StoredKey, stored) || !bytes.Equal(c.ServerKey, server) || c.Iterations != 4096 {
		t.Fatalf("alice's credential %+v (found %v)", c, ok)
	}

	// Kafka's refusals, one result per user.
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := func(user string, mech int8, iters int32) {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = user, mech, iters, salt, salted
		req.Upsertions = append(req.Upsertions, u)
	}
	del := func(user string, mech int8) {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = user, mech
		req.Deletions = append(req.Deletions, d)
	}
	del("bob", 2)   // accepted
	del("carol", 1) // nothing to delete
	del("alice", 1) // and upserted below: twice
	up("alice", 2, 4096)
	up("dave", 1, 4095)  // too few iterations
	up("erin", 1, 16385) // too many
	up("frank", 3, 4096) // unknown mechanism
	up("", 1, 4096)      // no name
	up("grace", 2, 16384)
	up("grace", 1, 4096) // twice: neither applies
	up("heidi", 2, 16384)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range resp.Results {
		if _, dup := got[r.User]; dup {
			t.Fatalf("user %q answered twice", r.User)
		}
		got[r.User] = "OK"
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			got[r.User] = err.(*kerr.Error).Message
		}
	}
	want = map[string]string{
		"bob": "OK", "heidi": "OK",
		"carol": "RESOURCE_NOT_FOUND", "alice": "DUPLICATE_RESOURCE", "grace": "DUPLICATE_RESOURCE",
		"dave": "UNACCEPTABLE_CREDENTIAL", "erin": "UNACCEPTABLE_CREDENTIAL", "": "UNACCEPTABLE_CREDENTIAL",
		"frank": "UNSUPPORTED_SASL_MECHANISM",
	}
	if !sameMap(got, want) {
		t.Fatalf("alter results %v,\nwant %v", got, want)
	}
	want = map[string]string{"alice": "SCRAM-SHA-256:4096", "heidi": "SCRAM-SHA-512:16384"}
	if got := describeSCRAMs(t, ctx, adm); !sameMap(got, want) {
		t.Fatalf("after the refusals: %v, want %v", got, want)
	}
	// Describing names: a user named twice, and one with no credential.
	want = map[string]string{"alice": "DUPLICATE_RESOURCE", "bob": "RESOURCE_NOT_FOUND", "heidi": "SCRAM-SHA-512:16384"}
	if got := describeSCRAMs(t, ctx, adm, "alice", "bob", "heidi", "alice"); !sameMap(got, want) {
		t.Fatalf("described by name: %v, want %v", got, want)
	}

	// The credentials are in the metadata log: a restart keeps them.
	cl.Close()
	b = b.Restart()
	cl2, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	want = map[string]string{"alice": "SCRAM-SHA-256:4096", "heidi": "SCRAM-SHA-512:16384"}
	if got := describeSCRAMs(t, ctx, kadm.NewClient(cl2)); !sameMap(got, want) {
		t.Fatalf("after a restart: %v, want %v", got, want)
	}
}

// TestScramCredentialsForwarded: on three nodes, a credential altered
// through a broker that is not the active controller is forwarded to it,
// described at once through that broker, and soon through every other.
func TestScramCredentialsForwarded(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := cluster.StartQuorum(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cluster.Bootstrap(nodes), ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var via *cluster.Broker
	for _, n := range nodes {
		if n.Config().NodeID != md.Controller {
			via = n
			break
		}
	}
	// One request, to the broker named: not routed by the client.
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = "alice", 1, 4096, []byte("s"), []byte("salted")
	req.Upsertions = append(req.Upsertions, u)
	resp, err := req.RequestWith(ctx, cl.Broker(int(via.Config().NodeID)))
	if err != nil || len(resp.Results) != 1 || resp.Results[0].ErrorCode != 0 {
		t.Fatalf("upsert through node %d: %v %+v", via.Config().NodeID, err, resp)
	}
	dreq := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	dresp, err := dreq.RequestWith(ctx, cl.Broker(int(via.Config().NodeID)))
	if err != nil || len(dresp.Results) != 1 || dresp.Results[0].User != "alice" || len(dresp.Results[0].CredentialInfos) != 1 {
		t.Fatalf("described through node %d at once: %v %+v", via.Config().NodeID, err, dresp)
	}
	for _, n := range nodes {
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if c, ok := n.Image().ScramCredential("alice", metadata.ScramSHA256); ok && c.Iterations == 4096 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d has no credential for alice", n.Config().NodeID)
			}
		}
	}
}

// TestCreateTopicRetried: cluster.CreateTopic takes TOPIC_ALREADY_EXISTS
// for a retried creation and checks the topic instead (the path a test
// takes when its client resent a CreateTopics the controller committed).
func TestCreateTopicRetried(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := cluster.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ms := "60000"
	for range 2 {
		cluster.CreateTopic(t, ctx, adm, "twice", 2, 1, map[string]*string{"retention.ms": &ms})
	}
}
