package partition

import "sync/atomic"

// Traffic counts what clients moved through this replica: the produce
// requests it took as leader and the fetch responses it served (consumers
// and followers apart). The counters only grow; rates are their
// differences over time (Prometheus counters, the console's plots). They
// are updated by the request handlers, which see the bytes on the wire,
// and read without locks by whoever samples them.
type Traffic struct {
	BytesIn        atomic.Uint64 // record-batch bytes appended from Produce requests
	RecordsIn      atomic.Uint64 // records in those batches
	BatchesIn      atomic.Uint64 // batches in those requests
	BytesOut       atomic.Uint64 // record-batch bytes sent to consumers in Fetch responses
	ReplicationOut atomic.Uint64 // record-batch bytes sent to follower replicas
	FailedProduce  atomic.Uint64 // produce requests for this partition answered with an error
	FailedFetch    atomic.Uint64 // fetches of this partition answered with an error
}

// Traffic is the partition's traffic counters.
func (p *Partition) Traffic() *Traffic { return &p.traffic }
