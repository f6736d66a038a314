//go:build external

package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// cmdTimeout bounds every external command; pollTimeout bounds every wait
// on the broker.
const (
	cmdTimeout  = 90 * time.Second
	pollTimeout = 30 * time.Second
)

// tool returns the path of an external program, failing the test (never
// skipping it) when it is missing: these tests only run under the
// "external" tag, which .ci/run sets after installing the tools.
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (%v); the external tests need it: run .ci/run, or install it (apt-get install -y kcat nodejs; cd test/external/kafkajs && npm ci)", name, err)
	}
	return p
}

// kafkajsDir is test/external/kafkajs; it fails the test unless its
// dependencies are installed.
func kafkajsDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("kafkajs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "kafkajs", "package.json")); err != nil {
		t.Fatalf("kafkajs is not installed in %s (%v): run `npm ci` there (.ci/run does)", dir, err)
	}
	return dir
}

// run runs name with args under cmdTimeout, feeding stdin, and returns its
// stdout. A non-zero exit or a timeout fails the test with stderr shown.
func run(t testing.TB, dir string, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	stdout, stderr, err := runExit(t, dir, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, quoteArgs(args), err, stdout, stderr)
	}
	return stdout
}

// runExit is run for a command that may fail: it returns stdout, stderr and
// the exit error, and fails the test only on a timeout.
func runExit(t testing.TB, dir string, stdin []byte, name string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v\nstdout:\n%s\nstderr:\n%s", name, quoteArgs(args), time.Since(start).Round(time.Millisecond), outBuf.Bytes(), errBuf.Bytes())
	}
	t.Logf("%s %s: %v", filepath.Base(name), quoteArgs(args), time.Since(start).Round(time.Millisecond))
	if err == nil && errBuf.Len() > 0 {
		t.Logf("stderr:\n%s", bytes.TrimRight(errBuf.Bytes(), "\n"))
	}
	return outBuf.Bytes(), errBuf.Bytes(), err
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, " ")
}

// kcat runs kcat against addr.
func kcat(t testing.TB, addr string, stdin []byte, args ...string) []byte {
	t.Helper()
	return run(t, "", stdin, tool(t, "kcat"), append([]string{"-b", addr}, args...)...)
}

// client is a franz-go client for addr, closed at the end of the test.
func client(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(addr, ",")...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with the given partition count (replication 1)
// and waits until the broker serves it in Metadata with a leader for every
// partition.
func createTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	createTopicRF(t, addr, topic, partitions, 1)
}

// createTopicRF is createTopic with a replication factor; -1 takes the
// cluster's default.replication.factor.
func createTopicRF(t testing.TB, addr, topic string, partitions int32, replicationFactor int16) {
	t.Helper()
	adm := kadm.NewClient(client(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, replicationFactor, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	waitTopic(t, addr, topic, partitions)
}

// waitTopic waits until the broker serves topic in Metadata with the given
// number of partitions, each with a leader.
func waitTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	// Every broker must know it: each learns it from the metadata log a
	// moment after the controller committed it, and the tool or client
	// that runs next may ask any of them.
	for _, a := range strings.Split(addr, ",") {
		seed := client(t, a).SeedBrokers()[0]
		ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
		for {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(topic)
			req.Topics = append(req.Topics, rt)
			var state string
			resp, err := seed.Request(ctx, req)
			if err == nil {
				md := resp.(*kmsg.MetadataResponse)
				ready := len(md.Topics) == 1 && md.Topics[0].ErrorCode == 0 && len(md.Topics[0].Partitions) == int(partitions)
				for _, p := range md.Topics[0].Partitions {
					ready = ready && p.ErrorCode == 0 && p.Leader >= 0
				}
				if ready {
					break
				}
				state = fmt.Sprintf("%+v", md.Topics)
			}
			if ctx.Err() != nil {
				cancel()
				t.Fatalf("topic %s not ready on %s within %v: metadata err %v, %s", topic, a, pollTimeout, err, state)
			}
			time.Sleep(20 * time.Millisecond) // poll interval, bounded by ctx
		}
		cancel()
	}
}

// endOffsets returns each partition's high watermark.
func endOffsets(t testing.TB, addr, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(client(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	lo, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets %s: %v", topic, err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// consumeAll reads every record of topic from the start with franz-go,
// polling until the count matches each partition's high watermark (so it
// returns exactly what the log holds, no more, no less), and returns them
// ordered by partition, then offset.
func consumeAll(t testing.TB, addr, topic string) []*kgo.Record {
	t.Helper()
	ends := endOffsets(t, addr, topic)
	want := 0
	for _, o := range ends {
		want += int(o)
	}
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: got %d of %d records within %v", topic, len(recs), want, pollTimeout)
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				t.Fatalf("consume %s: partition %d: %v", topic, fe.Partition, fe.Err)
			}
		}
		recs = append(recs, fs.Records()...)
	}
	if len(recs) != want {
		t.Fatalf("consume %s: got %d records, high watermarks sum to %d", topic, len(recs), want)
	}
	slices.SortStableFunc(recs, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return recs
}

// produce writes recs synchronously with franz-go, one ProduceSync per
// record so that each record is its own batch (and per-record timestamps
// are not merged into a batch's first timestamp).
func produce(t testing.TB, addr string, recs []*kgo.Record, opts ...kgo.Opt) {
	t.Helper()
	cl := client(t, addr, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s[%d]: %v", r.Topic, r.Partition, err)
		}
	}
}

// produceBatched writes recs with franz-go as one batch per partition: a
// long linger holds them until Flush sends them together.
func produceBatched(t testing.TB, addr string, recs []*kgo.Record, opts ...kgo.Opt) {
	t.Helper()
	cl := client(t, addr, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Minute)}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	errs := make(chan error, len(recs))
	for _, r := range recs {
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				err = fmt.Errorf("produce to %s[%d]: %w", r.Topic, r.Partition, err)
			}
			errs <- err
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	for range recs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// apiVersions returns the version range the broker at addr advertises for
// each API key in ApiVersions.
func apiVersions(t testing.TB, addr string) map[int16][2]int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, client(t, addr))
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions: error code %d", resp.ErrorCode)
	}
	out := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		out[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return out
}

// startBroker starts an in-process broker for the test.
func startBroker(t testing.TB, sets ...string) *cluster.Broker {
	t.Helper()
	return cluster.Start(t, sets...)
}

// header is a comparable record header (nil Value stays distinct from empty).
type header struct {
	Key   string
	Value *string
}

func headersOf(r *kgo.Record) []header {
	var hs []header
	for _, h := range r.Headers {
		var v *string
		if h.Value != nil {
			s := string(h.Value)
			v = &s
		}
		hs = append(hs, header{h.Key, v})
	}
	return hs
}

func str(s string) *string { return &s }

// bstr is a byte slice as a *string: nil stays nil.
func bstr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func showStr(p *string) string {
	if p == nil {
		return "<null>"
	}
	return fmt.Sprintf("%q", *p)
}
