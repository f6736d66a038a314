package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

type recordingObserver struct {
	mu   sync.Mutex
	seen []RequestTiming
}

func (o *recordingObserver) RequestDone(t *RequestTiming) {
	o.mu.Lock()
	o.seen = append(o.seen, *t)
	o.mu.Unlock()
}

func (o *recordingObserver) timings() []RequestTiming {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]RequestTiming(nil), o.seen...)
}

// The observer sees every answered request once, with its stages in order,
// and the in-flight gauge counts a request from its read to its write.
func TestObserverTimesEachStage(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	parked := make(chan struct{})
	h := handlerFunc(func(_ context.Context, req *wire.Request) wire.Pending {
		if req.CorrelationID == 2 {
			return func(ctx context.Context) wire.Response {
				close(parked)
				select {
				case <-release:
				case <-ctx.Done():
				}
				return wire.Response{Msg: metadataResponse("", req.CorrelationID)}
			}
		}
		return wire.Now(wire.Response{Msg: metadataResponse("", req.CorrelationID)})
	})
	obs := &recordingObserver{}
	ts := startServer(t, Config{Observer: obs}, h)
	c := dial(t, ts.addr)
	c.send(kmsg.NewPtrMetadataRequest(), 4, 1)
	var m kmsg.MetadataResponse
	c.readResponse(&m, 4, 1, false)
	c.send(kmsg.NewPtrMetadataRequest(), 4, 2)
	<-parked
	if got := ts.Stats().RequestsInFlight; got != 1 {
		t.Fatalf("RequestsInFlight = %d while a request is parked, want 1", got)
	}
	close(release)
	c.readResponse(&m, 4, 2, false)
	c.send(kmsg.NewPtrApiVersionsRequest(), 5, 3) // KIP-511: answered by the server itself
	var av kmsg.ApiVersionsResponse
	c.readResponse(&av, 0, 3, false)

	waitFor(t, "three observed requests", func() bool { return len(obs.timings()) == 3 })
	waitFor(t, "no request in flight", func() bool { return ts.Stats().RequestsInFlight == 0 })
	for i, tm := range obs.timings() {
		wantKey := int16(3)
		if i == 2 {
			wantKey = apiVersionsKey
		}
		if tm.Key != wantKey {
			t.Errorf("request %d: key %d, want %d", i, tm.Key, wantKey)
		}
		// Monotonic readings: Before compares them, not the wall clock.
		stages := []struct {
			name string
			at   time.Time
		}{
			{"Received", tm.Received}, {"Started", tm.Started}, {"Handled", tm.Handled},
			{"Ready", tm.Ready}, {"WriteStart", tm.WriteStart}, {"Written", tm.Written},
		}
		for j, s := range stages {
			if s.at.IsZero() {
				t.Errorf("request %d: %s not set", i, s.name)
			}
			if j > 0 && s.at.Before(stages[j-1].at) {
				t.Errorf("request %d: %s before %s", i, s.name, stages[j-1].name)
			}
		}
		if wantReq := i < 2; (tm.Req != nil) != wantReq || wantReq && tm.Req.Key() != wantKey {
			t.Errorf("request %d: Req %T", i, tm.Req)
		}
		if tm.Msg == nil || tm.Msg.Key() != wantKey {
			t.Errorf("request %d: Msg %T, want the response of key %d", i, tm.Msg, wantKey)
		}
	}
}
