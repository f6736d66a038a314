package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

// Responses go out in request order even when the work behind them
// finishes in reverse: every request is handled first, then the test
// completes their Pending funcs from the last to the first.
func TestResponsesInRequestOrder(t *testing.T) {
	t.Parallel()
	const n = 20
	var done [n]chan struct{}
	for i := range done {
		done[i] = make(chan struct{})
	}
	var handled atomic.Int32
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		handled.Add(1)
		i := req.CorrelationID
		return func(ctx context.Context) wire.Response {
			select {
			case <-done[i]:
			case <-ctx.Done():
			}
			return wire.Response{Msg: metadataResponse("", i)}
		}
	})
	ts := startServer(t, Config{MaxInFlightPerConn: n}, h)
	c := dial(t, ts.addr)
	for i := range int32(n) {
		c.send(kmsg.NewPtrMetadataRequest(), 4, i)
	}
	waitFor(t, "all requests handled", func() bool { return handled.Load() == n })
	for i := n - 1; i >= 0; i-- {
		close(done[i])
	}
	for i := range int32(n) {
		var m kmsg.MetadataResponse
		c.readResponse(&m, 4, i, false)
		if m.ThrottleMillis != i {
			t.Fatalf("response %d carries the body of %d", i, m.ThrottleMillis)
		}
	}
}

// The first response must be flushed before the writer waits on the second
// Pending, which here waits for the client to have read the first: without
// the flush both sides would wait forever.
func TestFlushBeforeBlockingPending(t *testing.T) {
	t.Parallel()
	gotFirst := make(chan struct{})
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		if req.CorrelationID == 1 {
			return wire.Now(wire.Response{Msg: metadataResponse("", 1)})
		}
		return func(ctx context.Context) wire.Response {
			select {
			case <-gotFirst:
			case <-ctx.Done():
			}
			return wire.Response{Msg: metadataResponse("", 2)}
		}
	})
	ts := startServer(t, Config{}, h)
	c := dial(t, ts.addr)
	c.write(append(request(c.f, kmsg.NewPtrMetadataRequest(), 4, 1), request(c.f, kmsg.NewPtrMetadataRequest(), 4, 2)...))
	var m kmsg.MetadataResponse
	c.readResponse(&m, 4, 1, false)
	close(gotFirst)
	c.readResponse(&m, 4, 2, false)
}

// No more than MaxInFlightPerConn requests are handled ahead of their
// written responses.
func TestMaxInFlightPerConn(t *testing.T) {
	t.Parallel()
	const limit, n = 2, 8
	release := make(chan struct{})
	var mu sync.Mutex
	var handled, completed, maxOutstanding int
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		mu.Lock()
		handled++
		maxOutstanding = max(maxOutstanding, handled-completed)
		mu.Unlock()
		return func(ctx context.Context) wire.Response {
			select {
			case <-release:
			case <-ctx.Done():
			}
			mu.Lock()
			completed++
			mu.Unlock()
			return wire.Response{Msg: metadataResponse("", req.CorrelationID)}
		}
	})
	ts := startServer(t, Config{MaxInFlightPerConn: limit}, h)
	c := dial(t, ts.addr)
	for i := range int32(n) {
		c.send(kmsg.NewPtrMetadataRequest(), 4, i)
	}
	waitFor(t, "two requests handled", func() bool { mu.Lock(); defer mu.Unlock(); return handled == limit })
	close(release)
	for i := range int32(n) {
		var m kmsg.MetadataResponse
		c.readResponse(&m, 4, i, false)
	}
	mu.Lock()
	defer mu.Unlock()
	if maxOutstanding != limit || handled != n {
		t.Fatalf("max outstanding %d (limit %d), handled %d of %d", maxOutstanding, limit, handled, n)
	}
}

// Not run in parallel: it measures the process's allocations.
func TestBadFrameSizesClose(t *testing.T) {
	ts := startServer(t, Config{}, answer(nil, ""))
	small := startServer(t, Config{MaxRequestBytes: 1024}, answer(nil, ""))

	tests := []struct {
		name   string
		addr   string
		prefix uint32
		then   []byte
	}{
		{"200 MiB over the 100 MiB default", ts.addr, 200 << 20, nil},
		{"2 KiB over a 1 KiB limit", small.addr, 2048, make([]byte, 2048)},
		{"negative", ts.addr, 0x80000000, nil},
		{"-1", ts.addr, 0xffffffff, nil},
		// Within the limit, but the client sends 10 bytes and hangs up:
		// the buffer must grow with the bytes, not be allocated up front.
		{"90 MiB claimed, 10 bytes sent", ts.addr, 90 << 20, make([]byte, 10)},
		{"shorter than a header", ts.addr, 3, []byte{0, 3, 0}},
		// Only Produce may use the full limit: kmsg allocates arrays
		// from claimed counts, so other requests are capped lower.
		{"3 MiB Metadata", ts.addr, 3 << 20, []byte{0, 3, 0, 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c := dial(t, tt.addr)
			c.write(append(binary.BigEndian.AppendUint32(nil, tt.prefix), tt.then...))
			if len(tt.then) == 10 {
				c.nc.(*net.TCPConn).CloseWrite()
			}
			c.expectClosed()
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
				t.Fatalf("allocated %d bytes for a rejected frame", grew)
			}
		})
	}
	waitFor(t, "connections closed", func() bool { return ts.Stats().ConnectionsOpen == 0 && small.Stats().ConnectionsOpen == 0 })
	if got := ts.Stats().ProtocolErrors + small.Stats().ProtocolErrors; got != 6 {
		t.Errorf("ProtocolErrors = %d, want 6 (all but the hang-up)", got)
	}
}

func TestUnsupportedRequestsClose(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, answer(testVersions(), ""))
	f := kmsg.NewRequestFormatter()
	tests := []struct {
		name  string
		frame []byte
	}{
		{"unknown api key", rawFrame(9999, 0, 1, nil)},
		{"key known to kmsg but not served", request(f, kmsg.NewPtrProduceRequest(), 7, 1)},
		{"Metadata above the served range", request(f, kmsg.NewPtrMetadataRequest(), 13, 1)},
		{"Metadata at a version nobody knows", rawFrame(3, 127, 1, nil)},
		{"Fetch below the served range", request(f, kmsg.NewPtrFetchRequest(), 3, 1)},
		{"undecodable body", rawFrame(3, 4, 1, []byte{0, 0, 0, 9})},
		{"ApiVersions below zero", rawFrame(18, -1, 1, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, ts.addr)
			// A valid request first, answered, proves the close is
			// about the second one.
			c.send(kmsg.NewPtrMetadataRequest(), 4, 100)
			c.write(tt.frame)
			var m kmsg.MetadataResponse
			c.readResponse(&m, 4, 100, false)
			c.expectClosed()
		})
	}
}

// KIP-511: ApiVersions at a version above ours is answered at v0 with
// UNSUPPORTED_VERSION and our table, without parsing its body; the
// connection stays open for the retry.
func TestApiVersionsTooNew(t *testing.T) {
	t.Parallel()
	versions := testVersions()
	ts := startServer(t, Config{Versions: versions}, answer(versions, ""))
	c := dial(t, ts.addr)
	// v127's body is nothing kmsg could parse; the server must not try.
	c.write(rawFrame(apiVersionsKey, 127, 5, []byte{0xde, 0xad}))
	frame := c.mustReadFrame()
	want := kmsg.NewPtrApiVersionsResponse()
	want.Version = 0
	want.ErrorCode = 35
	want.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 1, MinVersion: 4, MaxVersion: 12}, {ApiKey: 3, MaxVersion: 12}, {ApiKey: 18, MaxVersion: 4}}
	wantFrame := want.AppendTo(binary.BigEndian.AppendUint32(nil, 5)) // no tag byte
	if !bytes.Equal(frame, wantFrame) {
		t.Fatalf("frame\n% x\nwant\n% x", frame, wantFrame)
	}
	got := kmsg.NewPtrApiVersionsResponse()
	got.Version = 0
	if err := got.ReadFrom(frame[4:]); err != nil || got.ErrorCode != 35 || !reflect.DeepEqual(got.ApiKeys, want.ApiKeys) {
		t.Fatalf("decoded %+v, %v", got, err)
	}

	// The retry at a version we listed is served normally.
	c.send(kmsg.NewPtrApiVersionsRequest(), 4, 6)
	var ok kmsg.ApiVersionsResponse
	c.readResponse(&ok, 4, 6, false)
	if ok.ErrorCode != 0 || len(ok.ApiKeys) != 3 {
		t.Fatalf("retry answered %+v", ok)
	}
}

// The flexible response header carries an empty tag buffer, except for
// ApiVersions. The frames are compared byte for byte with kmsg's encoding
// of the same message.
func TestFlexibleResponseHeaderOnTheWire(t *testing.T) {
	t.Parallel()
	versions := testVersions()
	ts := startServer(t, Config{Versions: versions}, answer(versions, ""))
	c := dial(t, ts.addr)
	tests := []struct {
		req     kmsg.Request
		v       int16
		want    kmsg.Response
		tagByte bool
	}{
		{kmsg.NewPtrMetadataRequest(), 12, metadataResponse("", 1), true},
		{kmsg.NewPtrMetadataRequest(), 8, metadataResponse("", 2), false},
		{kmsg.NewPtrApiVersionsRequest(), 3, apiVersionsResponse(versions), false},
		{kmsg.NewPtrApiVersionsRequest(), 2, apiVersionsResponse(versions), false},
	}
	for i, tt := range tests {
		corr := int32(i + 1)
		c.send(tt.req, tt.v, corr)
		frame := c.mustReadFrame()
		want := binary.BigEndian.AppendUint32(nil, uint32(corr))
		if tt.tagByte {
			want = append(want, 0)
		}
		tt.want.SetVersion(tt.v)
		want = tt.want.AppendTo(want)
		if !bytes.Equal(frame, want) {
			t.Errorf("%s v%d:\n got % x\nwant % x", kmsg.NameForKey(tt.req.Key()), tt.v, frame, want)
		}
	}
}

// A real client parses our frames: franz-go asks ApiVersions v5 (above our
// v4, so it goes through KIP-511), then Metadata at a flexible version.
func TestFranzGoClient(t *testing.T) {
	t.Parallel()
	versions := testVersions()
	var addr atomic.Value
	var sawApiVersions, sawMetadata atomic.Int32
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		switch req.Key {
		case apiVersionsKey:
			sawApiVersions.Add(1)
		case 3:
			sawMetadata.Add(1)
		}
		return wire.Now(wire.Response{Msg: answerMsg(versions, addr.Load().(string), req)})
	})
	ts := startServer(t, Config{Versions: versions}, h)
	addr.Store(ts.addr)
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	resp, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	m := resp.(*kmsg.MetadataResponse)
	if m.Version != 12 || len(m.Topics) != 1 || *m.Topics[0].Topic != "orders" || len(m.Brokers) != 1 || *m.ClusterID != "samsa-test" {
		t.Fatalf("Metadata v%d: %+v", m.Version, m)
	}
	resp, err = cl.Request(ctx, kmsg.NewPtrApiVersionsRequest())
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	if av := resp.(*kmsg.ApiVersionsResponse); av.ErrorCode != 0 || len(av.ApiKeys) != 3 {
		t.Fatalf("ApiVersions: %+v", av)
	}
	if sawApiVersions.Load() == 0 || sawMetadata.Load() == 0 {
		t.Fatalf("handler saw %d ApiVersions and %d Metadata requests", sawApiVersions.Load(), sawMetadata.Load())
	}
}

func TestNoResponseAndClose(t *testing.T) {
	t.Parallel()
	var info atomic.Pointer[wire.ConnInfo]
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		info.Store(req.Conn)
		switch req.CorrelationID {
		case 1: // acks=0: nothing is written
			return wire.Now(wire.Response{})
		case 3:
			return wire.Now(wire.Response{Msg: metadataResponse("", 3), Close: true})
		}
		return wire.Now(wire.Response{Msg: metadataResponse("", req.CorrelationID)})
	})
	ts := startServer(t, Config{}, h)
	c := dial(t, ts.addr)
	var sent []byte
	for corr := int32(1); corr <= 4; corr++ {
		sent = append(sent, request(c.f, kmsg.NewPtrMetadataRequest(), 4, corr)...)
	}
	c.write(sent)
	var m kmsg.MetadataResponse
	c.readResponse(&m, 4, 2, false)
	c.readResponse(&m, 4, 3, false)
	c.expectClosed() // 4 is never answered
	waitFor(t, "connection closed", func() bool { return ts.Stats().ConnectionsOpen == 0 })

	var received int64
	for _, corr := range []int32{2, 3} {
		m := metadataResponse("", corr)
		m.Version = 4
		received += int64(4 + 4 + len(m.AppendTo(nil)))
	}
	s := ts.Stats()
	if s.RequestsServed != 3 || s.ConnectionsAccepted != 1 || s.BytesRead != int64(len(sent)) || s.BytesWritten != received {
		t.Fatalf("stats %+v, want 3 requests served on 1 connection, %d bytes read, %d written", s, len(sent), received)
	}
	want := wire.ConnInfo{RemoteAddr: c.nc.LocalAddr().String(), LocalAddr: ts.addr, Plaintext: true}
	if got := info.Load(); *got != want {
		t.Fatalf("ConnInfo %+v, want %+v", *got, want)
	}
}

// Handler bugs close the connection they happen on, release any body, and
// leave the server serving other connections.
func TestHandlerFaultsCloseOnlyTheirConnection(t *testing.T) {
	t.Parallel()
	var released atomic.Int32
	body := func() *wire.Body {
		return &wire.Body{Chunks: []wire.Chunk{{Bytes: []byte("x")}}, Release: func() { released.Add(1) }}
	}
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		switch *req.ClientID {
		case "panic-handle":
			panic("boom in Handle")
		case "panic-pending":
			return func(context.Context) wire.Response { panic("boom in Pending") }
		case "panic-release":
			return wire.Now(wire.Response{Body: &wire.Body{Release: func() { panic("boom in Release") }}})
		case "nil-pending":
			return nil
		case "wrong-key":
			return wire.Now(wire.Response{Msg: kmsg.NewPtrApiVersionsResponse()})
		case "msg-and-body":
			return wire.Now(wire.Response{Msg: metadataResponse("", 0), Body: body()})
		case "bad-region":
			b := body()
			b.Chunks = append(b.Chunks, wire.Chunk{Region: &wire.Region{Fd: -1, Len: 10}})
			return wire.Now(wire.Response{Body: b})
		}
		return wire.Now(wire.Response{Msg: metadataResponse("", req.CorrelationID)})
	})
	ts := startServer(t, Config{}, h)
	healthy := dial(t, ts.addr)
	roundTrip := func(corr int32) {
		t.Helper()
		healthy.send(kmsg.NewPtrMetadataRequest(), 4, corr)
		var m kmsg.MetadataResponse
		healthy.readResponse(&m, 4, corr, false)
	}
	roundTrip(1)
	for i, id := range []string{"panic-handle", "panic-pending", "nil-pending", "wrong-key", "msg-and-body", "bad-region"} {
		bad := dial(t, ts.addr)
		bad.f = kmsg.NewRequestFormatter(kmsg.FormatterClientID(id))
		bad.send(kmsg.NewPtrMetadataRequest(), 4, 1)
		bad.expectClosed()
		roundTrip(int32(i + 2))
	}
	// A panicking Release is contained, and the response still went out.
	rel := dial(t, ts.addr)
	rel.f = kmsg.NewRequestFormatter(kmsg.FormatterClientID("panic-release"))
	rel.send(kmsg.NewPtrMetadataRequest(), 4, 9)
	if frame := rel.mustReadFrame(); !bytes.Equal(frame, []byte{0, 0, 0, 9}) {
		t.Fatalf("empty body response % x", frame)
	}
	waitFor(t, "Release panic counted", func() bool { return ts.Stats().Panics == 3 })
	roundTrip(100)
	waitFor(t, "bodies released", func() bool { return released.Load() == 2 })
}

// An idle connection is closed; one whose client waits for a response is
// not, however long the response takes.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 50 * time.Millisecond
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		return func(ctx context.Context) wire.Response {
			// A long poll lasting several idle timeouts. This is the
			// one wait on a clock in these tests: the timeout under
			// test is a clock.
			select {
			case <-time.After(4 * idle):
			case <-ctx.Done():
			}
			return wire.Response{Msg: metadataResponse("", req.CorrelationID)}
		}
	})
	ts := startServer(t, Config{IdleTimeout: idle}, h)
	busy := dial(t, ts.addr)
	busy.send(kmsg.NewPtrMetadataRequest(), 4, 1)
	var m kmsg.MetadataResponse
	busy.readResponse(&m, 4, 1, false)
	busy.expectClosed() // and now it is idle

	silent := dial(t, ts.addr)
	silent.expectClosed()
	waitFor(t, "connections closed", func() bool { return ts.Stats().ConnectionsOpen == 0 })
}

// Shutdown lets an in-flight request finish: its response is delivered,
// then the connection closes and Serve returns nil.
func TestShutdownDeliversInFlight(t *testing.T) {
	t.Parallel()
	handled := make(chan struct{})
	release := make(chan struct{})
	var cancelled atomic.Bool
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		close(handled)
		return func(ctx context.Context) wire.Response {
			<-release
			cancelled.Store(ctx.Err() != nil)
			return wire.Response{Msg: metadataResponse("", req.CorrelationID)}
		}
	})
	ts := startServer(t, Config{}, h)
	c := dial(t, ts.addr)
	c.send(kmsg.NewPtrMetadataRequest(), 4, 7)
	<-handled

	shutdown := make(chan error, 1)
	go func() { shutdown <- ts.Shutdown(context.Background()) }()
	if err := ts.waitServe(); err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	close(release)
	var m kmsg.MetadataResponse
	c.readResponse(&m, 4, 7, false)
	c.expectClosed()
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if cancelled.Load() {
		t.Fatalf("graceful Shutdown cancelled the Pending's context")
	}
	if s := ts.Stats(); s.ConnectionsOpen != 0 || s.RequestsServed != 1 {
		t.Fatalf("stats after Shutdown %+v", s)
	}
}

// When Shutdown's context expires, Pending funcs see theirs cancelled,
// bodies are released unwritten, and Shutdown reports the expiry.
func TestShutdownContextExpires(t *testing.T) {
	t.Parallel()
	handled := make(chan struct{})
	var released atomic.Int32
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		close(handled)
		return func(ctx context.Context) wire.Response {
			<-ctx.Done()
			return wire.Response{Body: &wire.Body{Chunks: []wire.Chunk{{Bytes: []byte("late")}}, Release: func() { released.Add(1) }}}
		}
	})
	ts := startServer(t, Config{}, h)
	c := dial(t, ts.addr)
	c.send(kmsg.NewPtrMetadataRequest(), 4, 1)
	<-handled
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	// Shutdown returned, so the connection's goroutines are done.
	if got := released.Load(); got != 1 {
		t.Fatalf("Release called %d times, want 1", got)
	}
	c.expectClosed()
	if err := ts.waitServe(); err != nil {
		t.Fatalf("Serve returned %v", err)
	}
}

// Closing the connection cancels the context of a pending long poll.
func TestClientCloseCancelsPending(t *testing.T) {
	t.Parallel()
	handled := make(chan struct{})
	cancelled := make(chan struct{})
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		close(handled)
		return func(ctx context.Context) wire.Response {
			<-ctx.Done()
			close(cancelled)
			return wire.Response{}
		}
	})
	ts := startServer(t, Config{}, h)
	c := dial(t, ts.addr)
	c.send(kmsg.NewPtrMetadataRequest(), 4, 1)
	<-handled
	c.nc.Close()
	select {
	case <-cancelled:
	case <-time.After(testTimeout):
		t.Fatal("Pending context not cancelled after the client closed")
	}
	waitFor(t, "connection closed", func() bool { return ts.Stats().ConnectionsOpen == 0 })
}

func TestServeAfterShutdown(t *testing.T) {
	t.Parallel()
	s := New(Config{Versions: testVersions()}, answer(nil, ""))
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err != nil {
		t.Fatalf("Serve after Shutdown = %v, want nil", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("listener not closed: %v", err)
	}
}

func TestServeReturnsListenerError(t *testing.T) {
	t.Parallel()
	s := New(Config{Versions: testVersions()}, answer(nil, ""))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // closed by someone else, not Shutdown
	if err := s.Serve(ln); !errors.Is(err, net.ErrClosed) || err.Error()[:8] != "server: " {
		t.Fatalf("Serve = %v, want a server: error wrapping net.ErrClosed", err)
	}
}
