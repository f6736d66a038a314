// Package peer is how a broker sends Kafka requests to the other brokers
// of its cluster, as Kafka's inter-broker send threads do: the transaction
// coordinator's WriteTxnMarkers to partition leaders, and a partition
// leader's AddPartitionsToTxn (verify only, KIP-890) to a transaction
// coordinator. It keeps one franz-go client per node id, dialling the
// client listener the node registered in the metadata image, and replaces
// a node's client when its registered endpoint changes.
//
// Pool.OnImage runs from a metadata subscription (under the controller's
// lock): it only records endpoints and hands clients that are no longer
// wanted to a goroutine that closes them, never waiting for a network.
package peer

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// dialTimeout bounds a connection attempt to a peer; a request's own
// context bounds the rest.
const dialTimeout = 5 * time.Second

// Config configures a Pool.
type Config struct {
	NodeID int32 // this broker, named in the clients' client id
	Logger *slog.Logger
}

// Pool holds one client per peer broker.
type Pool struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	closed  bool
	addrs   map[int32]string // registered client endpoints, by node id
	clients map[int32]*client
	closing sync.WaitGroup // clients being closed in the background
}

type client struct {
	addr string
	cl   *kgo.Client
}

// New returns a pool that knows no broker until its first OnImage.
func New(cfg Config) *Pool {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pool{cfg: cfg, log: cfg.Logger.With("component", "peers"), addrs: map[int32]string{}, clients: map[int32]*client{}}
}

// OnImage records the brokers' registered endpoints; the client of a
// broker that left the image or moved to another endpoint is closed (in
// the background: a request in flight on it fails, and its caller retries
// on the new one).
func (p *Pool) OnImage(_, next *metadata.Image) {
	addrs := make(map[int32]string, len(next.Brokers))
	for id, b := range next.Brokers {
		addrs[id] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.addrs = addrs
	for id, c := range p.clients {
		if addrs[id] != c.addr {
			delete(p.clients, id)
			p.closeLater(c)
		}
	}
}

// closeLater closes c on its own goroutine: kgo's Close waits for the
// client's connections to wind down. Callers hold p.mu.
func (p *Pool) closeLater(c *client) {
	p.closing.Add(1)
	go func() {
		defer p.closing.Done()
		c.cl.Close()
	}()
}

// Request sends req to broker node and returns its response. The version
// is the highest both franz-go and the broker serve, unless req pins one
// below it (kmsg's SetVersion does not pin; see kgo.Broker.Request). A
// node the image does not know is BROKER_NOT_AVAILABLE.
func (p *Pool) Request(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error) {
	c, err := p.client(node)
	if err != nil {
		return nil, err
	}
	seeds := c.cl.SeedBrokers()
	if len(seeds) == 0 {
		return nil, fmt.Errorf("peer: no seed broker for node %d: %w", node, kerr.BrokerNotAvailable)
	}
	resp, err := seeds[0].Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("peer: %s to node %d at %s: %w", kmsg.NameForKey(req.Key()), node, c.addr, err)
	}
	return resp, nil
}

// client returns node's client, creating it at its registered endpoint.
func (p *Pool) client(node int32) (*client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("peer: pool closed: %w", kerr.BrokerNotAvailable)
	}
	if c := p.clients[node]; c != nil {
		return c, nil
	}
	addr := p.addrs[node]
	if addr == "" {
		return nil, fmt.Errorf("peer: node %d is not registered: %w", node, kerr.BrokerNotAvailable)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(dialTimeout),
		kgo.ClientID("samsa-broker-"+strconv.Itoa(int(p.cfg.NodeID))))
	if err != nil {
		// Only invalid options fail NewClient; ours are fixed.
		return nil, fmt.Errorf("peer: client for node %d: %w", node, err)
	}
	c := &client{addr: addr, cl: cl}
	p.clients[node] = c
	return c, nil
}

// Close closes every client and waits until they are closed. Requests
// after Close fail with BROKER_NOT_AVAILABLE.
func (p *Pool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for id, c := range p.clients {
			delete(p.clients, id)
			p.closeLater(c)
		}
	}
	p.mu.Unlock()
	p.closing.Wait()
}
