package broker

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/metrics"
	"github.com/samsa-kafka/samsa/internal/server"
)

// lagSampleInterval is how often the group coordinator's lag snapshot is
// refreshed in the background (scrapes refresh it too, at most every
// group.LagMinInterval).
const lagSampleInterval = 10 * time.Second

// nodeMetrics is a node's registry and the hooks the request path feeds.
// It exists only when the HTTP listener is configured: with
// samsa.http.listen empty nothing is timed or observed, so the metrics
// cost nothing.
type nodeMetrics struct {
	reg      *prometheus.Registry
	requests *metrics.Requests
	onFlush  func(time.Duration)
}

// initMetrics creates the registry and the request hooks before the
// listener and the replicas are built, when the HTTP listener is on.
func (b *Broker) initMetrics(cfg *config.Broker) {
	if cfg.HTTPListen == "" || b.metrics != nil {
		return
	}
	reg := metrics.NewRegistry()
	b.metrics = &nodeMetrics{reg: reg, requests: metrics.NewRequests(reg), onFlush: metrics.FlushObserver(reg)}
}

// requestObserver is the Kafka listener's server.Observer, or nil.
func (b *Broker) requestObserver() server.Observer {
	if b.metrics == nil {
		return nil // a nil interface, not a nil *Requests
	}
	return b.metrics.requests
}

// flushHook is log.Options.OnFlush, or nil.
func (b *Broker) flushHook() func(time.Duration) {
	if b.metrics == nil {
		return nil
	}
	return b.metrics.onFlush
}

// errorHook is api.Deps.CountError, or nil.
func (b *Broker) errorHook() func(key, code int16) {
	if b.metrics == nil {
		return nil
	}
	return b.metrics.requests.CountError
}

// mountMetrics serves /metrics on mux: the node's registry with the
// collector of whatever this node runs (replicas and groups on a broker,
// the quorum member on a controller).
func (b *Broker) mountMetrics(mux *http.ServeMux) {
	b.initMetrics(b.cfg)
	if b.metrics == nil {
		return
	}
	src := metrics.Source{PartitionSeries: b.cfg.PartitionSeries, Image: b.pub.Delivered}
	if b.ctl != nil {
		src.Controller = b.ctl
	}
	if b.srv != nil {
		src.Server = b.srv.Stats
	}
	if b.api != nil {
		src.Parked = b.api.Parked
	}
	if b.replicas != nil {
		src.Partitions = b.replicas.Each
		src.ISRChanges = b.replicas.ISRChanges
	}
	if b.groups != nil {
		if b.peers != nil {
			b.groups.SetRemoteLag(b.remoteLag)
		}
		src.Lag = b.groups.LagSnapshot
		ctx, cancel := context.WithCancel(context.Background())
		b.loops.Add(1)
		go func() {
			defer b.loops.Done()
			<-b.stop
			cancel()
		}()
		b.loops.Add(1)
		go func() {
			defer b.loops.Done()
			b.groups.RunLagSampler(ctx, lagSampleInterval)
		}()
	}
	b.metrics.reg.MustRegister(metrics.NewCollector(src))
	mux.Handle("GET /metrics", metrics.Handler(b.metrics.reg))
}

// remoteLag is the group coordinator's group.RemoteLag: it asks the
// partition's leader, as a consumer would, for the high watermark
// (ListOffsets latest) and, when the group lags, for the first batch at
// the committed offset (a Fetch of one partition that waits for nothing
// and asks for one byte, which still returns that one whole batch,
// KIP-74), whose header holds the timestamp.
func (b *Broker) remoteLag(ctx context.Context, topic string, partition int32, offset int64) (end, timestamp int64, err error) {
	img := b.pub.Delivered()
	t := img.Topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return -1, -1, kerr.UnknownTopicOrPartition
	}
	leader := t.Partitions[partition].Leader
	if leader < 0 {
		return -1, -1, kerr.LeaderNotAvailable
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = partition, -1, -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	resp, err := b.peers.Request(ctx, leader, lo)
	if err != nil {
		return -1, -1, err
	}
	lr := resp.(*kmsg.ListOffsetsResponse)
	if len(lr.Topics) != 1 || len(lr.Topics[0].Partitions) != 1 {
		return -1, -1, fmt.Errorf("broker: ListOffsets of %s-%d from node %d: no answer for the partition", topic, partition, leader)
	}
	pr := lr.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
		return -1, -1, err
	}
	end = pr.Offset
	if offset >= end {
		return end, -1, nil
	}
	f := kmsg.NewPtrFetchRequest()
	f.ReplicaID, f.ReplicaState.ID, f.ReplicaState.Epoch = -1, -1, -1
	f.MaxWaitMillis, f.MinBytes, f.MaxBytes = 0, 0, 1
	f.SessionID, f.SessionEpoch = 0, -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = topic, t.ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = partition, offset, 1
	fp.CurrentLeaderEpoch, fp.LastFetchedEpoch, fp.LogStartOffset = -1, -1, -1
	ft.Partitions = append(ft.Partitions, fp)
	f.Topics = append(f.Topics, ft)
	resp, err = b.peers.Request(ctx, leader, f)
	if err != nil {
		return end, -1, nil // the end is known; the time lag is not
	}
	fr := resp.(*kmsg.FetchResponse)
	for _, rt := range fr.Topics {
		for _, rp := range rt.Partitions {
			if rp.Partition == partition && rp.ErrorCode == 0 {
				return end, group.BatchTimestamp(rp.RecordBatches), nil
			}
		}
	}
	return end, -1, nil
}
