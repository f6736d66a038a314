package quorum

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestReassignPartition: on four combined nodes, a partition of
// replication factor 2 (min.insync.replicas 2) is reassigned to the two
// other nodes, which removes its leader, while an idempotent producer keeps
// producing with acks=all. One new replica is paused (SIGSTOP) so the
// reassignment stays in progress: `samsa topic describe` then shows the
// replicas being added and removed. Once it resumes and catches up the
// reassignment completes: the new replicas are the replicas and the ISR,
// the first of them leads, no produce failed, the removed nodes' partition
// directories are gone, and every record is read back at the offset it
// was acknowledged at, from replicas whose logs hold the same bytes.
func TestReassignPartition(t *testing.T) {
	const topic = "moving"
	nodes := startCombined(t, 4, "--set", "replica.lag.time.max.ms=3000", "--set", "replica.fetch.wait.max.ms=200")
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	addrs := clientAddrs(nodes)
	adm := newAdmin(t, addrs)
	createTopic(t, ctx, adm, topic, 1, 2, "2")
	ds := dialAll(t, nodes)
	state := func(d *direct) (partView, error) {
		v, err := d.metadata(ctx)
		if err != nil {
			return partView{}, err
		}
		tv, ok := v.Topics[topic]
		if !ok || len(tv.Partitions) != 1 {
			return partView{}, fmt.Errorf("no topic %s", topic)
		}
		return tv.Partitions[0], nil
	}
	var before partView
	poll(t, ctx, func() error {
		p, err := state(ds[0])
		if err == nil && (len(p.ISR) != 2 || p.Leader < 0) {
			err = fmt.Errorf("partition %+v", p)
		}
		before = p
		return err
	})
	// The target: the two other nodes, the one that is not the active
	// controller last (it is paused; pausing the controller would only
	// make the test wait for an election).
	var target []int32
	for id := int32(1); id <= 4; id++ {
		if !slices.Contains(before.Replicas, id) {
			target = append(target, id)
		}
	}
	active, err := ds[0].activeController(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if target[1] == active {
		target[0], target[1] = target[1], target[0]
	}
	first, paused := target[0], target[1]
	removing := slices.Sorted(slices.Values(before.Replicas))

	// The producer: batches of acks=all records, one after the other, until
	// stopped; values are their index, so a record's offset must be it.
	prod, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var (
		mu       sync.Mutex
		produced int
		failed   []error
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i += 20 {
			select {
			case <-stop:
				return
			default:
			}
			rs := make([]*kgo.Record, 0, 20)
			for j := i; j < i+20; j++ {
				rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("v%06d", j))})
			}
			err := prod.ProduceSync(ctx, rs...).FirstErr()
			mu.Lock()
			if err != nil {
				failed = append(failed, err)
			} else {
				produced = i + 20
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	producedNow := func() int {
		mu.Lock()
		defer mu.Unlock()
		return produced
	}
	waitProduced := func(n int) {
		t.Helper()
		poll(t, ctx, func() error {
			if got := producedNow(); got < n {
				return fmt.Errorf("%d records produced", got)
			}
			return nil
		})
	}
	waitProduced(200)

	// Pause one new replica, and wait until it is fenced (it is then no
	// longer listed, so the CLI does not wait on it).
	nodes[paused-1].Pause()
	poll(t, ctx, func() error {
		v, err := ds[first-1].metadata(ctx)
		if err == nil && slices.Contains(v.Brokers, paused) {
			err = fmt.Errorf("broker %d still live", paused)
		}
		return err
	})
	// samsa runs the CLI through the new leader-to-be; --execute moves the
	// partition to target (kafka-reassign-partitions' plan format).
	samsa := func(args ...string) (string, error) {
		t.Helper()
		cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
		defer ccancel()
		out, err := exec.CommandContext(cctx, cluster.Binary(t), append(args, "--brokers", nodes[first-1].Addr, "--timeout", "20s")...).CombinedOutput()
		return string(out), err
	}
	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[%s],"log_dirs":["any","any"]}]}`,
		topic, ids2(target))), 0o644); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, func() error {
		out, err := samsa("topic", "reassign", "--plan", plan, "--execute")
		if err == nil && out != "Successfully started partition reassignments for "+topic+"-0\n" {
			t.Fatalf("reassign --execute: %q", out)
		}
		if err != nil {
			err = fmt.Errorf("reassign --execute: %v: %s", err, out)
		}
		return err
	})

	// In progress: the new unpaused replica joins the ISR, the paused one
	// cannot, and describe shows the reassignment.
	wantReplicas := append(slices.Clone(target), removing...)
	poll(t, ctx, func() error {
		p, err := state(ds[first-1])
		if err == nil && (!slices.Equal(p.Replicas, wantReplicas) || !slices.Contains(p.ISR, first)) {
			err = fmt.Errorf("partition %+v", p)
		}
		return err
	})
	adding := slices.Sorted(slices.Values(target))
	describe := func() string {
		t.Helper()
		out, err := samsa("topic", "describe", topic)
		if err != nil {
			t.Fatalf("samsa topic describe: %v\n%s", err, out)
		}
		return out
	}
	verify := func() string {
		t.Helper()
		out, err := samsa("topic", "reassign", "--plan", plan, "--verify")
		if err != nil {
			t.Fatalf("samsa topic reassign --verify: %v\n%s", err, out)
		}
		return out
	}
	during := describe()
	if want := fmt.Sprintf("\tReplicas: %s\tIsr: ", ids2(wantReplicas)); !strings.Contains(during, want) {
		t.Errorf("describe during the reassignment:\n%s\nwant %q", during, want)
	}
	if want := fmt.Sprintf("\tAdding Replicas: %s\tRemoving Replicas: %s\t", ids2(adding), ids2(removing)); !strings.Contains(during, want) {
		t.Errorf("describe during the reassignment:\n%s\nwant %q", during, want)
	}
	if out, want := verify(), "Reassignment of partition "+topic+"-0 is still in progress.\n"; out != want {
		t.Errorf("verify during the reassignment: %q, want %q", out, want)
	}
	mid := producedNow()
	waitProduced(mid + 200) // producing goes on while it is in progress

	// The paused replica resumes, catches up, and completes the move.
	nodes[paused-1].Resume()
	poll(t, ctx, func() error {
		p, err := state(ds[first-1])
		if err == nil && (!slices.Equal(p.Replicas, target) || !slices.Equal(slices.Sorted(slices.Values(p.ISR)), adding) || p.Leader != first) {
			err = fmt.Errorf("partition %+v", p)
		}
		return err
	})
	waitProduced(producedNow() + 200)
	close(stop)
	<-done
	mu.Lock()
	total, errs := produced, failed
	mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("%d produce batches failed during the reassignment, the first: %v", len(errs), errs[0])
	}

	after := describe()
	if strings.Contains(after, "Adding Replicas") || !strings.Contains(after, fmt.Sprintf("\tLeader: %d\t", first)) ||
		!strings.Contains(after, fmt.Sprintf("\tReplicas: %s\tIsr: ", ids2(target))) {
		t.Errorf("describe after the reassignment:\n%s\nwant leader %d, replicas %v and no reassignment", after, first, target)
	}

	if out, want := verify(), "Reassignment of partition "+topic+"-0 is completed.\n"; out != want {
		t.Errorf("verify after the reassignment: %q, want %q", out, want)
	}

	// The removed replicas' directories are gone.
	for _, id := range removing {
		dir := nodes[id-1].Dir
		poll(t, ctx, func() error {
			ents, err := os.ReadDir(dir)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), topic+"-") {
					return fmt.Errorf("node %d still has %s", id, e.Name())
				}
			}
			return nil
		})
	}

	// Every acknowledged record at its offset, from the new leader; the
	// new follower's log holds the same bytes.
	cl, err := kgo.NewClient(kgo.SeedBrokers(nodes[first-1].Addr, nodes[paused-1].Addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	next := int64(0)
	for next < int64(total) && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Logf("fetch: %v", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("v%06d", r.Offset); string(r.Value) != want || r.Offset != next {
				t.Fatalf("offset %d (expected %d) holds %q, want %q", r.Offset, next, r.Value, want)
			}
			next++
		})
	}
	if next < int64(total) {
		t.Fatalf("read %d records, want %d", next, total)
	}
	poll(t, ctx, func() error {
		var sizes []int64
		for _, id := range target {
			resp, err := ds[id-1].request(ctx, kmsg.NewPtrDescribeLogDirsRequest())
			if err != nil {
				return err
			}
			size := int64(-1)
			for _, dir := range resp.(*kmsg.DescribeLogDirsResponse).Dirs {
				for _, tp := range dir.Topics {
					if tp.Topic == topic {
						for _, p := range tp.Partitions {
							size = p.Size
						}
					}
				}
			}
			sizes = append(sizes, size)
		}
		if sizes[0] <= 0 || sizes[0] != sizes[1] {
			return fmt.Errorf("new replicas' sizes %v", sizes)
		}
		return nil
	})
}

// ids2 joins ids with commas, as describe prints them.
func ids2(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}
