package chaos

import (
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Network is a set of fault proxies, one per listener of each node, that
// can cut the links between nodes. Nodes and clients know only proxy
// addresses (advertised listeners and controller.quorum.voters name
// them), so every byte between two nodes passes through a proxy of the
// destination node, which knows the source node (see owners).
//
// Connections from processes that are not nodes (the test's clients) are
// never cut: an isolated node stays reachable by clients, which is how a
// leader that lost its quorum meets producers in a real split brain.
type Network struct {
	mu      sync.Mutex
	owners  *owners
	cuts    map[dir]Mode
	links   map[*link]struct{}
	proxies []*Proxy
	closed  bool
	wg      sync.WaitGroup
}

// Mode is how a cut link behaves.
type Mode int

const (
	// Drop closes the link's connections and refuses new ones at once:
	// peers see a reset, as when a host's firewall rejects.
	Drop Mode = iota + 1
	// Blackhole keeps connections open but forwards nothing, and accepts
	// new ones without connecting them: peers see silence until their
	// timeouts fire, as when a switch drops packets. Healing closes the
	// blackholed connections (their streams lost bytes).
	Blackhole
)

func (m Mode) String() string {
	switch m {
	case Drop:
		return "drop"
	case Blackhole:
		return "blackhole"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// dir is a direction: connections dialed by node from to node to.
type dir struct{ from, to int }

// link is one proxied connection: from a node (0: a client) to node to.
type link struct {
	from, to int
	in, out  net.Conn // out is nil while blackholed from the start
	mu       sync.Mutex
	dead     bool // in (and out) closed
	holed    bool // forwarding nothing
}

func (l *link) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead {
		return
	}
	l.dead = true
	l.in.Close()
	if l.out != nil {
		l.out.Close()
	}
}

func (l *link) blackholed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holed
}

// NewNetwork returns a network with no proxies and no cuts.
func NewNetwork() *Network {
	return &Network{owners: newOwners(), cuts: map[dir]Mode{}, links: map[*link]struct{}{}}
}

// Proxy is the front of one listener of one node.
type Proxy struct {
	n      *Network
	node   int
	ln     net.Listener
	target string // guarded by n.mu; "" while the node is down or unknown
}

// Listen starts a proxy for a listener of node on 127.0.0.1 with an
// OS-chosen port; it forwards to target (SetTarget), "" until set.
func (n *Network) Listen(node int, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{n: n, node: node, ln: ln, target: target}
	n.mu.Lock()
	n.proxies = append(n.proxies, p)
	n.mu.Unlock()
	n.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's address, the one the node advertises.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget points the proxy at the node's listener (it moves when the
// node restarts on a new port).
func (p *Proxy) SetTarget(addr string) {
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	p.target = addr
}

func (p *Proxy) accept() {
	defer p.n.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.n.wg.Add(1)
		go func() {
			defer p.n.wg.Done()
			p.serve(c)
		}()
	}
}

// serve connects one accepted connection, unless its link is cut.
func (p *Proxy) serve(in net.Conn) {
	n := p.n
	src := in.RemoteAddr().(*net.TCPAddr).Port
	dst := p.ln.Addr().(*net.TCPAddr).Port
	n.mu.Lock()
	from, ok := n.owners.nodeOf(src, dst)
	target := p.target
	mode := n.cutLocked(from, p.node)
	n.mu.Unlock()
	if !ok || n.isClosed() || (target == "" && mode != Blackhole) || mode == Drop {
		in.Close()
		return
	}
	l := &link{from: from, to: p.node, in: in}
	if mode == Blackhole {
		l.holed = true
		if !n.track(l) {
			return
		}
		// Read and discard until healed (which closes it) or the peer
		// gives up.
		_, _ = io.Copy(io.Discard, in)
		n.untrack(l)
		return
	}
	out, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		in.Close()
		return
	}
	l.out = out
	if !n.track(l) {
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.pipe(l, out, in) }()
	go func() { defer wg.Done(); n.pipe(l, in, out) }()
	wg.Wait()
	n.untrack(l)
}

// pipe copies src to dst until either fails, discarding while the link is
// blackholed; then it closes both connections, so a half that died takes
// the other with it.
func (n *Network) pipe(l *link, dst, src net.Conn) {
	defer l.close()
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 && !l.blackholed() {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// track registers a live link, re-checking the cut under the lock so a
// Cut that raced with the dial is not missed; false means it was closed.
func (n *Network) track(l *link) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	mode := n.cutLocked(l.from, l.to)
	if n.closed || mode == Drop || (mode == Blackhole && l.out != nil) {
		l.close()
		return false
	}
	n.links[l] = struct{}{}
	return true
}

func (n *Network) untrack(l *link) {
	l.close()
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.links, l)
}

func (n *Network) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// cutLocked is the mode of the link from -> to, 0 when it is up. Clients
// (0) and a node's connections to itself are never cut.
func (n *Network) cutLocked(from, to int) Mode {
	if from == 0 || from == to {
		return 0
	}
	return n.cuts[dir{from, to}]
}

// Cut cuts the link between nodes a and b in both directions.
func (n *Network) Cut(a, b int, mode Mode) {
	n.CutDialed(a, b, mode)
	n.CutDialed(b, a, mode)
}

// CutDialed cuts only the connections that node from dials to node to:
// a one-way cut, since samsa's connections each carry one kind of
// traffic (a Raft leader dials its followers to append; a broker dials
// the active controller to heartbeat).
func (n *Network) CutDialed(from, to int, mode Mode) {
	n.mu.Lock()
	defer n.mu.Unlock()
	d := dir{from, to}
	n.cuts[d] = mode
	for l := range n.links {
		if (dir{l.from, l.to}) != d || l.from == 0 {
			continue
		}
		switch mode {
		case Drop:
			l.close()
		case Blackhole:
			l.mu.Lock()
			l.holed = true
			l.mu.Unlock()
		}
	}
}

// Split cuts every link between a node of side and a node of other.
func (n *Network) Split(side, other []int, mode Mode) {
	for _, a := range side {
		for _, b := range other {
			n.Cut(a, b, mode)
		}
	}
}

// Heal restores every link; connections that were blackholed are closed,
// since their streams lost bytes.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cuts)
	for l := range n.links {
		if l.blackholed() {
			l.close()
		}
	}
	n.owners.forget()
}

// Close stops every proxy and closes every connection.
func (n *Network) Close() {
	n.mu.Lock()
	n.closed = true
	for _, p := range n.proxies {
		p.ln.Close()
	}
	for l := range n.links {
		l.close()
	}
	n.mu.Unlock()
	n.wg.Wait()
}
