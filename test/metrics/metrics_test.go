// Package metrics checks /metrics against what real clients did: the bytes
// and records they produced, the bytes a consumer fetched, a group's lag,
// and, on three nodes, the under-replicated partitions a stopped broker
// leaves behind.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	dto "github.com/prometheus/client_model/go"

	"github.com/samsa-kafka/samsa/internal/record"
	"github.com/samsa-kafka/samsa/test/cluster"
)

// scrape reads addr's /metrics.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// scrapeNoFatal is scrape for other goroutines than the test's: a failed
// scrape is an empty one.
func scrapeNoFatal(addr string) map[string]*dto.MetricFamily {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, _ := parser.TextToMetricFamilies(resp.Body)
	return fams
}

// value is the sample of family name whose labels include want, and
// whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := value(fams, name, want)
	if !ok {
		t.Fatalf("no %s%v in /metrics", name, want)
	}
	return v
}

// batchBytes sums, per partition, the record batches franz-go wrote: the
// records' bytes after compression plus the fixed batch header, which is
// exactly the batch as it travels in the Produce request.
type batchBytes struct {
	mu      sync.Mutex
	bytes   map[int32]int64
	records map[int32]int64
}

func (b *batchBytes) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, partition int32, m kgo.ProduceBatchMetrics) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bytes[partition] += int64(m.CompressedBytes + record.HeaderSize)
	b.records[partition] += int64(m.NumRecords)
}

const topic = "metered"

// TestMetricsMatchClients produces a known load, reads it back, commits a
// group's offsets and checks the scrape: bytes in equal to the batch bytes
// the producer wrote (and to the log's size, which holds exactly those
// batches), records in exact, bytes out equal to what a single reader
// fetched, and each partition's lag equal to the end offset minus the
// committed offset.
func TestMetricsMatchClients(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := cluster.Start(t, "samsa.http.listen=127.0.0.1:0")
	httpAddr := b.HTTPAddr()
	if httpAddr == "" {
		t.Fatal("no HTTP listener")
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	admin := kadm.NewClient(adm)
	if _, err := admin.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}

	counted := &batchBytes{bytes: map[int32]int64{}, records: map[int32]int64{}}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.WithHooks(counted),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	// A scraper runs through the load: the counters it sees never go
	// back, and the last scrape below sees them all.
	stopScraping := make(chan struct{})
	scraped := make(chan error, 1)
	go func() {
		var last float64
		for {
			select {
			case <-stopScraping:
				scraped <- nil
				return
			default:
			}
			v, _ := value(scrapeNoFatal(httpAddr), "samsa_topic_bytes_in_total", map[string]string{"topic": topic})
			if v < last {
				scraped <- fmt.Errorf("bytes in went from %v back to %v", last, v)
				return
			}
			last = v
			time.Sleep(20 * time.Millisecond)
		}
	}()
	const n = 2000
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 2),
			Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(strings.Repeat("v", 10+i%50))})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// A single reader fetches each batch once.
	reader, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	for read := 0; read < n; {
		fs := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", read, n, ctx.Err())
		}
		read += fs.NumRecords()
	}
	reader.Close()
	close(stopScraping)
	if err := <-scraped; err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, httpAddr)
	var wantBytes, wantRecords int64
	for p := range int32(2) {
		counted.mu.Lock()
		pb, pr := counted.bytes[p], counted.records[p]
		counted.mu.Unlock()
		wantBytes += pb
		wantRecords += pr
		labels := map[string]string{"topic": topic, "partition": fmt.Sprint(p)}
		if got := mustValue(t, fams, "samsa_partition_bytes_in_total", labels); int64(got) != pb {
			t.Errorf("partition %d: bytes in %v, want %d", p, got, pb)
		}
		if got := mustValue(t, fams, "samsa_partition_size_bytes", labels); int64(got) != pb {
			t.Errorf("partition %d: size on disk %v, want the %d batch bytes produced", p, got, pb)
		}
		if got := mustValue(t, fams, "samsa_partition_records_in_total", labels); int64(got) != pr {
			t.Errorf("partition %d: records in %v, want %d", p, got, pr)
		}
		if got := mustValue(t, fams, "samsa_partition_log_end_offset", labels); int64(got) != pr {
			t.Errorf("partition %d: log end offset %v, want %d", p, got, pr)
		}
	}
	if wantRecords != n {
		t.Fatalf("the producer's hook counted %d records, want %d", wantRecords, n)
	}
	tl := map[string]string{"topic": topic}
	if got := mustValue(t, fams, "samsa_topic_bytes_in_total", tl); int64(got) != wantBytes {
		t.Errorf("topic bytes in %v, want %d", got, wantBytes)
	}
	if got := mustValue(t, fams, "samsa_topic_records_in_total", tl); got != n {
		t.Errorf("topic records in %v, want %d", got, n)
	}
	if got := mustValue(t, fams, "samsa_topic_bytes_out_total", tl); int64(got) != wantBytes {
		t.Errorf("topic bytes out %v, want the %d bytes stored, fetched once", got, wantBytes)
	}
	if got := mustValue(t, fams, "samsa_request_duration_seconds", map[string]string{"api": "Produce", "stage": "total"}); got < 1 {
		t.Errorf("Produce requests timed: %v", got)
	}
	if got := mustValue(t, fams, "samsa_leaders", nil); got < 2 {
		t.Errorf("leader count %v, want at least the 2 partitions of %s", got, topic)
	}
	if got := mustValue(t, fams, "samsa_active_controller", nil); got != 1 {
		t.Errorf("active controller %v on a one-node cluster", got)
	}
	// Names, types and units follow Prometheus conventions.
	var ours []*dto.MetricFamily
	for name, f := range fams {
		if strings.HasPrefix(name, "samsa_") {
			ours = append(ours, f)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	// A group consumes part of the topic and commits what it polled;
	// more records then arrive on partition 0.
	const group = "metered-group"
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.FetchMaxBytes(4096), kgo.FetchMaxPartitionBytes(2048))
	if err != nil {
		t.Fatal(err)
	}
	for polled := 0; polled == 0; {
		fs := cons.PollRecords(ctx, 300)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		polled = fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	cons.Close()
	more := []*kgo.Record{{Topic: topic, Partition: 0, Value: []byte("late-1")}, {Topic: topic, Partition: 0, Value: []byte("late-2")}}
	if err := prod.ProduceSync(ctx, more...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	committed, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ committed, lag int64 }
	wants := map[int32]want{}
	ends.Each(func(e kadm.ListedOffset) {
		c, ok := committed.Lookup(topic, e.Partition)
		if !ok {
			return // nothing committed for this partition
		}
		wants[e.Partition] = want{c.At, e.Offset - c.At}
	})
	if len(wants) == 0 {
		t.Fatal("the group committed nothing")
	}
	// The lag snapshot is cached for up to two seconds: poll until it
	// shows the late records.
	deadline := time.Now().Add(20 * time.Second)
	for {
		fams = scrape(t, httpAddr)
		var mismatch []string
		for p, w := range wants {
			labels := map[string]string{"group": group, "topic": topic, "partition": fmt.Sprint(p)}
			c, _ := value(fams, "samsa_group_committed_offset", labels)
			lag, _ := value(fams, "samsa_group_lag_records", labels)
			secs, ok := value(fams, "samsa_group_lag_seconds", labels)
			if int64(c) != w.committed || int64(lag) != w.lag || !ok || secs < 0 || (w.lag == 0) != (secs == 0) {
				mismatch = append(mismatch, fmt.Sprintf("partition %d: committed %v lag %v (%v s), want committed %d lag %d",
					p, c, lag, secs, w.committed, w.lag))
			}
		}
		var sum int64
		for _, w := range wants {
			sum += w.lag
		}
		if got, _ := value(fams, "samsa_group_topic_lag_records", map[string]string{"group": group, "topic": topic}); int64(got) != sum {
			mismatch = append(mismatch, fmt.Sprintf("topic lag %v, want %d", got, sum))
		}
		state, _ := value(fams, "samsa_group_state", map[string]string{"group": group, "state": "Empty"})
		members, _ := value(fams, "samsa_group_members", map[string]string{"group": group})
		if state != 1 || members != 0 {
			mismatch = append(mismatch, fmt.Sprintf("state Empty=%v, %v members; want an empty group", state, members))
		}
		if len(mismatch) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group lag: %s", strings.Join(mismatch, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if w, ok := wants[0]; !ok || w.lag < int64(len(more)) {
		t.Fatalf("partition 0 should lag by at least the %d late records: %+v", len(more), wants)
	}
}

// TestUnderReplicatedAfterBrokerStops stops one of three brokers and sees
// the surviving leaders report under-replicated partitions within 15 s.
func TestUnderReplicatedAfterBrokerStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := cluster.StartQuorum(t, 3, "samsa.http.listen=127.0.0.1:0")
	cl, err := kgo.NewClient(kgo.SeedBrokers(nodes[0].Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	minISR := "3"
	cluster.CreateTopic(t, ctx, adm, "replicated", 3, 3, map[string]*string{"min.insync.replicas": &minISR})
	// Followers fetch every batch once: the leaders' replication bytes out
	// come to twice the bytes in at replication factor 3.
	var recs []*kgo.Record
	for i := range 300 {
		recs = append(recs, &kgo.Record{Topic: "replicated", Value: []byte(fmt.Sprintf("value-%d", i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tl := map[string]string{"topic": "replicated"}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var in, repl float64
		for _, n := range nodes {
			fams := scrape(t, n.HTTPAddr())
			v, _ := value(fams, "samsa_topic_bytes_in_total", tl)
			in += v
			v, _ = value(fams, "samsa_topic_replication_bytes_out_total", tl)
			repl += v
		}
		if in > 0 && repl == 2*in {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replication bytes out %v, want twice the %v bytes in", repl, in)
		}
	}
	sum := func(name string, nodes []*cluster.Broker) float64 {
		var sum float64
		for _, n := range nodes {
			v, _ := value(scrape(t, n.HTTPAddr()), name, nil)
			sum += v
		}
		return sum
	}
	urp := func() float64 { return sum("samsa_under_replicated_partitions", nodes[:2]) }
	// Every replica in sync first, so what follows is the stop's doing.
	for deadline := time.Now().Add(30 * time.Second); urp() != 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("under-replicated partitions before any broker stopped: %v", urp())
		}
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := nodes[2].Shutdown(sctx); err != nil {
		t.Fatalf("stopping node 3: %v", err)
	}
	stopped := time.Now()
	for urp() == 0 {
		if time.Since(stopped) > 15*time.Second {
			t.Fatal("no under-replicated partition reported within 15 s of a broker stopping")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Every partition loses node 3 from its ISR: 3 under-replicated, and
	// with min.insync.replicas=3 all 3 under their minimum ISR.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		u, m := urp(), sum("samsa_under_min_isr_partitions", nodes[:2])
		if u == 3 && m == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("under-replicated %v and under-min-ISR %v, want 3 and 3", u, m)
		}
	}
	// Back: each partition's leader adds node 3 to its ISR once it caught
	// up, so the leaders count 3 expansions between them.
	expands := sum("samsa_isr_expands_total", nodes[:2])
	nodes[2] = nodes[2].Restart()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		u, m := sum("samsa_under_replicated_partitions", nodes), sum("samsa_under_min_isr_partitions", nodes)
		e := sum("samsa_isr_expands_total", nodes) - expands
		if u == 0 && m == 0 && e == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after node 3's restart: under-replicated %v, under-min-ISR %v, ISR expansions %v (want 0, 0, 3)", u, m, e)
		}
	}
}

// TestFlushLatency: with flush.messages=1 every acknowledged produce was
// fsynced, and each fsync is a sample of the flush-latency histogram.
func TestFlushLatency(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := cluster.Start(t, "samsa.http.listen=127.0.0.1:0")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	one := "1"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"flush.messages": &one}, "flushed"); err != nil {
		t.Fatal(err)
	}
	before := mustValue(t, scrape(t, b.HTTPAddr()), "samsa_log_flush_duration_seconds", nil)
	for i := range 5 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "flushed", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	fams := scrape(t, b.HTTPAddr())
	if got := mustValue(t, fams, "samsa_log_flush_duration_seconds", nil) - before; got < 5 {
		t.Fatalf("%v flushes observed for 5 produces at flush.messages=1", got)
	}
	if s := fams["samsa_log_flush_duration_seconds"].Metric[0].Histogram.GetSampleSum(); s <= 0 {
		t.Fatalf("flush time sum %v", s)
	}
}

// TestLagOfPartitionsLedElsewhere: the coordinator of a group reports the
// lag of partitions that other brokers lead, asking their leaders.
func TestLagOfPartitionsLedElsewhere(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := cluster.StartQuorum(t, 3, "samsa.http.listen=127.0.0.1:0")
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cluster.Bootstrap(nodes), ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	const spread = "spread"
	cluster.CreateTopic(t, ctx, adm, spread, 3, 1, nil)
	var recs []*kgo.Record
	for p := range int32(3) {
		for i := range 10 {
			recs = append(recs, &kgo.Record{Topic: spread, Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const group = "remote-group"
	committed := map[int32]int64{0: 3, 1: 5, 2: 10}
	offs := kadm.Offsets{}
	for p, o := range committed {
		offs.AddOffset(spread, p, o, -1)
	}
	if resp, err := adm.CommitOffsets(ctx, group, offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	md, err := adm.Metadata(ctx, spread)
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int32{}
	for _, p := range md.Topics[spread].Partitions {
		leaders[p.Partition] = p.Leader
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		var problems []string
		coordinator := -1
		for i, n := range nodes {
			fams := scrape(t, n.HTTPAddr())
			if _, ok := value(fams, "samsa_group_committed_offset", map[string]string{"group": group}); !ok {
				continue
			}
			coordinator = i + 1
			for p, c := range committed {
				labels := map[string]string{"group": group, "topic": spread, "partition": fmt.Sprint(p)}
				lag, ok := value(fams, "samsa_group_lag_records", labels)
				secs, sok := value(fams, "samsa_group_lag_seconds", labels)
				if !ok || int64(lag) != 10-c || !sok || (c == 10) != (secs == 0) {
					problems = append(problems, fmt.Sprintf("partition %d (leader %d): lag %v (%v) and %v s (%v), want %d",
						p, leaders[p], lag, ok, secs, sok, 10-c))
				}
			}
		}
		if coordinator < 0 {
			problems = append(problems, "no node reports the group")
		} else {
			remote := 0
			for _, l := range leaders {
				if l != int32(coordinator) {
					remote++
				}
			}
			if remote == 0 {
				t.Fatalf("node %d leads every partition of %s: nothing is remote", coordinator, spread)
			}
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("coordinator %d: %s", coordinator, strings.Join(problems, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPartitionSeriesOff: with samsa.metrics.partition.series=false the
// per-partition series are gone and the per-topic sums stay.
func TestPartitionSeriesOff(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := cluster.Start(t, "samsa.http.listen=127.0.0.1:0", "samsa.metrics.partition.series=false")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("quiet"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "quiet"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("one")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, b.HTTPAddr())
	for name := range fams {
		if strings.HasPrefix(name, "samsa_partition_") {
			t.Errorf("%s exported with per-partition series off", name)
		}
	}
	if got := mustValue(t, fams, "samsa_topic_records_in_total", map[string]string{"topic": "quiet"}); got != 1 {
		t.Errorf("records in %v, want 1", got)
	}
}
