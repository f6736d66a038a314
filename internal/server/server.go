// Package server is samsa's connection layer: it accepts Kafka clients,
// splits their byte streams into request frames, decodes each frame with
// kmsg, hands it to a wire.Handler, and writes the responses back in request
// order, sending file regions with sendfile where it can.
//
// Goroutines and their owners:
//
//	Serve (the caller's goroutine)   accepts; one conn.serve per connection
//	conn.serve (owned by Server.wg)  reads and decodes frames, calls Handle;
//	                                 owns the two below and waits for them
//	conn.resolveLoop                 calls the Pending funcs in order
//	conn.writeLoop                   encodes and writes the responses
//
// Shutdown stops accepting, lets every connection answer the requests it has
// already read, and waits for every conn.serve to return.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

// Defaults for zero Config fields. The first and the last are Kafka's
// socket.request.max.bytes and connections.max.idle.ms.
const (
	DefaultMaxRequestBytes    = 100 << 20
	DefaultMaxInFlightPerConn = 100
	DefaultIdleTimeout        = 10 * time.Minute
)

// Config configures a Server. Zero values take the defaults above.
type Config struct {
	// MaxRequestBytes bounds the size of one request frame
	// (socket.request.max.bytes). A larger size prefix closes the
	// connection before anything is allocated for it.
	MaxRequestBytes int32
	// Versions is the inclusive version range served per API key. A request
	// for a key not listed, or at a version outside its range, closes the
	// connection, as Kafka does; the one exception is ApiVersions above
	// its range, which gets the KIP-511 answer (see decodeRequest).
	// Every range must be decodable by kmsg; New panics otherwise.
	Versions map[int16]wire.VersionRange
	// MaxInFlightPerConn bounds the requests read from one connection
	// whose responses have not been written yet. At the bound the
	// connection's reader stops reading, so TCP pushes back on the client.
	MaxInFlightPerConn int
	// IdleTimeout closes a connection that has sent nothing for this long
	// while none of its requests is outstanding (connections.max.idle.ms).
	// It also bounds how long one response may take to write.
	IdleTimeout time.Duration
	// FailedAuthDelay holds the answer to a failed SASL authentication,
	// and the close that follows it, this long
	// (connection.failed.authentication.delay.ms).
	FailedAuthDelay time.Duration
	// Logger receives connection-level events; nil discards them.
	Logger *slog.Logger
	// Observer, when set, is told each answered request's timings (see
	// Observer); nil times nothing, and costs nothing.
	Observer Observer
}

// Stats is a snapshot of a Server's counters.
type Stats struct {
	ConnectionsOpen     int64 // connections being served now
	ConnectionsAccepted int64 // connections accepted since New
	RequestsServed      int64 // requests answered (or needing no answer)
	ProtocolErrors      int64 // connections closed for malformed or unsupported input
	Panics              int64 // panics recovered from the handler or its Pending funcs
	BytesRead           int64 // bytes read from sockets
	BytesWritten        int64 // bytes written to sockets, sendfile included
	SendfileBytes       int64 // file-region bytes written with sendfile
	CopiedRegionBytes   int64 // file-region bytes written by ReadAt and write
	RequestsInFlight    int64 // requests read whose responses are not written yet
	// AuthSucceeded and AuthFailed count SASL authentications that
	// completed and that failed (a refused mechanism among them), as
	// Kafka's successful- and failed-authentication-total.
	AuthSucceeded int64
	AuthFailed    int64
}

type counters struct {
	connsOpen, connsAccepted, requests, protocolErrors, panics atomic.Int64
	bytesRead, bytesWritten, sendfileBytes, copiedRegionBytes  atomic.Int64
	inFlight                                                   atomic.Int64
	authSucceeded, authFailed                                  atomic.Int64
}

// Server serves the Kafka protocol on any number of listeners.
type Server struct {
	h           wire.Handler
	log         *slog.Logger
	versions    map[int16]wire.VersionRange
	apiKeys     []kmsg.ApiVersionsResponseApiKey // versions, sorted by key, for KIP-511
	maxRequest  int32
	maxInFlight int
	idle        time.Duration
	authDelay   time.Duration // FailedAuthDelay
	obs         Observer      // nil: requests are not timed

	// base parents every connection's context; Shutdown cancels it when
	// its own context expires.
	base       context.Context
	cancelBase context.CancelFunc

	mu        sync.Mutex // guards the fields below
	closing   bool
	quit      chan struct{} // closed when closing becomes true
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // one count per conn.serve; Add only under mu while !closing

	stats counters
}

// New returns a Server that passes requests to h. It panics if h is nil or
// if cfg.Versions names a key or version kmsg cannot decode: both are
// programming errors that no client input can cause.
func New(cfg Config, h wire.Handler) *Server {
	if h == nil {
		panic("server: nil handler")
	}
	s := &Server{
		h:           h,
		log:         cfg.Logger,
		versions:    make(map[int16]wire.VersionRange, len(cfg.Versions)),
		maxRequest:  cfg.MaxRequestBytes,
		maxInFlight: cfg.MaxInFlightPerConn,
		idle:        cfg.IdleTimeout,
		authDelay:   cfg.FailedAuthDelay,
		obs:         cfg.Observer,
		quit:        make(chan struct{}),
		listeners:   make(map[net.Listener]struct{}),
		conns:       make(map[*conn]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxRequest <= 0 {
		s.maxRequest = DefaultMaxRequestBytes
	}
	if s.maxInFlight <= 0 {
		s.maxInFlight = DefaultMaxInFlightPerConn
	}
	if s.idle <= 0 {
		s.idle = DefaultIdleTimeout
	}
	for key, vr := range cfg.Versions {
		req := kmsg.RequestForKey(key)
		if req == nil || vr.Min < 0 || vr.Min > vr.Max || vr.Max > req.MaxVersion() {
			panic(fmt.Sprintf("server: Versions[%d] = %d-%d is not a range kmsg can decode", key, vr.Min, vr.Max))
		}
		s.versions[key] = vr
		s.apiKeys = append(s.apiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: key, MinVersion: vr.Min, MaxVersion: vr.Max})
	}
	sort.Slice(s.apiKeys, func(i, j int) bool { return s.apiKeys[i].ApiKey < s.apiKeys[j].ApiKey })
	s.base, s.cancelBase = context.WithCancel(context.Background())
	return s
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		ConnectionsOpen:     c.connsOpen.Load(),
		ConnectionsAccepted: c.connsAccepted.Load(),
		RequestsServed:      c.requests.Load(),
		ProtocolErrors:      c.protocolErrors.Load(),
		Panics:              c.panics.Load(),
		BytesRead:           c.bytesRead.Load(),
		BytesWritten:        c.bytesWritten.Load(),
		SendfileBytes:       c.sendfileBytes.Load(),
		CopiedRegionBytes:   c.copiedRegionBytes.Load(),
		RequestsInFlight:    c.inFlight.Load(),
		AuthSucceeded:       c.authSucceeded.Load(),
		AuthFailed:          c.authFailed.Load(),
	}
}

// Serve accepts connections on ln until Shutdown, then returns nil. It
// closes ln when it returns. Any other accept error that is not temporary is
// returned. Serve may be called for several listeners at once.
func (s *Server) Serve(ln net.Listener) error { return s.ServeListener(ln, "") }

// ServeListener is Serve for the listener named name (listeners=NAME://...):
// each request's ConnInfo carries the name, so the handler answers with the
// endpoints of that listener, as Kafka does.
func (s *Server) ServeListener(ln net.Listener, name string) error { return s.serve(ln, name, nil) }

// serve accepts connections for the listener named name, authenticating
// them with a when it is not nil.
func (s *Server) serve(ln net.Listener, name string, a Authenticator) error {
	if !s.trackListener(ln) {
		ln.Close()
		return nil
	}
	defer s.untrackListener(ln)

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return nil
			}
			if !isTemporary(err) {
				return fmt.Errorf("server: accept on %s: %w", ln.Addr(), err)
			}
			// Out of file descriptors or the like: back off rather
			// than spin, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("server: accept failed; retrying", "addr", ln.Addr().String(), "err", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.quit:
				t.Stop()
				return nil
			}
			continue
		}
		backoff = 0
		if !s.startConn(nc, name, a) {
			return nil
		}
	}
}

func isTemporary(err error) bool {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	// syscall.Errno reports EMFILE, ENFILE, ECONNABORTED and friends as
	// temporary. net.Error's own Temporary is deprecated, hence the
	// anonymous interface.
	te, ok := errors.AsType[interface {
		error
		Temporary() bool
	}](err)
	return ok && te.Temporary()
}

// startConn registers nc and starts serving it, or closes it and reports
// false when the server is shutting down.
func (s *Server) startConn(nc net.Conn, listener string, a Authenticator) bool {
	c := newConn(s, nc, listener)
	if a != nil {
		c.sasl = &saslConn{auth: a}
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.close()
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()

	s.stats.connsAccepted.Add(1)
	s.stats.connsOpen.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.stats.connsOpen.Add(-1)
		defer s.untrackConn(c)
		c.serve()
	}()
	return true
}

func (s *Server) untrackConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) trackListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) untrackListener(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
	ln.Close()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting, stops every connection from reading further
// requests, and waits until each has written the responses to the requests
// it had read and closed. If ctx expires first, Shutdown cancels the
// contexts of all handlers and Pending funcs, closes every connection, waits
// for the connection goroutines to return (they return as soon as the
// handler calls in progress honour their cancelled context), and returns
// ctx's error. After Shutdown returns the server calls nothing more on the
// handler and holds no Body. Shutdown may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.quit)
		for ln := range s.listeners {
			ln.Close()
		}
	}
	conns := s.snapshotConnsLocked()
	s.mu.Unlock()

	for _, c := range conns {
		c.drain()
	}

	done := make(chan struct{})
	go func() { // owned by this call: it returns once every conn.serve has
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancelBase()
		return nil
	case <-ctx.Done():
	}

	s.cancelBase()
	s.mu.Lock()
	conns = s.snapshotConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.closeFor("server shutting down", errShutdown)
	}
	<-done
	return fmt.Errorf("server: shutdown: %w", ctx.Err())
}

func (s *Server) snapshotConnsLocked() []*conn {
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

var errShutdown = errors.New("server: shutting down")
