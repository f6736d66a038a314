// Command groups load-tests samsa's group coordinator: G groups of M
// members (one TCP connection each, like real consumers) join and reach
// Stable, keep heartbeating, and commit offsets at a fixed total rate; it
// reports the time to Stable and heartbeat/commit latency percentiles.
// Then it commits offsets for R more groups, restarts the broker on the
// same data, and reports how long the coordinator takes to rebuild them
// from __consumer_offsets (until every group's OffsetFetch answers).
//
//	go run ./bench/groups -groups 200 -members 5 -duration 30s -commit-rate 100 -restart-groups 1000
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/broker"
	"github.com/samsa-kafka/samsa/internal/config"
)

const topic = "bench-groups"

func main() {
	groups := flag.Int("groups", 200, "groups")
	members := flag.Int("members", 5, "members per group")
	duration := flag.Duration("duration", 30*time.Second, "how long to heartbeat and commit")
	commitRate := flag.Int("commit-rate", 100, "offset commits per second, in total")
	hbEvery := flag.Duration("heartbeat", time.Second, "heartbeat interval per member")
	restartGroups := flag.Int("restart-groups", 1000, "groups with committed offsets for the restart test")
	flag.Parse()

	dir, err := os.MkdirTemp("", "samsa-bench-groups-")
	must(err)
	defer os.RemoveAll(dir)
	b := start(dir)
	addr := b.Addr()
	admin := dial(addr)
	createTopic(admin, 10)
	// The first FindCoordinator creates __consumer_offsets.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g0"
	must(admin.do(fc, kmsg.NewPtrFindCoordinatorResponse(), 3))

	// Join: every member of every group at once. Members that joined
	// early rejoin when their heartbeat says a rebalance is in progress, as
	// real consumers do, until every group is Stable with all members.
	t0 := time.Now()
	type member struct {
		c   *conn
		mu  sync.Mutex
		id  string
		gen int32
	}
	all := make([][]*member, *groups)
	var mu sync.Mutex
	var hbLat, commitLat []time.Duration
	hbErrs := map[int16]int{}
	measuring := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for g := range *groups {
		all[g] = make([]*member, *members)
		for m := range *members {
			mb := &member{c: dial(addr)}
			all[g][m] = mb
			wg.Add(1)
			go func() {
				defer wg.Done()
				group := fmt.Sprintf("g%d", g)
				id := ""
				for ctx.Err() == nil {
					var gen int32
					// Rejoin with the member id we have, as a real
					// consumer does; a fresh one would leave the old
					// member to expire after its session timeout.
					id, gen = join(mb.c, group, id)
					mb.mu.Lock()
					mb.id, mb.gen = id, gen
					mb.mu.Unlock()
					for ctx.Err() == nil {
						every := 50 * time.Millisecond
						select {
						case <-measuring:
							every = *hbEvery
						default:
						}
						time.Sleep(every)
						req := kmsg.NewPtrHeartbeatRequest()
						req.Group, req.MemberID, req.Generation = group, id, gen
						resp := kmsg.NewPtrHeartbeatResponse()
						s := time.Now()
						must(mb.c.do(req, resp, 4))
						d := time.Since(s)
						select {
						case <-measuring:
							mu.Lock()
							hbLat = append(hbLat, d)
							if resp.ErrorCode != 0 {
								hbErrs[resp.ErrorCode]++
							}
							mu.Unlock()
						default:
						}
						if resp.ErrorCode == kerr.RebalanceInProgress.Code {
							break
						}
					}
				}
			}()
		}
	}
	// Stable: DescribeGroups shows every group Stable with all members.
	for {
		req := kmsg.NewPtrDescribeGroupsRequest()
		for g := range *groups {
			req.Groups = append(req.Groups, fmt.Sprintf("g%d", g))
		}
		resp := kmsg.NewPtrDescribeGroupsResponse()
		must(admin.do(req, resp, 5))
		n := 0
		for _, g := range resp.Groups {
			if g.ErrorCode == 0 && g.State == "Stable" && len(g.Members) == *members {
				n++
			}
		}
		if n == *groups {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stable := time.Since(t0)
	fmt.Printf("%d groups x %d members Stable after %v\n", *groups, *members, stable.Round(time.Millisecond))
	close(measuring)
	go func() { time.Sleep(*duration); cancel() }()
	committers := dialN(addr, 10)
	commitErrs := 0
	for i, c := range committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			per := time.Duration(float64(time.Second) * float64(len(committers)) / float64(*commitRate))
			tick := time.NewTicker(per)
			defer tick.Stop()
			for n := i; ; n += len(committers) {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				g := n % *groups
				leader := all[g][0]
				leader.mu.Lock()
				id, gen := leader.id, leader.gen
				leader.mu.Unlock()
				req := kmsg.NewPtrOffsetCommitRequest()
				req.Group, req.MemberID, req.Generation = fmt.Sprintf("g%d", g), id, gen
				rt := kmsg.NewOffsetCommitRequestTopic()
				rt.Topic = topic
				rp := kmsg.NewOffsetCommitRequestTopicPartition()
				rp.Partition, rp.Offset = int32(n%10), int64(n)
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				resp := kmsg.NewPtrOffsetCommitResponse()
				s := time.Now()
				must(c.do(req, resp, 8))
				d := time.Since(s)
				mu.Lock()
				commitLat = append(commitLat, d)
				if resp.Topics[0].Partitions[0].ErrorCode != 0 {
					commitErrs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("heartbeats: %d (%.0f/s), errors %v, latency %s\n", len(hbLat), float64(len(hbLat))/duration.Seconds(), hbErrs, pct(hbLat))
	fmt.Printf("offset commits: %d (%.0f/s), errors %d, latency %s\n", len(commitLat), float64(len(commitLat))/duration.Seconds(), commitErrs, pct(commitLat))

	// Restart: commit offsets for restartGroups standalone groups, restart,
	// and time the rebuild.
	for g := range *restartGroups {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = fmt.Sprintf("r%d", g), -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for p := range int32(10) {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, int64(g)
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp := kmsg.NewPtrOffsetCommitResponse()
		must(admin.do(req, resp, 8))
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			must(fmt.Errorf("commit for r%d: %v", g, kerr.ErrorForCode(code)))
		}
	}
	for g := range all {
		for _, mb := range all[g] {
			mb.c.c.Close()
		}
	}
	must(b.Shutdown(context.Background()))
	t1 := time.Now()
	b = start(dir)
	started := time.Since(t1)
	c := dial(b.Addr())
	for g := range *restartGroups {
		for {
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Group = fmt.Sprintf("r%d", g)
			resp := kmsg.NewPtrOffsetFetchResponse()
			must(c.do(req, resp, 7))
			if resp.ErrorCode == kerr.CoordinatorLoadInProgress.Code {
				time.Sleep(time.Millisecond)
				continue
			}
			if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].Offset != int64(g) {
				must(fmt.Errorf("group r%d after restart: error %d, topics %+v", g, resp.ErrorCode, resp.Topics))
			}
			break
		}
	}
	fmt.Printf("restart: broker up in %v; %d+%d groups' offsets served after %v\n",
		started.Round(time.Millisecond), *restartGroups, *groups, time.Since(t1).Round(time.Millisecond))
	must(b.Shutdown(context.Background()))
}

func start(dir string) *broker.Broker {
	cfg, err := config.Load("", []string{"group.initial.rebalance.delay.ms=0", "offsets.topic.num.partitions=50"},
		map[string]string{"listeners": "127.0.0.1:0", "log.dirs": dir})
	must(err)
	b, err := broker.Start(cfg, broker.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	must(err)
	return b
}

// join runs JoinGroup (with the KIP-394 member-id round trip) and SyncGroup;
// the leader assigns one partition per member: the broker only relays bytes.
func join(c *conn, group, memberID string) (string, int32) {
	for {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = group, 30000, 60000
		req.MemberID, req.ProtocolType = memberID, "consumer"
		meta := kmsg.NewConsumerMemberMetadata()
		meta.Topics = []string{topic}
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
		resp := kmsg.NewPtrJoinGroupResponse()
		must(c.do(req, resp, 5))
		switch resp.ErrorCode {
		case kerr.MemberIDRequired.Code:
			memberID = resp.MemberID
			continue
		case kerr.NotCoordinator.Code, kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code:
			time.Sleep(10 * time.Millisecond) // the offsets topic is being created or loaded
			continue
		case 0:
		default:
			must(fmt.Errorf("join %s: %v", group, kerr.ErrorForCode(resp.ErrorCode)))
		}
		sreq := kmsg.NewPtrSyncGroupRequest()
		sreq.Group, sreq.Generation, sreq.MemberID = group, resp.Generation, resp.MemberID
		if resp.LeaderID == resp.MemberID {
			for i, m := range resp.Members {
				a := kmsg.NewConsumerMemberAssignment()
				a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: topic, Partitions: []int32{int32(i % 10)}}}
				sreq.GroupAssignment = append(sreq.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m.MemberID, MemberAssignment: a.AppendTo(nil)})
			}
		}
		sresp := kmsg.NewPtrSyncGroupResponse()
		must(c.do(sreq, sresp, 3))
		if sresp.ErrorCode == kerr.RebalanceInProgress.Code {
			memberID = resp.MemberID
			continue
		}
		if sresp.ErrorCode != 0 {
			must(fmt.Errorf("sync %s: %v", group, kerr.ErrorForCode(sresp.ErrorCode)))
		}
		return resp.MemberID, resp.Generation
	}
}

func createTopic(c *conn, partitions int32) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}
	resp := kmsg.NewPtrCreateTopicsResponse()
	must(c.do(req, resp, 5))
}

// conn is one client connection with one request in flight at a time.
type conn struct {
	c    net.Conn
	r    *bufio.Reader
	f    *kmsg.RequestFormatter
	corr int32
}

func dial(addr string) *conn {
	c, err := net.Dial("tcp", addr)
	must(err)
	return &conn{c: c, r: bufio.NewReader(c), f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench"))}
}

func dialN(addr string, n int) []*conn {
	out := make([]*conn, n)
	for i := range out {
		out[i] = dial(addr)
	}
	return out
}

func (c *conn) do(req kmsg.Request, resp kmsg.Response, version int16) error {
	req.SetVersion(version)
	resp.SetVersion(version)
	c.corr++
	if _, err := c.c.Write(c.f.AppendRequest(nil, req, c.corr)); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return err
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.r, frame); err != nil {
		return err
	}
	if int32(binary.BigEndian.Uint32(frame)) != c.corr {
		return errors.New("correlation id mismatch")
	}
	body := frame[4:]
	if resp.IsFlexible() && resp.Key() != 18 {
		body = body[1:] // empty tag buffer of the flexible response header
	}
	return resp.ReadFrom(body)
}

func pct(xs []time.Duration) string {
	if len(xs) == 0 {
		return "-"
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	at := func(q float64) time.Duration { return xs[min(len(xs)-1, int(q*float64(len(xs))))] }
	return fmt.Sprintf("p50 %v, p99 %v, max %v", at(0.5).Round(time.Microsecond), at(0.99).Round(time.Microsecond), xs[len(xs)-1].Round(time.Microsecond))
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "groups:", err)
		os.Exit(1)
	}
}
