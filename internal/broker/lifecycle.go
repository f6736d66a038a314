package broker

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
)

// lifecycle registers this broker with the active controller and
// heartbeats until ctx ends; then, for a controlled shutdown, it
// heartbeats with want_shut_down until the controller has moved this
// broker's leaderships away (or shutdownWait passes), and returns.
//
// While fenced it heartbeats every fencedInterval so it is unfenced soon
// after it catches up; once unfenced, every heartbeatInterval
// (broker.heartbeat.interval.ms).
func (b *Broker) lifecycle(ctx context.Context, shutdown <-chan struct{}, done chan<- struct{}) {
	defer b.loops.Done()
	defer close(done)
	reg := controller.Registration{
		NodeID: b.cfg.NodeID, ClusterID: b.clusterID(), Incarnation: metadata.NewUUID(),
		Host: b.host, Port: b.port, MaxMetadataVersion: metadata.MaxMetadataVersion,
		HTTP: b.httpEndpoint(), Listeners: b.listenerEndpoints(),
	}
	if b.cfg.Rack != "" {
		rack := b.cfg.Rack
		reg.Rack = &rack
	}
	interval := time.Duration(b.cfg.BrokerHeartbeatIntervalMs) * time.Millisecond
	const fencedInterval = 50 * time.Millisecond
	// Registrations and heartbeats retry until a controller answers; a
	// shutdown ends the one in flight, or a node whose quorum is gone
	// (its peers stopped first) would wait in it forever and never stop.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-shutdown:
			cancel()
		case <-rctx.Done():
		}
	}()
	var epoch int64 = -1
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-shutdown:
			b.controlledShutdown(epoch)
			return
		case <-time.After(wait):
		}
		if epoch < 0 {
			reg.ClusterID = b.clusterID()
			e, err := b.client.register(rctx, reg)
			if err != nil {
				if errors.Is(err, kerr.InconsistentClusterID) {
					b.fatal(err)
					return
				}
				if rctx.Err() == nil {
					b.log.Warn("broker registration failed; retrying", "err", err)
				}
				wait = time.Second
				continue
			}
			epoch = e
			b.pub.ReleaseAt(epoch)
			b.log.Info("registered with the controller", "broker_epoch", epoch)
		}
		rep, err := b.client.heartbeat(rctx, controller.Heartbeat{
			NodeID: b.cfg.NodeID, Epoch: epoch, MetadataOffset: b.pub.Delivered().Offset,
		})
		b.observeMetadata()
		if err == nil {
			b.readiness.heartbeatAnswered(time.Now())
		}
		switch {
		case errors.Is(err, kerr.StaleBrokerEpoch):
			epoch, wait = -1, 0 // fenced and superseded: register again
			continue
		case err != nil:
			if rctx.Err() == nil {
				b.log.Warn("broker heartbeat failed", "err", err)
			}
			wait = min(interval, time.Second)
			continue
		}
		if rep.Fenced != b.fenced.Load() {
			b.log.Info("broker fencing changed", "fenced", rep.Fenced)
		}
		b.fenced.Store(rep.Fenced)
		if rep.Fenced {
			wait = fencedInterval
		} else {
			// Ready once this node acts on an image that has it
			// unfenced. The wait runs beside the heartbeats, never in
			// their way: fenced again before its image showed the
			// unfencing (cut off from the controller just then), the
			// node gets both records at once, and only heartbeats can
			// unfence it again.
			b.readyOnce.Do(func() {
				b.loops.Add(1)
				go func() {
					defer b.loops.Done()
					b.awaitOwnImage(ctx, func(br metadata.Broker) bool { return !br.Fenced })
					if ctx.Err() == nil {
						close(b.ready)
					}
				}()
			})
			wait = interval
		}
	}
}

// controlledShutdown asks the controller to move this broker's
// leaderships away and waits until it says the broker may stop.
func (b *Broker) controlledShutdown(epoch int64) {
	if epoch < 0 {
		return
	}
	start := time.Now()
	b.log.Info("controlled shutdown: asking the controller to move this broker's leaderships away")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	for ctx.Err() == nil {
		rep, err := b.client.heartbeat(ctx, controller.Heartbeat{
			NodeID: b.cfg.NodeID, Epoch: epoch, MetadataOffset: b.pub.Delivered().Offset, WantShutDown: true,
		})
		if err == nil && rep.ShouldShutDown {
			// Stop once this broker's own image says it is fenced (and
			// so leads nothing): no produce is accepted here after its
			// leadership moved.
			b.awaitOwnImage(ctx, func(br metadata.Broker) bool { return br.Fenced })
			if ctx.Err() == nil {
				b.log.Info("controlled shutdown complete", "took", time.Since(start).Round(time.Millisecond))
				return
			}
			break
		}
		if errors.Is(err, kerr.StaleBrokerEpoch) {
			// Superseded: this registration is fenced already.
			b.log.Warn("controlled shutdown: broker epoch is stale; stopping", "broker_epoch", epoch)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	b.log.Warn("controlled shutdown did not finish in time; stopping anyway", "waited", shutdownWait)
}

// shutdownWait bounds a controlled shutdown's wait for the controller.
const shutdownWait = 5 * time.Second

// awaitOwnImage waits until this node's subscribers have acted on an image
// in which this broker's registration satisfies ok, or ctx ends.
func (b *Broker) awaitOwnImage(ctx context.Context, ok func(metadata.Broker) bool) {
	for {
		img := b.pub.Delivered()
		if br, found := img.Brokers[b.cfg.NodeID]; found && ok(br) {
			return
		}
		if b.pub.WaitFor(ctx, img.Offset+1) != nil {
			return
		}
	}
}
