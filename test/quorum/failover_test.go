package quorum

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// outcome is how the creator's CreateTopics for one name ended.
type outcome struct {
	name string
	rf   int16
	// created: CreateTopics answered success with id.
	created bool
	id      [16]byte
	// exists: TOPIC_ALREADY_EXISTS. Names are never reused, so an earlier
	// try created it: the creator's own, or the forwarding broker's retry
	// on the next controller after the one it sent to failed (as Kafka's
	// forwarding does; the outcome of a creation in flight on a dying
	// controller is unknowable without an idempotency key).
	exists bool
	// refused: INVALID_REPLICATION_FACTOR (too few live brokers) on the
	// first try, so no try may have created it: the topic must not exist.
	refused bool
	// start is when the try that decided the outcome was sent, done when
	// its answer came.
	start, done time.Time
}

// creator creates topics t-0, t-1, ... one at a time until stopped,
// alternating replication factors 1 and 3, and retries a name while the
// answer leaves open whether it was created (the controller moved, a
// connection broke, a deadline passed). It sends each try to one broker
// itself, and moves to the next broker when one fails: a client that
// routes admin requests to the broker its metadata names keeps sending
// them to a paused one until its metadata refreshes, which measures the
// client, not the cluster.
type creator struct {
	brokers []*kgo.Broker

	mu       sync.Mutex
	outcomes []outcome
	tried    map[string]bool // every name sent at least once
	err      error           // an answer no correct cluster gives
}

func (c *creator) run(ctx context.Context) {
	// A modest pace: the test needs a steady stream, not thousands of
	// topics (refusals come back at once while RF 3 does not fit).
	pace := time.NewTicker(20 * time.Millisecond)
	defer pace.Stop()
	next := 0 // the broker to send to
	for i := 0; ctx.Err() == nil; i++ {
		select {
		case <-ctx.Done():
			return
		case <-pace.C:
		}
		name, rf := fmt.Sprintf("t-%d", i), int16(1+2*(i%2))
		c.mu.Lock()
		c.tried[name] = true
		c.mu.Unlock()
		first := true
		for ; ctx.Err() == nil; first = false {
			o := outcome{name: name, rf: rf, start: time.Now()}
			id, err := c.create(ctx, c.brokers[next], name, rf)
			o.done = time.Now()
			switch {
			case err == nil:
				o.created, o.id = true, id
			case errors.Is(err, kerr.TopicAlreadyExists):
				o.exists = true
			case errors.Is(err, kerr.InvalidReplicationFactor):
				o.refused = first
			case retriable(err):
				next = (next + 1) % len(c.brokers)
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
				continue
			default:
				c.mu.Lock()
				c.err = fmt.Errorf("create %s (rf %d): %w", name, rf, err)
				c.mu.Unlock()
				return
			}
			c.mu.Lock()
			c.outcomes = append(c.outcomes, o)
			c.mu.Unlock()
			break
		}
	}
}

// create sends one CreateTopics for name to b. A try ends after 3 s: one
// sent into a paused broker, or forwarded to a paused controller (which
// the broker waits on for the request's timeout, as Kafka's forwarding
// does), only delays the creator that long.
func (c *creator) create(ctx context.Context, b *kgo.Broker, name string, rf int16) ([16]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 3000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, rf
	req.Topics = append(req.Topics, rt)
	resp, err := b.Request(ctx, req)
	if err != nil {
		return [16]byte{}, err
	}
	r := resp.(*kmsg.CreateTopicsResponse)
	if len(r.Topics) != 1 || r.Topics[0].Topic != name {
		return [16]byte{}, fmt.Errorf("create %s: malformed answer %+v", name, r.Topics)
	}
	return r.Topics[0].TopicID, kerr.ErrorForCode(r.Topics[0].ErrorCode)
}

// snapshot returns the outcomes so far and the creator's error.
func (c *creator) snapshot() ([]outcome, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.outcomes), c.err
}

// createdSince counts the creations sent after t, and returns the first.
func (c *creator) createdSince(t time.Time) (int, outcome, error) {
	os, err := c.snapshot()
	n, first := 0, outcome{}
	for _, o := range os {
		if o.created && o.start.After(t) {
			if n == 0 {
				first = o
			}
			n++
		}
	}
	return n, first, err
}

// TestControllerFailover: while a client creates topics through the
// brokers, the active controller is killed (SIGKILL), or paused (SIGSTOP:
// it wakes up still believing it leads). A new active controller serves
// CreateTopics within 10 s; after the old one restarts (or resumes), every
// broker lists every topic whose creation succeeded with the id the
// creation returned, no refused topic, and no id twice; no broker but the
// stopped node was fenced.
//
// Combined: the stopped controller is a broker too (fenced, its RF-3
// creations refused until it is back). Dedicated: broker-only nodes follow
// the metadata log from the old and then the new active controller.
func TestControllerFailover(t *testing.T) {
	for _, tc := range []struct{ layout, how string }{
		{"combined", "SIGKILL"}, {"combined", "SIGSTOP"}, {"dedicated", "SIGKILL"},
	} {
		t.Run(tc.layout+"/"+tc.how, func(t *testing.T) {
			testControllerFailover(t, startLayout(t, tc.layout), tc.how)
		})
	}
}

func testControllerFailover(t *testing.T, l layout, how string) {
	nodes, brokers, brokerIDs := l.nodes, l.brokers, l.brokerIDs
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	ds := dialAll(t, brokers)
	agreed(t, ctx, ds, brokerIDs)

	var addrs []string
	for _, p := range brokers {
		addrs = append(addrs, p.Addr)
	}
	// No retries inside the client: the creator knows each try it made.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DialTimeout(2*time.Second), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c := &creator{brokers: cl.SeedBrokers(), tried: map[string]bool{}}
	cctx, stopCreating := context.WithCancel(ctx)
	creating := make(chan struct{})
	go func() {
		defer close(creating)
		c.run(cctx)
	}()
	defer func() { stopCreating(); <-creating }()
	// progress waits until the creator has made n topics sent after t.
	progress := func(t0 time.Time, n int) outcome {
		t.Helper()
		var first outcome
		poll(t, ctx, func() error {
			got, f, err := c.createdSince(t0)
			if err != nil {
				t.Fatal(err)
			}
			if got < n {
				return fmt.Errorf("%d topics created since %v, want %d", got, t0.Format(time.StampMilli), n)
			}
			first = f
			return nil
		})
		return first
	}
	progress(time.Time{}, 5)

	var active int32
	poll(t, ctx, func() error {
		active, err = ds[0].activeController(ctx)
		return err
	})
	// Voters are nodes 1-3 in both layouts; vi is the victim's index among
	// the brokers, -1 when it is not one.
	victim := nodes[active-1]
	vi := slices.Index(brokerIDs, active)
	if how == "SIGKILL" {
		victim.Kill()
	} else {
		victim.Pause()
	}
	killed := time.Now()
	first := progress(killed, 1)
	failover := first.done.Sub(killed)
	t.Logf("controller %d stopped (%s); %s created by the new active controller %v later", active, how, first.name, failover.Round(time.Millisecond))
	if failover > 10*time.Second {
		t.Errorf("no CreateTopics succeeded within 10s of stopping the active controller (%s): first after %v", how, failover)
	}
	var survivors []*direct
	var live []int32
	for i, d := range ds {
		if i != vi {
			survivors, live = append(survivors, d), append(live, brokerIDs[i])
		}
	}
	poll(t, ctx, func() error {
		for _, d := range survivors {
			now, err := d.activeController(ctx)
			if err != nil {
				return err
			}
			if now == active || now < 1 || now > 3 {
				return fmt.Errorf("broker %s: active controller %d", d.addr, now)
			}
		}
		return nil
	})
	progress(first.start, 5)
	// Once a stopped broker is fenced, RF 3 no longer fits: those
	// creations are refused, RF 1 ones land on the two live brokers.
	poll(t, ctx, func() error {
		for _, d := range survivors {
			v, err := d.metadata(ctx)
			if err != nil {
				return err
			}
			if !slices.Equal(v.Brokers, live) {
				return fmt.Errorf("broker %s lists %v", d.addr, v.Brokers)
			}
		}
		return nil
	})
	progress(time.Now(), 5)

	if how == "SIGKILL" {
		victim.Restart()
		if vi >= 0 {
			ds[vi] = dial(t, victim.Addr)
		}
	} else {
		victim.Resume()
	}
	restarted := time.Now()
	poll(t, ctx, func() error {
		for _, d := range ds {
			v, err := d.metadata(ctx)
			if err != nil {
				return err
			}
			if !slices.Equal(v.Brokers, brokerIDs) {
				return fmt.Errorf("broker %s lists %v", d.addr, v.Brokers)
			}
		}
		return nil
	})
	progress(restarted, 5)
	stopCreating()
	<-creating

	outcomes, err := c.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	v := agreed(t, ctx, ds, brokerIDs)
	byID := map[[16]byte]string{}
	for name, tv := range v.Topics {
		if !c.tried[name] {
			t.Errorf("topic %s exists but was never created", name)
		}
		if other, dup := byID[tv.ID]; dup {
			t.Errorf("topics %s and %s share the id %x", name, other, tv.ID)
		}
		byID[tv.ID] = name
	}
	counts := map[string]int{}
	for _, o := range outcomes {
		tv, ok := v.Topics[o.name]
		switch {
		case o.created:
			counts["created"]++
			if !ok || tv.ID != o.id {
				t.Errorf("%s: created with id %x, listed %v with id %x", o.name, o.id, ok, tv.ID)
			} else if len(tv.Partitions) != 1 || len(tv.Partitions[0].Replicas) != int(o.rf) {
				t.Errorf("%s: created with rf %d, listed %+v", o.name, o.rf, tv.Partitions)
			}
		case o.exists:
			counts["already existed"]++
			if !ok {
				t.Errorf("%s: TOPIC_ALREADY_EXISTS answered, but no broker lists it", o.name)
			}
		case o.refused:
			counts["refused"]++
			if ok {
				t.Errorf("%s: refused with INVALID_REPLICATION_FACTOR, but listed with id %x", o.name, tv.ID)
			}
		default:
			counts["refused after a try that may have created it"]++
		}
	}
	t.Logf("outcomes: %v; topics listed: %d", counts, len(v.Topics))
	if vi >= 0 && counts["refused"] == 0 {
		t.Errorf("no RF 3 creation was refused while only two brokers were live")
	}
	// Only the stopped node may have been fenced: the others' heartbeats
	// must reach the new active controller within their sessions.
	for i, p := range nodes {
		for _, id := range fencedIn(p.Log()) {
			if vi < 0 || id != active {
				t.Errorf("node %d's controller fenced live broker %d", i+1, id)
			}
		}
	}
}
