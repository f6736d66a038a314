package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/api"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
)

// ctlClient reaches the active controller: the local one when this node
// is it, else the voters over their controller listener, trying each in
// turn until one answers as the active controller. It implements
// api.ControllerClient.
type ctlClient struct {
	local  *controller.Controller // nil on a broker-only node
	voters []controller.Voter
	node   int32
	log    *slog.Logger
	epoch  atomic.Int64 // this broker's epoch, for AllocateProducerIds
	// try bounds one request to one voter, beyond the request's own wait
	// (a long poll, an admin timeout); see tryTimeout.
	try time.Duration

	mu    sync.Mutex
	cl    *kgo.Client
	seeds []*kgo.Broker
	next  int // the voter to try first: the one that answered last
	// localIndex is this node's place among voters (a combined node), or
	// 0 when it is none.
	localIndex int
	activeID   atomic.Int32 // -1: unknown
}

func newCtlClient(local *controller.Controller, voters []controller.Voter, node int32, sessionTimeout time.Duration, log *slog.Logger) *ctlClient {
	c := &ctlClient{local: local, voters: voters, node: node, try: tryTimeout(sessionTimeout), log: log}
	for i, v := range voters {
		if v.ID == node {
			c.localIndex = i
		}
	}
	c.activeID.Store(-1)
	c.epoch.Store(-1)
	return c
}

// brokerEpoch is this broker's epoch, -1 until it registered.
func (c *ctlClient) brokerEpoch() int64 { return c.epoch.Load() }

func (c *ctlClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl != nil {
		c.cl.Close()
	}
}

// tryTimeout is how long one voter may take to answer. A voter that
// accepts connections but does not answer (a paused process, a stalled
// machine) holds each request sent to it this long before Forward moves to
// the next voter. It must leave a heartbeat time to reach the new active
// controller within the session timeout, which the new controller restarts
// for every broker when it takes over: a third of it, or every broker is
// fenced while its heartbeat waits on the old controller.
func tryTimeout(sessionTimeout time.Duration) time.Duration {
	return min(max(sessionTimeout/3, 500*time.Millisecond), 5*time.Second)
}

// localActive is the local controller when it is the active one.
func (c *ctlClient) localActive() *controller.Controller {
	if c.local != nil && c.local.Active() {
		c.activeID.Store(c.node)
		return c.local
	}
	return nil
}

// ActiveID implements api.ControllerClient.
func (c *ctlClient) ActiveID() int32 {
	if c.localActive() != nil {
		return c.node
	}
	return c.activeID.Load()
}

func (c *ctlClient) brokers() ([]*kgo.Broker, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl == nil {
		addrs := make([]string, len(c.voters))
		for i, v := range c.voters {
			addrs[i] = v.Addr
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DialTimeout(c.try),
			kgo.ClientID("samsa-broker"), kgo.RequestTimeoutOverhead(c.try))
		if err != nil {
			return nil, err
		}
		c.cl, c.seeds = cl, cl.SeedBrokers()
	}
	return c.seeds, nil
}

// Forward implements api.ControllerClient: it sends req to the voters in
// turn, from the one that answered last, until the active controller
// answers or ctx ends.
func (c *ctlClient) Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if len(c.voters) == 0 {
		return nil, fmt.Errorf("broker: no remote controllers to forward to: %w", kerr.NotController)
	}
	seeds, err := c.brokers()
	if err != nil {
		return nil, err
	}
	backoff := 50 * time.Millisecond
	var last error
	began, logged := time.Now(), time.Now()
	for {
		// A controller that stays unreachable is worth a line every few
		// seconds: the caller may retry for as long as its context lasts.
		if time.Since(logged) > 5*time.Second {
			logged = time.Now()
			c.log.Warn("no active controller answered yet", "api_key", req.Key(), "waited", time.Since(began).Round(time.Millisecond), "err", last)
		}
		c.mu.Lock()
		start := c.next
		c.mu.Unlock()
		if c.localActive() != nil {
			// The local controller's own listener answers at once,
			// whichever voter answered last.
			start = c.localIndex
		}
		for k := range seeds {
			i := (start + k) % len(seeds)
			resp, err := seeds[i].Request(ctx, shallowCopy(req))
			if err == nil && !api.NotController(resp) {
				c.mu.Lock()
				c.next = i
				c.mu.Unlock()
				c.activeID.Store(c.voters[i].ID)
				return resp, nil
			}
			if err != nil {
				last = err
			} else {
				last = kerr.NotController
			}
			// The next request starts after a voter that failed, so a
			// paused old controller costs one try, not one per request.
			c.mu.Lock()
			if c.next == i {
				c.next = (i + 1) % len(seeds)
			}
			c.mu.Unlock()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("broker: no active controller answered: %w", errors.Join(ctx.Err(), last))
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("broker: no active controller answered: %w", errors.Join(ctx.Err(), last))
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// shallowCopy is a copy of req's top-level fields: a kgo client sets the
// version of the request it sends, possibly after Forward gave up on it
// (a try timed out, the caller's context ended), while the caller and the
// next try still read it.
func shallowCopy(req kmsg.Request) kmsg.Request {
	v := reflect.ValueOf(req).Elem()
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	return c.Interface().(kmsg.Request)
}

// call runs local on the local active controller, or forwards, until
// one of them answers or ctx ends (a one-node quorum is briefly without an
// active controller at start).
func (c *ctlClient) call(ctx context.Context, local func(*controller.Controller) error, remote func() error) error {
	backoff := 20 * time.Millisecond
	for {
		if ctl := c.localActive(); ctl != nil {
			err := local(ctl)
			if !errors.Is(err, kerr.NotController) {
				return err
			}
		} else if len(c.voters) > 0 {
			return remote()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker: no active controller: %w", ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

// CreateTopics implements api.ControllerClient.
func (c *ctlClient) CreateTopics(ctx context.Context, specs []controller.TopicSpec, validateOnly bool) ([]controller.Created, []error) {
	var out []controller.Created
	var errs []error
	err := c.call(ctx, func(ctl *controller.Controller) error {
		out, errs = ctl.CreateTopics(ctx, specs, validateOnly)
		for _, e := range errs {
			if errors.Is(e, kerr.NotController) {
				return e
			}
		}
		return nil
	}, func() error {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.ValidateOnly = validateOnly
		req.TimeoutMillis = 30000
		for _, s := range specs {
			t := kmsg.NewCreateTopicsRequestTopic()
			t.Topic, t.NumPartitions, t.ReplicationFactor = s.Name, s.NumPartitions, s.ReplicationFactor
			for k, v := range s.Configs {
				cf := kmsg.NewCreateTopicsRequestTopicConfig()
				cf.Name, cf.Value = k, kmsg.StringPtr(v)
				t.Configs = append(t.Configs, cf)
			}
			req.Topics = append(req.Topics, t)
		}
		resp, err := c.Forward(ctx, req)
		if err != nil {
			return err
		}
		r := resp.(*kmsg.CreateTopicsResponse)
		byName := map[string]kmsg.CreateTopicsResponseTopic{}
		for _, t := range r.Topics {
			byName[t.Topic] = t
		}
		out, errs = make([]controller.Created, len(specs)), make([]error, len(specs))
		for i, s := range specs {
			t, ok := byName[s.Name]
			switch {
			case !ok:
				errs[i] = kerr.UnknownServerError
			case t.ErrorCode != 0:
				msg := kerr.ErrorForCode(t.ErrorCode).Error()
				if t.ErrorMessage != nil {
					msg = *t.ErrorMessage
				}
				errs[i] = &controller.Error{Code: kerr.ErrorForCode(t.ErrorCode).(*kerr.Error), Message: msg}
			default:
				out[i] = controller.Created{ID: metadata.UUID(t.TopicID), NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor}
			}
		}
		return nil
	})
	if err != nil {
		out, errs = make([]controller.Created, len(specs)), make([]error, len(specs))
		for i := range errs {
			errs[i] = &controller.Error{Code: kerr.RequestTimedOut, Message: err.Error()}
		}
	}
	return out, errs
}

// AllocateProducerIDs implements api.ControllerClient.
func (c *ctlClient) AllocateProducerIDs(ctx context.Context, node int32, size int64) (int64, error) {
	var first int64
	err := c.call(ctx, func(ctl *controller.Controller) error {
		var err error
		first, err = ctl.AllocateProducerIDs(ctx, node, size)
		return err
	}, func() error {
		req := kmsg.NewPtrAllocateProducerIDsRequest()
		req.BrokerID, req.BrokerEpoch = node, c.epoch.Load()
		resp, err := c.Forward(ctx, req)
		if err != nil {
			return err
		}
		r := resp.(*kmsg.AllocateProducerIDsResponse)
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return err
		}
		if int64(r.ProducerIDLen) != size {
			return fmt.Errorf("broker: controller allocated %d producer ids, want %d", r.ProducerIDLen, size)
		}
		first = r.ProducerIDStart
		return nil
	})
	return first, err
}

// register registers this broker incarnation and returns its epoch.
func (c *ctlClient) register(ctx context.Context, r controller.Registration) (int64, error) {
	var epoch int64
	err := c.call(ctx, func(ctl *controller.Controller) error {
		var err error
		epoch, err = ctl.RegisterBroker(ctx, r)
		return err
	}, func() error {
		req := kmsg.NewPtrBrokerRegistrationRequest()
		req.BrokerID, req.ClusterID, req.IncarnationID, req.Rack = r.NodeID, r.ClusterID, r.Incarnation, r.Rack
		// The inter-broker listener first (r.Listeners starts with it).
		for _, e := range r.Listeners {
			l := kmsg.NewBrokerRegistrationRequestListener()
			l.Name, l.Host, l.Port, l.SecurityProtocol = e.Name, e.Host, uint16(e.Port), 0 // PLAINTEXT
			req.Listeners = append(req.Listeners, l)
		}
		if len(r.Listeners) == 0 {
			l := kmsg.NewBrokerRegistrationRequestListener()
			l.Name, l.Host, l.Port, l.SecurityProtocol = "PLAINTEXT", r.Host, uint16(r.Port), 0
			req.Listeners = append(req.Listeners, l)
		}
		if r.HTTP != "" {
			// The HTTP listener travels as a listener of our own name:
			// the controller keeps it for the consoles and never
			// advertises it to Kafka clients.
			if host, port, err := splitHostPort(r.HTTP); err == nil {
				l := kmsg.NewBrokerRegistrationRequestListener()
				l.Name, l.Host, l.Port, l.SecurityProtocol = api.HTTPListenerName, host, port, 0
				req.Listeners = append(req.Listeners, l)
			}
		}
		f := kmsg.NewBrokerRegistrationRequestFeature()
		f.Name, f.MinSupportedVersion, f.MaxSupportedVersion = metadata.MetadataVersionFeature, metadata.MinMetadataVersion, r.MaxMetadataVersion
		req.Features = append(req.Features, f)
		resp, err := c.Forward(ctx, req)
		if err != nil {
			return err
		}
		rr := resp.(*kmsg.BrokerRegistrationResponse)
		if err := kerr.ErrorForCode(rr.ErrorCode); err != nil {
			return err
		}
		epoch = rr.BrokerEpoch
		return nil
	})
	if err == nil {
		c.epoch.Store(epoch)
	}
	return epoch, err
}

// heartbeat sends one heartbeat.
func (c *ctlClient) heartbeat(ctx context.Context, h controller.Heartbeat) (controller.HeartbeatReply, error) {
	var rep controller.HeartbeatReply
	err := c.call(ctx, func(ctl *controller.Controller) error {
		var err error
		rep, err = ctl.BrokerHeartbeat(ctx, h)
		return err
	}, func() error {
		req := kmsg.NewPtrBrokerHeartbeatRequest()
		req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset = h.NodeID, h.Epoch, h.MetadataOffset
		req.WantFence, req.WantShutdown = h.WantFence, h.WantShutDown
		resp, err := c.Forward(ctx, req)
		if err != nil {
			return err
		}
		r := resp.(*kmsg.BrokerHeartbeatResponse)
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return err
		}
		rep = controller.HeartbeatReply{CaughtUp: r.IsCaughtUp, Fenced: r.IsFenced, ShouldShutDown: r.ShouldShutdown}
		return nil
	})
	return rep, err
}

// followMetadata keeps pub in step with the active controller's committed
// log on a broker-only node: a long-polling fetch of __cluster_metadata
// from the offset after its image, applying entries in order, or
// replacing the image with a snapshot when it is too far behind.
func (b *Broker) followMetadata(ctx context.Context) {
	defer b.loops.Done()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		img := b.pub.Image()
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 500
		req.MaxBytes = 16 << 20
		rt := kmsg.NewFetchRequestTopic()
		// The name serves Fetch up to v12, the id from v13 (the version
		// the client negotiates with the controller decides which is sent).
		rt.Topic, rt.TopicID = api.MetadataTopic, api.MetadataTopicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes = img.Offset+1, 8<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		next, err := b.fetchMetadataOnce(ctx, img, req)
		if err != nil {
			if errors.Is(err, metadata.ErrUnknownRecord) {
				b.fatal(err)
				return
			}
			if ctx.Err() == nil {
				b.log.Warn("metadata fetch failed", "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		if next != img {
			b.pub.Publish(next)
		}
	}
}

func (b *Broker) fetchMetadataOnce(ctx context.Context, img *metadata.Image, req *kmsg.FetchRequest) (*metadata.Image, error) {
	resp, err := b.client.Forward(ctx, req)
	if err != nil {
		return img, err
	}
	r := resp.(*kmsg.FetchResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		return img, fmt.Errorf("broker: metadata fetch: malformed answer (error %d)", r.ErrorCode)
	}
	p := r.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return img, err
	}
	b.metaCommitted.Store(p.HighWatermark)
	return applyMetadataChunks(img, p.RecordBatches)
}

// applyMetadataChunks applies a metadata fetch's chunks to img.
func applyMetadataChunks(img *metadata.Image, records []byte) (*metadata.Image, error) {
	chunks, err := api.DecodeMetadataChunks(records)
	if err != nil {
		return img, err
	}
	for _, ch := range chunks {
		if ch.Offset <= img.Offset {
			continue // already applied (a retried fetch)
		}
		switch ch.Kind {
		case api.ChunkSnapshot:
			next, err := metadata.DecodeSnapshot(ch.Data, img.ControllerID)
			if err != nil {
				return img, err
			}
			if next.Offset != ch.Offset {
				return img, fmt.Errorf("broker: metadata snapshot at %d says %d", ch.Offset, next.Offset)
			}
			img = next
		case api.ChunkEntry:
			var recs []metadata.Record
			if len(ch.Data) > 0 {
				if recs, err = metadata.DecodeEntry(ch.Data); err != nil {
					return img, err
				}
			}
			next, err := img.ApplyEntry(ch.Offset, recs)
			if err != nil {
				// The controller applied it; a broker that cannot has
				// diverged, which only a bug causes. Refetching would
				// meet it again: stop with the reason.
				return img, fmt.Errorf("%w: entry %d: %v", metadata.ErrUnknownRecord, ch.Offset, err)
			}
			img = next
		}
	}
	return img, nil
}

// AlterPartition asks the active controller to change one partition's ISR
// as its leader (replication.Config.AlterPartition). The answer's error
// is the partition's; err is a failure to reach a controller (NOT_CONTROLLER
// and the like), after which the change stays pending.
func (c *ctlClient) AlterPartition(ctx context.Context, r controller.PartitionISRRequest) (controller.PartitionISRResult, error) {
	var res controller.PartitionISRResult
	err := c.call(ctx, func(ctl *controller.Controller) error {
		out, err := ctl.AlterPartition(ctx, c.node, c.epoch.Load(), []controller.PartitionISRRequest{r})
		if err != nil {
			return err
		}
		res = out[0]
		return nil
	}, func() error {
		req := kmsg.NewPtrAlterPartitionRequest()
		req.BrokerID, req.BrokerEpoch = c.node, c.epoch.Load()
		t := kmsg.NewAlterPartitionRequestTopic()
		t.Topic, t.TopicID = r.Topic, r.TopicID
		p := kmsg.NewAlterPartitionRequestTopicPartition()
		p.Partition, p.LeaderEpoch, p.PartitionEpoch, p.NewISR = r.Partition, r.LeaderEpoch, r.PartitionEpoch, r.NewISR
		for i, id := range r.NewISR {
			m := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
			m.BrokerID, m.BrokerEpoch = id, -1
			if i < len(r.NewISREpochs) {
				m.BrokerEpoch = r.NewISREpochs[i]
			}
			p.NewEpochISR = append(p.NewEpochISR, m)
		}
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		resp, err := c.Forward(ctx, req)
		if err != nil {
			return err
		}
		ar := resp.(*kmsg.AlterPartitionResponse)
		if err := kerr.ErrorForCode(ar.ErrorCode); err != nil {
			return err
		}
		for _, rt := range ar.Topics {
			for _, rp := range rt.Partitions {
				res = controller.PartitionISRResult{Err: kerr.ErrorForCode(rp.ErrorCode), Leader: rp.LeaderID,
					LeaderEpoch: rp.LeaderEpoch, ISR: rp.ISR, PartitionEpoch: rp.PartitionEpoch}
				return nil
			}
		}
		return kerr.UnknownServerError
	})
	return res, err
}
