package controller

import (
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// A new controller's inherited session can be dated earlier for a broker
// not heard from in its term, and only earlier; a heartbeat in its term
// makes the session its own.
func TestSessionsShorten(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newSessions()
	s.reset(&metadata.Image{Brokers: map[int32]metadata.Broker{1: {NodeID: 1}, 2: {NodeID: 2}, 3: {NodeID: 3, Fenced: true}}}, now.Add(9*time.Second))

	s.shorten(1, now.Add(4*time.Second))
	s.shorten(2, now.Add(20*time.Second)) // later: kept
	s.shorten(3, now.Add(time.Second))    // fenced: no session
	if got := s.expired(now.Add(4 * time.Second)); len(got) != 1 || got[0] != 1 {
		t.Fatalf("expired at +4s = %v, want [1]", got)
	}
	if got := s.expired(now.Add(9 * time.Second)); len(got) != 2 {
		t.Fatalf("expired at +9s = %v, want [1 2]", got)
	}

	s.touch(1, now.Add(15*time.Second))
	s.shorten(1, now.Add(5*time.Second)) // heard from: its own deadline stands
	if !s.alive(1, now.Add(14*time.Second)) {
		t.Fatal("broker 1's heartbeat deadline was shortened")
	}
}
