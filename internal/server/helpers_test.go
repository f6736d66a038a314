package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

// testTimeout bounds every wait in these tests; nothing normally comes
// close to it.
const testTimeout = 10 * time.Second

// testVersions is the table the tests serve. ApiVersions stops at v4 so
// that a client asking v5 (franz-go does) exercises KIP-511, and Metadata at
// v12 so that v13 is a version kmsg knows but we refuse.
func testVersions() map[int16]wire.VersionRange {
	return map[int16]wire.VersionRange{
		apiVersionsKey: {Min: 0, Max: 4},
		3:              {Min: 0, Max: 12}, // Metadata
		1:              {Min: 4, Max: 12}, // Fetch
	}
}

// handlerFunc adapts a function to wire.Handler.
type handlerFunc func(ctx context.Context, req *wire.Request) wire.Pending

func (f handlerFunc) Handle(ctx context.Context, req *wire.Request) wire.Pending { return f(ctx, req) }

// answer is the tests' ordinary handler: ApiVersions lists versions,
// Metadata names the broker at addr (when known) and echoes the
// correlation id as ThrottleMillis so tests can tell responses apart, and
// anything else gets its default response.
func answer(versions map[int16]wire.VersionRange, addr string) handlerFunc {
	return func(_ context.Context, req *wire.Request) wire.Pending {
		return wire.Now(wire.Response{Msg: answerMsg(versions, addr, req)})
	}
}

func answerMsg(versions map[int16]wire.VersionRange, addr string, req *wire.Request) kmsg.Response {
	switch req.Key {
	case apiVersionsKey:
		return apiVersionsResponse(versions)
	case 3:
		return metadataResponse(addr, req.CorrelationID)
	}
	return req.Msg.ResponseKind()
}

func apiVersionsResponse(versions map[int16]wire.VersionRange) *kmsg.ApiVersionsResponse {
	r := kmsg.NewPtrApiVersionsResponse()
	for _, k := range slices.Sorted(maps.Keys(versions)) {
		vr := versions[k]
		r.ApiKeys = append(r.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: vr.Min, MaxVersion: vr.Max})
	}
	return r
}

func metadataResponse(addr string, corr int32) *kmsg.MetadataResponse {
	r := kmsg.NewPtrMetadataResponse()
	r.ThrottleMillis = corr
	r.ClusterID = kmsg.StringPtr("samsa-test")
	r.ControllerID = 1
	if addr != "" {
		host, port := splitHostPort(addr)
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = 1, host, port
		r.Brokers = append(r.Brokers, b)
	}
	t := kmsg.NewMetadataResponseTopic()
	t.Topic = kmsg.StringPtr("orders")
	p := kmsg.NewMetadataResponseTopicPartition()
	p.Leader, p.Replicas, p.ISR = 1, []int32{1}, []int32{1}
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return r
}

func splitHostPort(addr string) (string, int32) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		panic(err)
	}
	return ta.IP.String(), int32(ta.Port)
}

// testServer is a Server on a loopback listener, shut down at cleanup.
type testServer struct {
	*Server
	addr     string
	serveErr chan error
}

func startServer(t testing.TB, cfg Config, h wire.Handler) *testServer {
	t.Helper()
	if cfg.Versions == nil {
		cfg.Versions = testVersions()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: New(cfg, h), addr: ln.Addr().String(), serveErr: make(chan error, 1)}
	go func() { ts.serveErr <- ts.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := ts.waitServe(); err != nil {
			t.Errorf("Serve returned %v, want nil", err)
		}
	})
	return ts
}

func (ts *testServer) waitServe() error {
	select {
	case err := <-ts.serveErr:
		ts.serveErr <- err // let cleanup read it again
		return err
	case <-time.After(testTimeout):
		return errors.New("Serve did not return")
	}
}

// waitFor polls cond until it holds or the test deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// client speaks raw frames to the server.
type client struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
	f  *kmsg.RequestFormatter
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc), f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("test"))}
}

// request encodes req at version v; it is also used by the fuzz seeds.
func request(f *kmsg.RequestFormatter, req kmsg.Request, v int16, corr int32) []byte {
	req.SetVersion(v)
	return f.AppendRequest(nil, req, corr)
}

func (c *client) send(req kmsg.Request, v int16, corr int32) {
	c.t.Helper()
	c.write(request(c.f, req, v, corr))
}

func (c *client) write(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readFrame returns the next response frame without its size prefix.
func (c *client) readFrame() ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	var size [4]byte
	if _, err := io.ReadFull(c.br, size[:]); err != nil {
		return nil, err
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(c.br, frame)
	return frame, err
}

func (c *client) mustReadFrame() []byte {
	c.t.Helper()
	frame, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	return frame
}

// readResponse reads a frame and decodes it as resp at version v, with or
// without the flexible header's tag byte, checking the correlation id.
func (c *client) readResponse(resp kmsg.Response, v int16, corr int32, tagByte bool) {
	c.t.Helper()
	frame := c.mustReadFrame()
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		c.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	body := frame[4:]
	if tagByte {
		if len(body) == 0 || body[0] != 0 {
			c.t.Fatalf("flexible response header: want an empty tag buffer, got % x", body[:min(len(body), 1)])
		}
		body = body[1:]
	}
	resp.SetVersion(v)
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decoding %T v%d: %v", resp, v, err)
	}
}

// expectClosed asserts that the server closes the connection without
// sending anything more.
func (c *client) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	n, err := c.br.Read(make([]byte, 1))
	if n != 0 {
		c.t.Fatalf("got data, want the connection closed")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("connection still open after %v", testTimeout)
	}
	if err == nil {
		c.t.Fatalf("read returned no data and no error")
	}
}

// rawFrame builds a request frame by hand: header v1 with a client id,
// then body.
func rawFrame(key, version int16, corr int32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 1)
	b = append(b, 'x')
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}
