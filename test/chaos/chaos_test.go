package chaos

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

var (
	seedFlag     = flag.Uint64("chaos.seed", 0, "seed of the fault schedule (0: from the clock, or $SAMSA_CHAOS_SEED); printed at start")
	faultsFlag   = flag.Int("chaos.faults", 0, "faults to inject per cluster test (0: the short CI schedule)")
	durationFlag = flag.Duration("chaos.duration", 0, "inject faults for this long instead of a count")
)

// seed is the schedule's seed: the flag, else $SAMSA_CHAOS_SEED, else the
// clock.
func seed(t *testing.T) uint64 {
	t.Helper()
	if *seedFlag != 0 {
		return *seedFlag
	}
	if s := os.Getenv("SAMSA_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SAMSA_CHAOS_SEED=%q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// TestChaos3 runs the fault schedule against three combined nodes.
func TestChaos3(t *testing.T) {
	t.Parallel()
	runChaos(t, 3, 14)
}

// TestChaos5 runs it against five.
func TestChaos5(t *testing.T) {
	t.Parallel()
	runChaos(t, 5, 8)
}

const (
	chaosTopic      = "chaos"
	chaosPartitions = 6
)

// runChaos starts n nodes, runs producers and consumers under faults
// (ciFaults of them unless -chaos.faults or -chaos.duration say more),
// heals, reads everything back and checks the history.
func runChaos(t *testing.T, n, ciFaults int) {
	s := seed(t)
	t.Logf("chaos seed %d (replay: -chaos.seed=%d)", s, s)
	start := time.Now()
	faults := ciFaults
	if *faultsFlag > 0 {
		faults = *faultsFlag
	}
	// The run's own bound: a schedule that cannot finish is a failure,
	// not a hang. Each fault takes at most ~25 s plus a recovery wait.
	budget := time.Duration(faults)*70*time.Second + 5*time.Minute
	if *durationFlag > 0 {
		budget = *durationFlag + 5*time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()

	c := startCluster(t, n, "")
	c.createTopic(ctx, chaosTopic, chaosPartitions)
	w := newWorkload(c.seeds, chaosTopic, chaosPartitions)
	for id := range 2 {
		if err := w.startProducer(id, 20*time.Millisecond, 4); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		w.startConsumer(20 * time.Second)
	}
	nem := newNemesis(t, c, s, chaosTopic, chaosPartitions)
	nem.run(ctx, faults, *durationFlag)

	report, err := settle(ctx, c, w)
	t.Logf("seed %d, %d nodes, %v\n%s\n%s", s, n, time.Since(start).Round(time.Second), nem.summary(), report.Summary(50))
	if err != nil {
		t.Fatal(err)
	}
	if report.Acked == 0 {
		t.Fatalf("no record was acknowledged in the whole run")
	}
	if len(report.Anomalies) > 0 {
		t.Errorf("%d anomalies (replay: -chaos.seed=%d)", len(report.Anomalies), s)
	}
}

// settle heals the cluster, stops the workload, waits for every partition
// to have its full ISR and stable end offsets, reads every partition from
// the start and checks the history.
func settle(ctx context.Context, c *chaosCluster, w *workload) (Report, error) {
	c.healAll()
	if err := c.healthy(ctx, w.topic, 2*time.Minute, false); err != nil {
		return Report{}, fmt.Errorf("after healing: %w", err)
	}
	w.stopProducers()
	w.stopConsumers()
	if err := c.healthy(ctx, w.topic, 2*time.Minute, true); err != nil {
		return Report{}, fmt.Errorf("after healing: %w", err)
	}
	ends, err := stableEnds(ctx, c, w.topic)
	if err != nil {
		return Report{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	final, err := finalRead(rctx, c.seeds, w.topic, ends)
	if err != nil {
		return Report{}, err
	}
	h := w.rec.h // every goroutine that wrote it has stopped
	h.Final = final
	return Check(h), nil
}

// stableEnds polls the end offsets (high watermarks) of topic until every
// replica of each partition holds the same number of bytes and two
// answers in a row agree: with producers stopped, the followers have
// fetched the leader's whole log and their next fetches moved the high
// watermark to its end (a new leader's high watermark lags until they
// fetch, and reading only to a lagging one would report false losses).
func stableEnds(ctx context.Context, c *chaosCluster, topic string) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var prev map[int32]int64
	for {
		err := sameSizes(ctx, c, topic)
		var ends map[int32]int64
		if err == nil {
			var lo kadm.ListedOffsets
			lo, err = c.adm.ListEndOffsets(ctx, topic)
			if err == nil {
				err = lo.Error()
			}
			if err == nil {
				ends = map[int32]int64{}
				lo.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
				if prev != nil && maps.Equal(prev, ends) {
					return ends, nil
				}
			}
		}
		prev = ends
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("end offsets never settled (last %v, %v): %w", prev, err, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// sameSizes fails unless every replica of each partition of topic holds
// the same number of bytes (DescribeLogDirs of every broker).
func sameSizes(ctx context.Context, c *chaosCluster, topic string) error {
	dirs, err := c.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return err
	}
	sizes := map[int32][]int64{}
	for b, ds := range dirs {
		if err := ds.Error(); err != nil {
			return fmt.Errorf("broker %d: %w", b, err)
		}
		ds.Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.Topic == topic {
					sizes[p.Partition] = append(sizes[p.Partition], p.Size)
				}
			})
		})
	}
	for p, ss := range sizes {
		if len(ss) != 3 || slices.Min(ss) != slices.Max(ss) {
			return fmt.Errorf("partition %d: replica sizes %v", p, ss)
		}
	}
	return nil
}
