package cluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
)

// StartQuorum runs n combined broker+controller nodes in-process, node ids
// 1..n, forming one Raft quorum over loopback, and waits until every one
// is registered and unfenced. sets apply to every node.
func StartQuorum(t testing.TB, n int, sets ...string) []*Broker {
	t.Helper()
	return StartQuorumFS(t, make([]log.FS, n), sets...)
}

// StartQuorumListeners is StartQuorum with node i+1's client listeners
// given by clients(i) ("INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.2:0")
// instead of one PLAINTEXT listener; sets name their protocols.
func StartQuorumListeners(t testing.TB, n int, clients func(i int) string, sets ...string) []*Broker {
	t.Helper()
	return startQuorum(t, make([]log.FS, n), clients, sets)
}

// StartQuorumFS is StartQuorum of len(fss) nodes, node i+1 keeping its
// logs on fss[i] (nil: the OS's), so a fault test can break one replica's
// disk (log.FaultFS).
func StartQuorumFS(t testing.TB, fss []log.FS, sets ...string) []*Broker {
	t.Helper()
	return startQuorum(t, fss, func(int) string { return "PLAINTEXT://127.0.0.1:0" }, sets)
}

func startQuorum(t testing.TB, fss []log.FS, clients func(i int) string, sets []string) []*Broker {
	t.Helper()
	n := len(fss)
	// The controller ports must be known before any node starts (they are
	// the voters); the OS picks them, and a port taken meanwhile by another
	// socket makes that node's start fail loudly. Each listener stays open
	// until all n are picked: a port closed at once can be handed out
	// again by the next Listen, and two voters on one address fail the
	// start ("found duplicate address in configuration").
	ctl := make([]string, n)
	lns := make([]net.Listener, 0, n)
	for i := range ctl {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ctl[i] = ln.Addr().String()
	}
	for _, ln := range lns {
		ln.Close()
	}
	var voters []string
	for i, a := range ctl {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, a))
	}
	nodes := make([]*Broker, n)
	for i := range nodes {
		nodes[i] = startNode(t, t.TempDir(), fss[i], map[string]string{
			"node.id":                  fmt.Sprint(i + 1),
			"listeners":                clients(i) + ",CONTROLLER://" + ctl[i],
			"controller.quorum.voters": strings.Join(voters, ","),
		}, sets)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, b := range nodes {
		if err := b.WaitReady(ctx); err != nil {
			t.Fatalf("cluster: node %d not ready: %v", i+1, err)
		}
	}
	return nodes
}

// Bootstrap is the comma-separated client addresses of nodes.
func Bootstrap(nodes []*Broker) string {
	addrs := make([]string, len(nodes))
	for i, b := range nodes {
		addrs[i] = b.Addr()
	}
	return strings.Join(addrs, ",")
}
