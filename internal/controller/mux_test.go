package controller

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestMuxSideClose: closing one side of the controller listener ends that
// side's Accept (a server's Shutdown waits for it) while the other side
// still receives its connections.
func TestMuxSideClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMux(ln, ln.Addr())
	defer m.Close()

	kafka := m.Kafka()
	accepted := make(chan error, 1)
	go func() {
		_, err := kafka.Accept()
		accepted <- err
	}()
	if err := kafka.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still blocked after the Kafka side was closed")
	}

	r := m.Raft()
	c, err := r.Dial(raft.ServerAddress(ln.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := r.Accept()
	if err != nil {
		t.Fatalf("raft side: %v", err)
	}
	rc.Close()
}
