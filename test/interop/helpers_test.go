package interop

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// testCtx bounds one test's client calls; a broker that stops answering
// fails the test at the deadline instead of hanging the package.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func newAdmin(t testing.TB, addr string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newKgo(t, addr))
}

// createTopic creates topic with the given partitions and configs, and
// fails the test unless the broker created it.
func createTopic(ctx context.Context, t testing.TB, addr, topic string, partitions int32, configs map[string]string) {
	t.Helper()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := newAdmin(t, addr).CreateTopic(ctx, partitions, 1, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// largeTopic is the topic config that lets a 1 MiB value through: the
// default max.message.bytes (1048588) is a 1 MiB batch, and a 1 MiB value
// plus record and batch overhead is a little more.
var largeTopic = map[string]string{"max.message.bytes": "2097152"}

// randBytes returns n deterministic pseudo-random (incompressible) bytes.
func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checkRecords asserts that got is exactly want: same length, same
// partitions, offsets, keys, values, headers and timestamps, in order. The
// offsets in want are the expected ones. Key nullness (nil vs empty) is
// compared only when both clients keep it (nullKeys).
func checkRecords(t testing.TB, label string, got, want []Record, nullKeys bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d records, want %d", label, len(got), len(want))
	}
	bad := 0
	for i := range min(len(got), len(want)) {
		if d := diffRecord(got[i], want[i], nullKeys); d != "" {
			t.Errorf("%s: record %d: %s", label, i, d)
			if bad++; bad == 5 {
				t.Errorf("%s: stopping after 5 bad records", label)
				return
			}
		}
	}
}

func diffRecord(got, want Record, nullKeys bool) string {
	switch {
	case got.Partition != want.Partition:
		return fmt.Sprintf("partition %d, want %d", got.Partition, want.Partition)
	case got.Offset != want.Offset:
		return fmt.Sprintf("offset %d, want %d", got.Offset, want.Offset)
	case got.Timestamp != want.Timestamp:
		return fmt.Sprintf("offset %d: timestamp %d, want %d", got.Offset, got.Timestamp, want.Timestamp)
	}
	if d := diffBytes("key", got.Key, want.Key, nullKeys); d != "" {
		return fmt.Sprintf("offset %d: %s", got.Offset, d)
	}
	if d := diffBytes("value", got.Value, want.Value, nullKeys); d != "" {
		return fmt.Sprintf("offset %d: %s", got.Offset, d)
	}
	if len(got.Headers) != len(want.Headers) {
		return fmt.Sprintf("offset %d: %d headers %v, want %d %v", got.Offset, len(got.Headers), got.Headers, len(want.Headers), want.Headers)
	}
	for i := range got.Headers {
		g, w := got.Headers[i], want.Headers[i]
		if g.Key != w.Key || !bytes.Equal(g.Value, w.Value) {
			return fmt.Sprintf("offset %d: header %d = %q:%q, want %q:%q", got.Offset, i, g.Key, g.Value, w.Key, w.Value)
		}
	}
	return ""
}

func diffBytes(what string, got, want []byte, nullness bool) string {
	if nullness && (got == nil) != (want == nil) {
		return fmt.Sprintf("%s nil=%v, want nil=%v", what, got == nil, want == nil)
	}
	if bytes.Equal(got, want) {
		return ""
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%s is %d bytes, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("%s differs at byte %d of %d: %#x, want %#x", what, i, len(got), got[i], want[i])
		}
	}
	return ""
}

// withOffsets returns a copy of recs with dense offsets from base, the
// offsets a fresh partition must give them.
func withOffsets(recs []Record, base int64) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.Offset = base + int64(i)
		out[i] = r
	}
	return out
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// fetchProxy sits between clients and one broker and knows, from the
// frames it forwards, whether a Fetch request is at the broker and not yet
// answered. The broker advertises the proxy's address, so every connection
// a client opens after bootstrap goes through it too.
type fetchProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	parked  int // Fetch requests forwarded in full and not yet answered
	conns   []net.Conn
	closed  bool
	serving sync.WaitGroup
}

func newFetchProxy(t testing.TB) *fetchProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &fetchProxy{ln: ln}
	t.Cleanup(p.close)
	return p
}

func (p *fetchProxy) Addr() string { return p.ln.Addr().String() }

// serve forwards connections to target until close.
func (p *fetchProxy) serve(target string) {
	p.target = target
	p.serving.Go(func() {
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			p.serving.Go(func() { p.forward(c) })
		}
	})
}

// close cuts every connection, which also ends any long-poll a client has
// outstanding, so the clients close promptly afterwards.
func (p *fetchProxy) close() {
	p.mu.Lock()
	p.closed = true
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.serving.Wait()
}

func (p *fetchProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

// Parked reports whether a Fetch is waiting at the broker.
func (p *fetchProxy) Parked() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parked > 0
}

func (p *fetchProxy) forward(client net.Conn) {
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		client.Close()
		return
	}
	var mu sync.Mutex
	fetches := map[int32]bool{} // correlation id → forwarded in full
	var wg sync.WaitGroup
	wg.Go(func() { // client → broker
		defer server.Close()
		for {
			frame, err := readFrame(client)
			if err != nil {
				return
			}
			// Request header: api key int16, api version int16, correlation id int32.
			isFetch := len(frame) >= 12 && binary.BigEndian.Uint16(frame[4:]) == 1
			corr := int32(binary.BigEndian.Uint32(frame[8:]))
			if isFetch {
				mu.Lock()
				fetches[corr] = false
				mu.Unlock()
			}
			if _, err := server.Write(frame); err != nil {
				return
			}
			if isFetch {
				mu.Lock()
				if _, ok := fetches[corr]; ok { // not answered already
					fetches[corr] = true
					p.mu.Lock()
					p.parked++
					p.mu.Unlock()
				}
				mu.Unlock()
			}
		}
	})
	wg.Go(func() { // broker → client
		defer client.Close()
		defer func() { // the connection is gone; so are its fetches
			mu.Lock()
			for corr, forwarded := range fetches {
				if forwarded {
					p.mu.Lock()
					p.parked--
					p.mu.Unlock()
				}
				delete(fetches, corr)
			}
			mu.Unlock()
		}()
		for {
			frame, err := readFrame(server)
			if err != nil || len(frame) < 8 {
				return
			}
			corr := int32(binary.BigEndian.Uint32(frame[4:]))
			mu.Lock()
			if forwarded, ok := fetches[corr]; ok {
				if forwarded {
					p.mu.Lock()
					p.parked--
					p.mu.Unlock()
				}
				delete(fetches, corr)
			}
			mu.Unlock()
			if _, err := client.Write(frame); err != nil {
				return
			}
		}
	})
	wg.Wait()
}

// readFrame reads one size-prefixed Kafka frame, prefix included.
func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 256<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	frame := make([]byte, 4+n)
	copy(frame, size[:])
	_, err := io.ReadFull(r, frame[4:])
	return frame, err
}

// startBroker starts an in-process broker and, when the test ends, checks
// that the clients never made it recover a panic or close a connection for
// malformed or unsupported input.
func startBroker(t testing.TB, sets ...string) *cluster.Broker {
	t.Helper()
	b := cluster.Start(t, sets...)
	checkStats(t, b)
	return b
}

func checkStats(t testing.TB, b *cluster.Broker) {
	t.Cleanup(func() {
		if st := b.Server().Stats(); st.Panics != 0 || st.ProtocolErrors != 0 {
			t.Errorf("broker stats: %d panics, %d protocol errors; want none", st.Panics, st.ProtocolErrors)
		}
	})
}

// startBehindProxy starts a broker that advertises a fetchProxy's address,
// and returns the proxy (which clients connect to) and the broker.
func startBehindProxy(t testing.TB, sets ...string) (*fetchProxy, *cluster.Broker) {
	t.Helper()
	p := newFetchProxy(t)
	b := startBroker(t, append(sets, "advertised.listeners="+p.Addr())...)
	p.serve(b.Addr())
	return p, b
}

// rawConn speaks the wire protocol directly, so a test can pin a request's
// version (kgo always picks the highest both sides support).
type rawConn struct {
	c    net.Conn
	fmt  *kmsg.RequestFormatter
	corr int32
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("interop-raw"))}
}

// do sends req at its set version and decodes the response.
func (r *rawConn) do(ctx context.Context, t testing.TB, req kmsg.Request) kmsg.Response {
	t.Helper()
	if d, ok := ctx.Deadline(); ok {
		r.c.SetDeadline(d)
	}
	r.corr++
	if _, err := r.c.Write(r.fmt.AppendRequest(nil, req, r.corr)); err != nil {
		t.Fatalf("raw %T v%d: write: %v", req, req.GetVersion(), err)
	}
	frame, err := readFrame(r.c)
	if err != nil {
		t.Fatalf("raw %T v%d: read: %v", req, req.GetVersion(), err)
	}
	body := frame[8:] // size, correlation id
	if got := int32(binary.BigEndian.Uint32(frame[4:])); got != r.corr {
		t.Fatalf("raw %T: correlation id %d, want %d", req, got, r.corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != 18 { // ApiVersions' response header has no tags
		if len(body) == 0 || body[0] != 0 {
			t.Fatalf("raw %T v%d: response header tags %x", req, req.GetVersion(), body[:min(len(body), 1)])
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("raw %T v%d: decode response: %v", req, req.GetVersion(), err)
	}
	return resp
}
