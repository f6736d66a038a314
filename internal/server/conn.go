package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/bits"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

const (
	readBufSize  = 16 << 10
	writeBufSize = 16 << 10
	// maxScratch is the largest encode buffer a connection keeps between
	// responses; a bigger one (a large Metadata response) is dropped so an
	// idle connection does not pin it.
	maxScratch = 1 << 20
)

var (
	errDraining  = errors.New("server: connection draining for shutdown")
	errFrameSize = errors.New("server: request size out of bounds")
)

// call is a request the handler has accepted, waiting for its response.
type call struct {
	key           int16
	version       int16 // the response's version
	correlationID int32
	flexible      bool // the response header carries the tagged-field byte
	pending       wire.Pending
	// The stages' times and the request, kept only when the server has
	// an Observer.
	received, started, handled time.Time
	req                        kmsg.Request
}

// ready is a call with its response.
type ready struct {
	call
	resp    wire.Response
	readyAt time.Time // when the Pending returned, with an Observer
}

// conn serves one client connection with three goroutines:
//
//	reader (serve's own)  frames → decode → Handle → calls
//	resolveLoop           calls → Pending(ctx), in order → ready
//	writeLoop             ready → bufio.Writer / sendfile → socket
//
// The resolver exists so that the writer can tell "the next response is not
// ready yet" (ready is empty) from "there is more to write": it flushes
// exactly when nothing more is ready. Coalescing pipelined responses into
// few syscalls is then safe, because no written response can sit in the
// buffer while a later Pending (a fetch long poll) blocks.
//
// slots bounds the calls between Handle and the end of their write to
// MaxInFlightPerConn; the reader takes a slot before reading a frame, so at
// the bound it stops reading and TCP pushes back on the client. Every call
// holds a slot, so sends on calls and ready never block.
type conn struct {
	srv  *Server
	nc   net.Conn
	raw  syscall.RawConn // non-nil when regions may be sent with sendfile
	info *wire.ConnInfo
	log  *slog.Logger
	// sasl is the authentication state of a SASL listener's connection,
	// nil on others; reader only.
	sasl *saslConn

	// ctx is every Handle's and Pending's context. close cancels it,
	// and so does Shutdown when its own context expires.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once

	slots chan struct{}
	calls chan call  // reader → resolver; closed by the reader
	ready chan ready // resolver → writer; closed by the resolver

	mu       sync.Mutex // guards draining and the arming of the read deadline
	draining bool
	drainCh  chan struct{} // closed when draining becomes true

	br      *bufio.Reader // reader only
	bw      *bufio.Writer // writer only
	scratch []byte        // writer only: response encoding buffer
}

func newConn(s *Server, nc net.Conn, listener string) *conn {
	c := &conn{
		srv:     s,
		nc:      nc,
		slots:   make(chan struct{}, s.maxInFlight),
		calls:   make(chan call, s.maxInFlight),
		ready:   make(chan ready, s.maxInFlight),
		drainCh: make(chan struct{}),
		info: &wire.ConnInfo{
			RemoteAddr: addrString(nc.RemoteAddr()),
			LocalAddr:  addrString(nc.LocalAddr()),
			Listener:   listener,
			Plaintext:  true, // no TLS listener yet
		},
	}
	if tc, ok := nc.(*net.TCPConn); ok && sendfileSupported && c.info.Plaintext {
		if raw, err := tc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	c.ctx, c.cancel = context.WithCancel(s.base)
	c.log = s.log.With("remote", c.info.RemoteAddr)
	return c
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// serve runs the reader on the calling goroutine, owns the resolver and the
// writer, and returns once all three are done and the socket is closed.
func (c *conn) serve() {
	c.br = bufio.NewReaderSize(connReader{c}, readBufSize)
	c.bw = bufio.NewWriterSize(connWriter{c}, writeBufSize)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.resolveLoop()
	}()
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	c.readLoop()
	wg.Wait()
	c.close()
}

// close cancels the connection's context, so that Pending funcs waiting on
// it return, and closes the socket, which unblocks the reader and the
// writer. Calls still queued are resolved with the cancelled context and
// their bodies released unwritten.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

// closeFor closes the connection and logs why at debug level: a client
// going away or sending garbage is routine for a broker.
func (c *conn) closeFor(msg string, err error) {
	if c.ctx.Err() == nil {
		c.log.Debug("server: closing connection: "+msg, "err", err)
	}
	c.close()
}

// drain makes the reader stop before its next frame; the requests already
// read are answered, then serve closes the connection.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return
	}
	c.draining = true
	close(c.drainCh)
	// Wake a reader blocked in Read. armRead re-arms nothing from now on,
	// and both hold mu, so this deadline cannot be overwritten.
	c.nc.SetReadDeadline(time.Unix(1, 0))
}

func (c *conn) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

func (c *conn) armRead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return errDraining
	}
	return c.nc.SetReadDeadline(time.Now().Add(c.srv.idle))
}

// outstanding reports whether a request read earlier still awaits its
// response. The reader holds one slot for the frame it is reading.
func (c *conn) outstanding() bool { return len(c.slots) > 1 }

// connReader is the socket as the reader's bufio.Reader sees it. It arms the
// idle deadline before each read, and does not let the deadline end a
// connection whose client is waiting for a response (a long poll) rather
// than idle.
type connReader struct{ c *conn }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	for {
		if err := c.armRead(); err != nil {
			return 0, err
		}
		n, err := c.nc.Read(p)
		c.srv.stats.bytesRead.Add(int64(n))
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && c.outstanding() {
			continue
		}
		return n, err
	}
}

// connWriter is the socket as the writer's bufio.Writer sees it. It arms
// the write deadline before each write.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	w.c.armWrite()
	n, err := w.c.nc.Write(p)
	w.c.srv.stats.bytesWritten.Add(int64(n))
	return n, err
}

// armWrite bounds the next socket write: a client that stops reading for a
// whole idle timeout loses its connection instead of pinning its responses.
func (c *conn) armWrite() {
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.idle))
}

// readLoop reads, decodes and dispatches frames until the connection fails,
// is closed or is drained.
func (c *conn) readLoop() {
	defer close(c.calls)
	for {
		select {
		case c.slots <- struct{}{}:
		case <-c.drainCh:
			return
		case <-c.ctx.Done():
			return
		}
		if c.isDraining() {
			return
		}
		frame, pooled, err := c.readFrame()
		if err != nil {
			c.readFailed(err)
			return
		}
		var received time.Time
		if c.srv.obs != nil {
			received = time.Now()
		}
		cl, ok := c.dispatch(frame)
		if pooled {
			putFrame(frame)
		}
		if !ok {
			return
		}
		cl.received = received
		c.srv.stats.inFlight.Add(1)
		c.calls <- cl
	}
}

// maxNonProduceRequest caps every request but Produce. kmsg allocates an
// array's elements from the claimed count before reading them, so a
// hostile 2 MiB CreateTopics costs ~160 MiB (8 MiB: 640 MiB); only Produce carries bulk
// bytes, and no legitimate other request comes near this size (an
// OffsetCommit of 30,000 partitions is about 1 MiB).
const maxNonProduceRequest = 2 << 20

const produceKey = 0

// readFrame reads one size-prefixed frame. The size is checked before
// anything is allocated for it. A Produce frame's buffer comes from a pool
// and pooled reports that it goes back once the request is handled.
func (c *conn) readFrame() (frame []byte, pooled bool, err error) {
	head, err := c.br.Peek(4)
	if err != nil {
		if len(head) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, false, err
	}
	size := int32(binary.BigEndian.Uint32(head))
	if size < 0 || size > c.srv.maxRequest {
		c.br.Discard(4)
		return nil, false, fmt.Errorf("%w: %d is not in [0, %d]", errFrameSize, size, c.srv.maxRequest)
	}
	key := int16(-1)
	if size >= 2 {
		head, err := c.br.Peek(6)
		if err != nil {
			return nil, false, io.ErrUnexpectedEOF
		}
		key = int16(binary.BigEndian.Uint16(head[4:]))
	}
	if c.sasl != nil && !c.sasl.done && size > saslMaxReceive {
		// Before authenticating, a client gets no more than Kafka's
		// sasl.server.max.receive.size: an unknown peer must not make
		// the broker buffer megabytes.
		c.br.Discard(4)
		return nil, false, fmt.Errorf("%w: %d bytes before SASL authentication, above the %d allowed", errFrameSize, size, saslMaxReceive)
	}
	if size > maxNonProduceRequest && key != produceKey {
		c.br.Discard(4)
		return nil, false, fmt.Errorf("%w: %d bytes for API key %d, above the %d allowed for requests other than Produce",
			errFrameSize, size, key, maxNonProduceRequest)
	}
	c.br.Discard(4)
	if key == produceKey {
		frame, err = readPooled(c.br, int(size))
		return frame, err == nil, err
	}
	// Any other request is at most maxNonProduceRequest.
	frame = make([]byte, size)
	if _, err := io.ReadFull(c.br, frame); err != nil {
		return nil, false, unexpected(err)
	}
	return frame, false, nil
}

// Produce frames come from pools of buffers by size class, powers of two
// from firstChunk up: at hundreds of MB/s, a fresh zeroed buffer per request
// (and, for a frame of many megabytes, the copies of growing it) costs more
// CPU than everything else the produce path does. Recycling is safe because
// Produce appends its batches inside Handle (wire.Request documents that
// Produce bytes are only valid until Handle returns).
//
// firstChunk is also what a frame costs before its bytes arrive: a larger
// one gets its full buffer only once its first firstChunk bytes are here,
// so a client that claims 100 MiB and sends ten bytes holds one MiB, and
// the bytes copied to move up are at most firstChunk a frame.
const (
	firstChunkShift = 20
	firstChunk      = 1 << firstChunkShift
)

var framePools [32]sync.Pool // of *[]byte, by log2 of the capacity

// frameClass is the pool index of a frame of n bytes: the exponent of the
// smallest power of two, at least firstChunk, that holds it.
func frameClass(n int) int {
	if n <= firstChunk {
		return firstChunkShift
	}
	return bits.Len(uint(n - 1))
}

func getFrame(n int) []byte {
	c := frameClass(n)
	if v, ok := framePools[c].Get().(*[]byte); ok {
		return (*v)[:n]
	}
	return make([]byte, n, 1<<c)
}

// putFrame recycles a buffer getFrame made; any other is left to the GC.
func putFrame(b []byte) {
	c := frameClass(cap(b))
	if cap(b) != 1<<c || c >= len(framePools) {
		return
	}
	framePools[c].Put(&b)
}

// readPooled reads an n-byte frame into a pooled buffer, the first
// firstChunk bytes into a small one (see firstChunk).
func readPooled(r io.Reader, n int) ([]byte, error) {
	first := min(n, firstChunk)
	buf := getFrame(first)
	if _, err := io.ReadFull(r, buf); err != nil {
		putFrame(buf)
		return nil, unexpected(err)
	}
	if n == first {
		return buf, nil
	}
	big := getFrame(n)
	copy(big, buf)
	putFrame(buf)
	if _, err := io.ReadFull(r, big[first:]); err != nil {
		putFrame(big)
		return nil, unexpected(err)
	}
	return big, nil
}

// unexpected is a read error mid-frame: EOF there is a truncated frame.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (c *conn) readFailed(err error) {
	switch {
	case c.isDraining() && (errors.Is(err, errDraining) || errors.Is(err, os.ErrDeadlineExceeded)):
		// Shutdown: the calls already read are answered before serve
		// closes the connection.
	case errors.Is(err, errFrameSize):
		c.srv.stats.protocolErrors.Add(1)
		c.stopReading("bad request size", err)
	case errors.Is(err, io.EOF):
		c.closeFor("closed by client", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.closeFor("closed by client mid-frame", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.closeFor("idle", err)
	default:
		c.closeFor("read failed", err)
	}
}

// stopReading logs why the reader stops on bad input. The connection is
// closed once the requests read before it are answered: those were valid,
// and Kafka, which reads one request at a time, would have answered them
// before reading the bad one.
func (c *conn) stopReading(msg string, err error) {
	c.log.Debug("server: closing connection after earlier responses: "+msg, "err", err)
}

// dispatch decodes a frame and hands it to the handler. It reports false
// when the connection must close.
func (c *conn) dispatch(frame []byte) (call, bool) {
	d, err := c.decode(frame)
	if err != nil {
		c.srv.stats.protocolErrors.Add(1)
		c.stopReading("bad request", err)
		return call{}, false
	}
	h := d.hdr
	if d.msg == nil { // KIP-511: ApiVersions newer than ours
		return call{
			key:           apiVersionsKey,
			version:       0,
			correlationID: h.correlationID,
			pending:       wire.Now(wire.Response{Msg: c.srv.kip511Response()}),
		}, true
	}
	if c.sasl != nil && !c.sasl.done && h.key != apiVersionsKey {
		resp, closeAfter, err := c.authenticate(d.msg)
		if err != nil {
			c.srv.stats.protocolErrors.Add(1)
			c.stopReading("unauthenticated request", fmt.Errorf("%w: %s", err, kmsg.NameForKey(h.key)))
			return call{}, false
		}
		resp.SetVersion(h.version)
		return call{
			key:           h.key,
			version:       h.version,
			correlationID: h.correlationID,
			flexible:      flexibleResponseHeader(h.key, d.msg),
			pending:       c.authResponse(resp, closeAfter),
		}, true
	}
	req := &wire.Request{
		Key:           h.key,
		Version:       h.version,
		CorrelationID: h.correlationID,
		ClientID:      h.clientID,
		Msg:           d.msg,
		Conn:          c.info,
	}
	var started time.Time
	if c.srv.obs != nil {
		started = time.Now()
	}
	p, ok := c.handle(req)
	if !ok {
		return call{}, false
	}
	cl := call{
		key:           h.key,
		version:       h.version,
		correlationID: h.correlationID,
		flexible:      flexibleResponseHeader(h.key, d.msg),
		pending:       p,
		started:       started,
	}
	if c.srv.obs != nil {
		cl.handled, cl.req = time.Now(), d.msg
	}
	return cl, true
}

func (c *conn) decode(frame []byte) (d decoded, err error) {
	defer func() {
		if r := recover(); r != nil {
			key := int16(-1)
			if len(frame) >= 2 {
				key = int16(binary.BigEndian.Uint16(frame))
			}
			c.panicked("decoding request", key, r)
			err = fmt.Errorf("server: decoder panicked: %v", r)
		}
	}()
	return c.srv.decodeRequest(frame)
}

func (c *conn) handle(req *wire.Request) (p wire.Pending, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			c.panicked("handling request", req.Key, r)
			c.close()
			p, ok = nil, false
		}
	}()
	p = c.srv.h.Handle(c.ctx, req)
	if p == nil {
		c.log.Error("server: handler returned a nil Pending; closing connection", "api", kmsg.NameForKey(req.Key))
		c.close()
		return nil, false
	}
	return p, true
}

// panicked logs a recovered panic with the API it happened in. The caller
// closes the connection; the process goes on serving the others.
func (c *conn) panicked(where string, key int16, r any) {
	c.srv.stats.panics.Add(1)
	c.log.Error("server: recovered panic; closing connection",
		"where", where, "api", kmsg.NameForKey(key), "key", key, "panic", r, "stack", string(debug.Stack()))
}

// resolveLoop calls each Pending in request order. After the connection
// closes it still calls the rest, with the cancelled context, so that
// handlers can unregister their waiters; the writer releases their bodies.
func (c *conn) resolveLoop() {
	defer close(c.ready)
	for cl := range c.calls {
		r := ready{call: cl, resp: c.resolve(cl)}
		if c.srv.obs != nil {
			r.readyAt = time.Now()
		}
		c.ready <- r
	}
}

func (c *conn) resolve(cl call) (resp wire.Response) {
	defer func() {
		if r := recover(); r != nil {
			c.panicked("pending response", cl.key, r)
			c.close()
			resp = wire.Response{}
		}
	}()
	return cl.pending(c.ctx)
}

// writeLoop writes the responses in order, flushing whenever nothing more
// is ready. Once the connection is closed it only releases bodies.
func (c *conn) writeLoop() {
	for r := range c.ready {
		c.writeOne(r)
		c.srv.stats.inFlight.Add(-1)
		<-c.slots
	}
	if c.ctx.Err() == nil {
		if err := c.bw.Flush(); err != nil {
			c.closeFor("write failed", err)
		}
	}
}

func (c *conn) writeOne(r ready) {
	if c.ctx.Err() != nil {
		c.srv.releaseBody(r.resp.Body)
		return
	}
	var writeStart time.Time
	if c.srv.obs != nil {
		writeStart = time.Now()
	}
	msg := r.resp.Msg
	if err := c.writeResponse(r); err != nil {
		c.closeFor("writing response", err)
		return
	}
	c.srv.stats.requests.Add(1)
	if c.srv.obs != nil && !r.received.IsZero() {
		c.observe(r, msg, writeStart)
	}
	switch {
	case r.resp.Close:
		err := c.bw.Flush()
		c.closeFor("handler asked to close", err)
	case len(c.ready) == 0:
		// The next response is not ready, and its Pending may block
		// for long: what is buffered goes out now.
		if err := c.bw.Flush(); err != nil {
			c.closeFor("write failed", err)
		}
	}
}

// observe hands one written request's timings to the Observer. A panic
// in it is the observer's bug, not the client's: it is logged, and the
// connection goes on.
func (c *conn) observe(r ready, msg kmsg.Response, writeStart time.Time) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.stats.panics.Add(1)
			c.log.Error("server: recovered panic in the request observer", "api", kmsg.NameForKey(r.key), "panic", p, "stack", string(debug.Stack()))
		}
	}()
	t := RequestTiming{
		Key: r.key, Version: r.version,
		Received: r.received, Started: r.started, Handled: r.handled, Ready: r.readyAt,
		WriteStart: writeStart, Written: time.Now(),
		Msg: msg, Req: r.req,
	}
	if t.Started.IsZero() { // answered by the server itself (KIP-511)
		t.Started, t.Handled = t.Received, t.Received
	}
	c.srv.obs.RequestDone(&t)
}

// writeResponse encodes one response into the write buffer (or, for file
// regions, to the socket) and releases its body, whatever happens.
func (c *conn) writeResponse(r ready) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.panicked("encoding response", r.key, p)
			err = fmt.Errorf("server: encoding %s response panicked: %v", kmsg.NameForKey(r.key), p)
		}
	}()
	resp := r.resp
	if resp.Body != nil {
		defer c.srv.releaseBody(resp.Body)
	}
	switch {
	case resp.Msg != nil && resp.Body != nil:
		return fmt.Errorf("server: %s handler returned both Msg and Body", kmsg.NameForKey(r.key))
	case resp.Msg != nil:
		return c.writeMsg(r.call, resp.Msg)
	case resp.Body != nil:
		return c.writeBody(r.call, resp.Body)
	}
	return nil // no response is due (Produce with acks=0)
}

func (c *conn) writeMsg(cl call, msg kmsg.Response) error {
	if msg.Key() != cl.key {
		return fmt.Errorf("server: %s request answered with a %s response", kmsg.NameForKey(cl.key), kmsg.NameForKey(msg.Key()))
	}
	msg.SetVersion(cl.version)
	buf := appendResponseHeader(c.scratch[:0], cl.correlationID, cl.flexible)
	buf = msg.AppendTo(buf)
	if cap(buf) <= maxScratch {
		c.scratch = buf[:0]
	} else {
		c.scratch = nil
	}
	if len(buf)-4 > math.MaxInt32 {
		return fmt.Errorf("server: %s response of %d bytes is too large", kmsg.NameForKey(cl.key), len(buf)-4)
	}
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	_, err := c.bw.Write(buf)
	return err
}

func (c *conn) writeBody(cl call, body *wire.Body) error {
	for _, ch := range body.Chunks {
		r := ch.Region
		if r == nil {
			continue
		}
		if r.Off < 0 || r.Len < 0 || r.Len > math.MaxInt32 {
			return fmt.Errorf("server: %s response has a region at %d of length %d", kmsg.NameForKey(cl.key), r.Off, r.Len)
		}
		if r.File == nil && (r.Fd < 0 || c.raw == nil) {
			return fmt.Errorf("server: %s response has a region with no File to read it from", kmsg.NameForKey(cl.key))
		}
	}
	size := responseHeaderLen(cl.flexible) + body.Size()
	if size > math.MaxInt32 {
		return fmt.Errorf("server: %s response of %d bytes is too large", kmsg.NameForKey(cl.key), size)
	}
	hdr := appendResponseHeader(c.scratch[:0], cl.correlationID, cl.flexible)
	binary.BigEndian.PutUint32(hdr, uint32(size))
	if _, err := c.bw.Write(hdr); err != nil {
		return err
	}
	for _, ch := range body.Chunks {
		if ch.Region == nil {
			if _, err := c.bw.Write(ch.Bytes); err != nil {
				return err
			}
			continue
		}
		if err := c.writeRegion(ch.Region); err != nil {
			return err
		}
	}
	return nil
}

// writeRegion writes a file region with sendfile when the connection allows
// it, and by ReadAt and write otherwise. Both read at the region's explicit
// offset: the file's own position is shared by every fetch of the segment,
// which is why TCPConn.ReadFrom(*os.File), which uses and moves it, is
// never used here.
func (c *conn) writeRegion(r *wire.Region) error {
	if r.Len == 0 {
		return nil
	}
	if c.raw != nil && r.Fd >= 0 {
		// The header and bytes before the region must reach the socket
		// first.
		if err := c.bw.Flush(); err != nil {
			return err
		}
		c.armWrite()
		n, err := sendfile(c.raw, r.Fd, r.Off, r.Len)
		c.srv.stats.sendfileBytes.Add(n)
		c.srv.stats.bytesWritten.Add(n)
		if err == nil {
			return nil
		}
		// A file sendfile cannot read (some filesystems) is copied
		// instead, if not a byte of it went out.
		if n > 0 || r.File == nil || !errors.Is(err, errors.ErrUnsupported) {
			return fmt.Errorf("server: sendfile: %w", err)
		}
	}
	return c.copyRegion(r)
}

var copyBufPool = sync.Pool{New: func() any {
	b := make([]byte, 64<<10)
	return &b
}}

func (c *conn) copyRegion(r *wire.Region) error {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	off, rem := r.Off, r.Len
	for rem > 0 {
		p := (*bp)[:min(int64(len(*bp)), rem)]
		n, err := r.File.ReadAt(p, off)
		if n > 0 {
			if _, werr := c.bw.Write(p[:n]); werr != nil {
				return werr
			}
			c.srv.stats.copiedRegionBytes.Add(int64(n))
			off += int64(n)
			rem -= int64(n)
		}
		if n == len(p) {
			continue // a full read, even if err is io.EOF
		}
		if err == nil || err == io.EOF {
			return fmt.Errorf("server: region [%d, %d) runs past the end of its file", r.Off, r.Off+r.Len)
		}
		return fmt.Errorf("server: reading region: %w", err)
	}
	return nil
}

// releaseBody calls b.Release, shielding the connection from its panic.
func (s *Server) releaseBody(b *wire.Body) {
	if b == nil || b.Release == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			s.log.Error("server: recovered panic in Body.Release", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	b.Release()
}
