package metrics

import (
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/server"
)

// Controller is what the collector reads from this node's member of the
// controller quorum (controller.Controller).
type Controller interface {
	Active() bool
	Elections() (clean, unclean uint64)
	MetadataProgress() (committed, applied int64)
}

// Source is where the broker collector reads from at scrape time. A nil
// func (or Controller) leaves its metrics out: a controller-only node has
// no replicas, a broker-only node no controller.
type Source struct {
	// Server is the Kafka listener's counters.
	Server func() server.Stats
	// Parked is the fetch long polls and produce requests waiting now.
	Parked func() (fetches, produces int64)
	// Partitions calls fn for every local replica.
	Partitions func(fn func(*partition.Partition))
	// PartitionSeries adds the per-partition series
	// (samsa.metrics.partition.series); the per-topic sums are always
	// there.
	PartitionSeries bool
	// ISRChanges is the replica manager's ISR shrinks and expands.
	ISRChanges func() (shrinks, expands uint64)
	// Image is the metadata image this node serves from.
	Image func() *metadata.Image
	// Controller is this node's quorum member, or nil.
	Controller Controller
	// Lag is the group coordinator's lag snapshot (LagSnapshot).
	Lag func() []group.GroupLag
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

var (
	topicLabels     = []string{"topic"}
	partitionLabels = []string{"topic", "partition"}
	lagLabels       = []string{"group", "topic", "partition"}

	descTopicBytesIn        = desc("topic_bytes_in_total", "Record-batch bytes appended from Produce requests, as the producers sent them.", topicLabels...)
	descTopicRecordsIn      = desc("topic_records_in_total", "Records appended from Produce requests.", topicLabels...)
	descTopicBytesOut       = desc("topic_bytes_out_total", "Record-batch bytes sent to consumers in Fetch responses.", topicLabels...)
	descTopicReplicationOut = desc("topic_replication_bytes_out_total", "Record-batch bytes sent to follower replicas in Fetch responses.", topicLabels...)
	descTopicFailedProduce  = desc("topic_failed_produce_requests_total", "Partitions of Produce requests answered with an error after the replica was found.", topicLabels...)
	descTopicFailedFetch    = desc("topic_failed_fetch_requests_total", "Partitions of Fetch requests answered with an error after the replica was found.", topicLabels...)
	descTopicSize           = desc("topic_size_bytes", "Bytes on disk of the topic's local replicas.", topicLabels...)

	descPartBytesIn   = desc("partition_bytes_in_total", "Record-batch bytes appended from Produce requests.", partitionLabels...)
	descPartRecordsIn = desc("partition_records_in_total", "Records appended from Produce requests.", partitionLabels...)
	descPartBytesOut  = desc("partition_bytes_out_total", "Record-batch bytes sent to consumers.", partitionLabels...)
	descPartLogStart  = desc("partition_log_start_offset", "The local replica's log start offset.", partitionLabels...)
	descPartHW        = desc("partition_high_watermark", "The local replica's high watermark.", partitionLabels...)
	descPartLEO       = desc("partition_log_end_offset", "The local replica's log end offset.", partitionLabels...)
	descPartSize      = desc("partition_size_bytes", "Bytes on disk of the local replica's segments.", partitionLabels...)
	descPartSegments  = desc("partition_segments", "Log segments of the local replica, the active one included.", partitionLabels...)
	descPartURP       = desc("partition_under_replicated", "1 when this node leads the partition and its ISR is smaller than its replica set.", partitionLabels...)

	descConnsOpen      = desc("connections_open", "Kafka client connections open now.")
	descConnsAccepted  = desc("connections_accepted_total", "Kafka client connections accepted.")
	descAuth           = desc("authentications_total", "SASL authentications by result: success, or failure (a refused mechanism among them).", "result")
	descInFlight       = desc("requests_in_flight", "Requests read whose responses are not written yet.")
	descBytesRead      = desc("network_bytes_read_total", "Bytes read from client sockets.")
	descBytesWritten   = desc("network_bytes_written_total", "Bytes written to client sockets, sendfile included.")
	descSendfileBytes  = desc("network_sendfile_bytes_total", "Record bytes written to client sockets with sendfile.")
	descProtocolErrors = desc("protocol_errors_total", "Connections closed for malformed or unsupported requests.")
	descPurgatory      = desc("purgatory_size", "Requests parked now: fetch long polls, and produce requests waiting for acks=all replication.", "operation")

	descURP         = desc("under_replicated_partitions", "Partitions this node leads whose ISR is smaller than their replica set.")
	descUnderMinISR = desc("under_min_isr_partitions", "Partitions this node leads whose ISR is smaller than min.insync.replicas.")
	descLeaders     = desc("leaders", "Partitions this node leads.")
	descPartitions  = desc("replicas", "Local replicas on this node (partitions it holds a replica of).")
	descISRShrinks  = desc("isr_shrinks_total", "ISR shrinks this node made as leader.")
	descISRExpands  = desc("isr_expands_total", "ISR expands this node made as leader.")
	descLogSize     = desc("log_size_bytes", "Bytes on disk of every local replica.")

	descMetadataOffset = desc("metadata_offset", "Offset of the last metadata record in the image this node serves from.")
	descActiveCtl      = desc("active_controller", "1 on the active controller, 0 on the other controllers.")
	descMetaCommitted  = desc("metadata_committed_offset", "The controller quorum's commit index, as this controller knows it.")
	descMetaApplied    = desc("metadata_applied_offset", "The quorum index this controller has applied.")
	descMetaLag        = desc("metadata_lag", "Committed minus applied quorum entries on this controller.")
	descElections      = desc("leader_elections_total", "Leader elections committed by this node as the active controller.", "type")
	descOffline        = desc("offline_partitions", "Partitions without a leader, in the active controller's image (reported by the active controller only).")
	descBrokers        = desc("brokers", "Registered brokers by state, in the active controller's image (reported by the active controller only).", "state")

	descGroupCommitted = desc("group_committed_offset", "A consumer group's committed offset (groups coordinated by this node).", lagLabels...)
	descGroupLag       = desc("group_lag_records", "High watermark minus committed offset.", lagLabels...)
	descGroupLagSecs   = desc("group_lag_seconds", "How long ago the first uncommitted record was written; 0 when caught up.", lagLabels...)
	descGroupTopicLag  = desc("group_topic_lag_records", "A group's lag in records summed over the topic's partitions whose end is known.", "group", "topic")
	descGroupTopicSecs = desc("group_topic_lag_seconds", "A group's largest lag in seconds over the topic's partitions.", "group", "topic")
	descGroupMembers   = desc("group_members", "Members of a consumer group.", "group")
	descGroupState     = desc("group_state", "1 for the group's current state.", "group", "state")
)

var allDescs = []*prometheus.Desc{
	descTopicBytesIn, descTopicRecordsIn, descTopicBytesOut, descTopicReplicationOut, descTopicFailedProduce, descTopicFailedFetch, descTopicSize,
	descPartBytesIn, descPartRecordsIn, descPartBytesOut, descPartLogStart, descPartHW, descPartLEO, descPartSize, descPartSegments, descPartURP,
	descConnsOpen, descConnsAccepted, descInFlight, descBytesRead, descBytesWritten, descSendfileBytes, descProtocolErrors, descPurgatory,
	descURP, descUnderMinISR, descLeaders, descPartitions, descISRShrinks, descISRExpands, descLogSize,
	descMetadataOffset, descActiveCtl, descMetaCommitted, descMetaApplied, descMetaLag, descElections, descOffline, descBrokers,
	descGroupCommitted, descGroupLag, descGroupLagSecs, descGroupTopicLag, descGroupTopicSecs, descGroupMembers, descGroupState,
}

// Collector reads a Source at scrape time.
type Collector struct{ src Source }

// NewCollector returns the collector of src; register it on the node's
// registry.
func NewCollector(src Source) *Collector { return &Collector{src: src} }

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect reads the source.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.collectServer(ch)
	c.collectReplicas(ch)
	c.collectCluster(ch)
	c.collectGroups(ch)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func (c *Collector) collectServer(ch chan<- prometheus.Metric) {
	if c.src.Server != nil {
		s := c.src.Server()
		gauge(ch, descConnsOpen, float64(s.ConnectionsOpen))
		counter(ch, descConnsAccepted, float64(s.ConnectionsAccepted))
		counter(ch, descAuth, float64(s.AuthSucceeded), "success")
		counter(ch, descAuth, float64(s.AuthFailed), "failure")
		gauge(ch, descInFlight, float64(s.RequestsInFlight))
		counter(ch, descBytesRead, float64(s.BytesRead))
		counter(ch, descBytesWritten, float64(s.BytesWritten))
		counter(ch, descSendfileBytes, float64(s.SendfileBytes))
		counter(ch, descProtocolErrors, float64(s.ProtocolErrors))
	}
	if c.src.Parked != nil {
		f, p := c.src.Parked()
		gauge(ch, descPurgatory, float64(f), "fetch")
		gauge(ch, descPurgatory, float64(p), "produce")
	}
}

type topicSums struct {
	bytesIn, recordsIn, bytesOut, replOut, failedProduce, failedFetch uint64
	size                                                              int64
}

func (c *Collector) collectReplicas(ch chan<- prometheus.Metric) {
	if c.src.Partitions == nil {
		return
	}
	// The replicas are listed first, so that no lock of the replica
	// manager is held while metrics are sent.
	var parts []*partition.Partition
	c.src.Partitions(func(p *partition.Partition) { parts = append(parts, p) })
	topics := map[string]*topicSums{}
	var urp, underMin, leaders int
	var total int64
	for _, p := range parts {
		tr := p.Traffic()
		in, rec, out := tr.BytesIn.Load(), tr.RecordsIn.Load(), tr.BytesOut.Load()
		ts := topics[p.Topic]
		if ts == nil {
			ts = &topicSums{}
			topics[p.Topic] = ts
		}
		ts.bytesIn += in
		ts.recordsIn += rec
		ts.bytesOut += out
		ts.replOut += tr.ReplicationOut.Load()
		ts.failedProduce += tr.FailedProduce.Load()
		ts.failedFetch += tr.FailedFetch.Load()
		size := p.Size()
		ts.size += size
		total += size
		under := 0
		if p.Role() == partition.RoleLeader {
			leaders++
			isr := int(p.ISRSize())
			if isr < len(p.Replicas()) {
				urp++
				under = 1
			}
			if cfg := p.Config(); cfg != nil && isr < int(cfg.MinInsyncReplicas) {
				underMin++
			}
		}
		if !c.src.PartitionSeries {
			continue
		}
		idx := strconv.Itoa(int(p.Index))
		counter(ch, descPartBytesIn, float64(in), p.Topic, idx)
		counter(ch, descPartRecordsIn, float64(rec), p.Topic, idx)
		counter(ch, descPartBytesOut, float64(out), p.Topic, idx)
		gauge(ch, descPartLogStart, float64(p.LogStartOffset()), p.Topic, idx)
		gauge(ch, descPartHW, float64(p.HighWatermark()), p.Topic, idx)
		gauge(ch, descPartLEO, float64(p.LogEndOffset()), p.Topic, idx)
		gauge(ch, descPartSize, float64(size), p.Topic, idx)
		gauge(ch, descPartSegments, float64(p.SegmentCount()), p.Topic, idx)
		gauge(ch, descPartURP, float64(under), p.Topic, idx)
	}
	for name, ts := range topics {
		counter(ch, descTopicBytesIn, float64(ts.bytesIn), name)
		counter(ch, descTopicRecordsIn, float64(ts.recordsIn), name)
		counter(ch, descTopicBytesOut, float64(ts.bytesOut), name)
		counter(ch, descTopicReplicationOut, float64(ts.replOut), name)
		counter(ch, descTopicFailedProduce, float64(ts.failedProduce), name)
		counter(ch, descTopicFailedFetch, float64(ts.failedFetch), name)
		gauge(ch, descTopicSize, float64(ts.size), name)
	}
	gauge(ch, descURP, float64(urp))
	gauge(ch, descUnderMinISR, float64(underMin))
	gauge(ch, descLeaders, float64(leaders))
	gauge(ch, descPartitions, float64(len(parts)))
	gauge(ch, descLogSize, float64(total))
	if c.src.ISRChanges != nil {
		s, e := c.src.ISRChanges()
		counter(ch, descISRShrinks, float64(s))
		counter(ch, descISRExpands, float64(e))
	}
}

func (c *Collector) collectCluster(ch chan<- prometheus.Metric) {
	var img *metadata.Image
	if c.src.Image != nil {
		img = c.src.Image()
		gauge(ch, descMetadataOffset, float64(img.Offset))
	}
	ctl := c.src.Controller
	if ctl == nil {
		return
	}
	active := ctl.Active()
	gauge(ch, descActiveCtl, b2f(active))
	committed, applied := ctl.MetadataProgress()
	gauge(ch, descMetaCommitted, float64(committed))
	gauge(ch, descMetaApplied, float64(applied))
	gauge(ch, descMetaLag, float64(max(committed-applied, 0)))
	clean, unclean := ctl.Elections()
	counter(ch, descElections, float64(clean), "clean")
	counter(ch, descElections, float64(unclean), "unclean")
	if !active || img == nil {
		return
	}
	offline := 0
	for _, t := range img.Topics {
		for _, p := range t.Partitions {
			if p.Leader < 0 {
				offline++
			}
		}
	}
	gauge(ch, descOffline, float64(offline))
	var fenced, shuttingDown, live int
	for _, b := range img.Brokers {
		switch {
		case b.Fenced:
			fenced++
		case b.ShuttingDown:
			shuttingDown++
		default:
			live++
		}
	}
	gauge(ch, descBrokers, float64(live), "active")
	gauge(ch, descBrokers, float64(fenced), "fenced")
	gauge(ch, descBrokers, float64(shuttingDown), "shutting_down")
}

// groupStates are the classic group states, each reported (0 or 1) so a
// state change never leaves a stale series behind.
var groupStates = []string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (c *Collector) collectGroups(ch chan<- prometheus.Metric) {
	if c.src.Lag == nil {
		return
	}
	for _, g := range c.src.Lag() {
		gauge(ch, descGroupMembers, float64(g.Members), g.Group)
		for _, s := range groupStates {
			gauge(ch, descGroupState, b2f(s == g.State), g.Group, s)
		}
		if !slices.Contains(groupStates, g.State) {
			gauge(ch, descGroupState, 1, g.Group, g.State)
		}
		// Partitions come sorted by topic: sum each topic's run.
		for i := 0; i < len(g.Partitions); {
			topic := g.Partitions[i].Topic
			var lag int64
			secs := -1.0
			known := false
			for ; i < len(g.Partitions) && g.Partitions[i].Topic == topic; i++ {
				p := g.Partitions[i]
				if p.Lag >= 0 {
					lag, known = lag+p.Lag, true
				}
				secs = max(secs, p.LagSeconds)
				if !c.src.PartitionSeries {
					continue
				}
				idx := strconv.Itoa(int(p.Partition))
				gauge(ch, descGroupCommitted, float64(p.Committed), g.Group, p.Topic, idx)
				if p.Lag >= 0 {
					gauge(ch, descGroupLag, float64(p.Lag), g.Group, p.Topic, idx)
				}
				if p.LagSeconds >= 0 {
					gauge(ch, descGroupLagSecs, p.LagSeconds, g.Group, p.Topic, idx)
				}
			}
			if known {
				gauge(ch, descGroupTopicLag, float64(lag), g.Group, topic)
			}
			if secs >= 0 {
				gauge(ch, descGroupTopicSecs, secs, g.Group, topic)
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// FlushObserver returns a histogram of log flush times registered on r,
// and the func to hand log.Options.OnFlush.
func FlushObserver(r prometheus.Registerer) func(time.Duration) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "log_flush_duration_seconds",
		Help:    "Time each log flush (fsync) took.",
		Buckets: latencyBuckets,
	})
	r.MustRegister(h)
	return func(d time.Duration) { h.Observe(d.Seconds()) }
}
