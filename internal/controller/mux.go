package controller

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The controller listener carries two protocols on one port, as KRaft's
// CONTROLLER listener does: Raft between voters, and Kafka requests from
// brokers (BrokerRegistration, BrokerHeartbeat, forwarded admin requests,
// the metadata fetch). A Raft connection opens with raftMagic; a Kafka
// connection opens with a 4-byte frame length whose first byte is at most
// 0x07 for any request under socket.request.max.bytes' 2 GiB limit, so
// one byte tells them apart.
const raftMagic = 'R'

// Mux splits a listener into the Raft stream layer and a listener of Kafka
// connections.
type Mux struct {
	ln          net.Listener
	advertise   net.Addr
	raft, kafka *muxSide
	done        chan struct{}
	closeOnce   sync.Once
	wg          sync.WaitGroup
}

// muxSide is the listener of one protocol. Closing it ends its Accept
// (a server's Shutdown waits for Serve to return, which it does only when
// Accept fails) while the other side and the shared socket stay open.
type muxSide struct {
	ch        chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newMuxSide() *muxSide {
	return &muxSide{ch: make(chan net.Conn), closed: make(chan struct{})}
}

// NewMux starts accepting on ln. advertise is the address peers dial.
func NewMux(ln net.Listener, advertise net.Addr) *Mux {
	m := &Mux{ln: ln, advertise: advertise, raft: newMuxSide(), kafka: newMuxSide(), done: make(chan struct{})}
	m.wg.Add(1)
	go m.accept()
	return m
}

// handshakeTimeout bounds how long a connection may stay silent before
// its first byte tells which protocol it speaks.
const handshakeTimeout = 10 * time.Second

func (m *Mux) accept() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.route(c)
		}()
	}
}

func (m *Mux) route(c net.Conn) {
	br := bufio.NewReaderSize(c, 64)
	c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	first, err := br.Peek(1)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	side := m.kafka
	var conn net.Conn = &peekedConn{Conn: c, r: br}
	if first[0] == raftMagic {
		br.Discard(1)
		side = m.raft
		if br.Buffered() == 0 {
			conn = c // nothing read ahead: hand over the socket itself
		}
	}
	select {
	case side.ch <- conn:
	case <-side.closed:
		c.Close()
	case <-m.done:
		c.Close()
	}
}

// Close stops accepting and closes the listener.
func (m *Mux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.done)
		err = m.ln.Close()
	})
	m.wg.Wait()
	return err
}

// Kafka is the listener of Kafka-protocol connections.
func (m *Mux) Kafka() net.Listener { return muxListener{m: m, side: m.kafka} }

// Raft is the stream layer for raft.NewNetworkTransport.
func (m *Mux) Raft() raft.StreamLayer { return raftLayer{muxListener{m: m, side: m.raft}} }

type muxListener struct {
	m    *Mux
	side *muxSide
}

func (l muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.side.ch:
		return c, nil
	case <-l.side.closed:
		return nil, net.ErrClosed
	case <-l.m.done:
		return nil, net.ErrClosed
	}
}

// Close ends this side's Accept; the shared socket stays open for the other
// side until Mux.Close.
func (l muxListener) Close() error {
	l.side.closeOnce.Do(func() { close(l.side.closed) })
	return nil
}
func (l muxListener) Addr() net.Addr { return l.m.advertise }

type raftLayer struct{ muxListener }

func (raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte{raftMagic}); err != nil {
		c.Close()
		return nil, err
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}

// peekedConn replays what the protocol sniffing read ahead.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }
