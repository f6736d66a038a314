package metrics

import (
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/server"
)

// maxKey bounds the API keys timed; requests above it (none served today)
// are not timed.
const maxKey = 127

// Stages of a request, as Kafka's RequestMetrics names them.
var stages = [...]string{"total", "request_queue", "local", "remote", "response_queue", "send"}

// latencyBuckets span 50µs to 30s: a cached Metadata answer at the low
// end, a long poll or a slow acks=all at the high end.
var latencyBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Requests times every answered request per API and stage, and counts the
// error codes of the responses. It implements server.Observer. The
// histogram children of an API are resolved on its first request and kept
// in an array indexed by key, so later requests observe with no label
// lookup and no allocation.
type Requests struct {
	durations *prometheus.HistogramVec
	errors    *prometheus.CounterVec
	apis      [maxKey + 1]atomic.Pointer[apiTimes]
	// followerFetch times followers' Fetch requests apart from
	// consumers' (apis[1]), as Kafka's FetchFollower and FetchConsumer.
	followerFetch atomic.Pointer[apiTimes]
	errCache      sync.Map // key<<16 | uint16(code) → prometheus.Counter
}

type apiTimes [len(stages)]prometheus.Observer

// NewRequests returns the request metrics, registered on r.
func NewRequests(r prometheus.Registerer) *Requests {
	q := &Requests{
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds",
			Help:    "Time requests spent in each stage, per API (Kafka's RequestMetrics; Fetch as FetchConsumer and FetchFollower); stage=total counts every request.",
			Buckets: latencyBuckets,
		}, []string{"api", "stage"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "request_errors_total",
			Help: "Error codes in responses, per API and error (Kafka's RequestMetrics ErrorsPerSec); a response counts once per error code it carries, per partition or resource.",
		}, []string{"api", "error"}),
	}
	r.MustRegister(q.durations, q.errors)
	return q
}

var _ server.Observer = (*Requests)(nil)

// RequestDone observes one request's stages and its response's errors.
func (q *Requests) RequestDone(t *server.RequestTiming) {
	if t.Key < 0 || t.Key > maxKey {
		return
	}
	slot, name := &q.apis[t.Key], ""
	if t.Key == fetchKey {
		slot, name = &q.apis[t.Key], "FetchConsumer"
		if isFollowerFetch(t.Req) {
			slot, name = &q.followerFetch, "FetchFollower"
		}
	}
	a := slot.Load()
	if a == nil {
		if name == "" {
			name = apiName(t.Key)
		}
		a = q.resolve(slot, name)
	}
	a[0].Observe(t.Written.Sub(t.Received).Seconds())
	a[1].Observe(t.Started.Sub(t.Received).Seconds())
	a[2].Observe(t.Handled.Sub(t.Started).Seconds())
	a[3].Observe(t.Ready.Sub(t.Handled).Seconds())
	a[4].Observe(t.WriteStart.Sub(t.Ready).Seconds())
	a[5].Observe(t.Written.Sub(t.WriteStart).Seconds())
	if t.Msg != nil {
		ErrorCodes(t.Msg, func(code int16) { q.CountError(t.Key, code) })
	}
}

const fetchKey = 1

// isFollowerFetch reports whether req is a follower replica's Fetch: a
// replica id >= 0 (in ReplicaState from v15).
func isFollowerFetch(req kmsg.Request) bool {
	f, ok := req.(*kmsg.FetchRequest)
	if !ok {
		return false
	}
	if f.Version >= 15 {
		return f.ReplicaState.ID >= 0
	}
	return f.ReplicaID >= 0
}

func (q *Requests) resolve(slot *atomic.Pointer[apiTimes], name string) *apiTimes {
	var a apiTimes
	for i, s := range stages {
		a[i] = q.durations.WithLabelValues(name, s)
	}
	// Two first requests may race; both resolve the same children.
	slot.Store(&a)
	return &a
}

// CountError counts one error code in a response to key; code 0 is no
// error and counts nothing. api.Deps.CountError is wired to it for Fetch,
// whose pre-encoded responses the observer cannot read.
func (q *Requests) CountError(key, code int16) {
	if code == 0 {
		return
	}
	ck := int32(key)<<16 | int32(uint16(code))
	c, ok := q.errCache.Load(ck)
	if !ok {
		c, _ = q.errCache.LoadOrStore(ck, q.errors.WithLabelValues(apiName(key), errorName(code)))
	}
	c.(prometheus.Counter).Inc()
}

func apiName(key int16) string {
	if n := kmsg.NameForKey(key); n != "" && n != "Unknown" {
		return n
	}
	return strconv.Itoa(int(key))
}

// errorName is Kafka's name of an error code (NOT_LEADER_OR_FOLLOWER), or
// the number for a code kerr does not know.
func errorName(code int16) string {
	if ke, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return ke.Message
	}
	return strconv.Itoa(int(code))
}

// ErrorCodes calls fn with every error code msg carries, zero included.
// The data-path responses, large and frequent, are walked by hand; the
// rest, small and rare (admin, group and transaction APIs), by reflection
// over their ErrorCode fields, so a new API is covered without a case
// here.
func ErrorCodes(msg kmsg.Response, fn func(int16)) {
	switch m := msg.(type) {
	case *kmsg.ProduceResponse:
		for i := range m.Topics {
			for j := range m.Topics[i].Partitions {
				fn(m.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.FetchResponse:
		fn(m.ErrorCode)
		for i := range m.Topics {
			for j := range m.Topics[i].Partitions {
				fn(m.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.ListOffsetsResponse:
		for i := range m.Topics {
			for j := range m.Topics[i].Partitions {
				fn(m.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.MetadataResponse:
		for i := range m.Topics {
			fn(m.Topics[i].ErrorCode)
			for j := range m.Topics[i].Partitions {
				fn(m.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.OffsetCommitResponse:
		for i := range m.Topics {
			for j := range m.Topics[i].Partitions {
				fn(m.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.HeartbeatResponse:
		fn(m.ErrorCode)
	case *kmsg.ApiVersionsResponse:
		fn(m.ErrorCode)
	default:
		reflectErrorCodes(reflect.ValueOf(msg), fn)
	}
}

// reflectErrorCodes walks v's structs, slices and pointers and calls fn
// with every int16 field named ErrorCode.
func reflectErrorCodes(v reflect.Value, fn func(int16)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			reflectErrorCodes(v.Elem(), fn)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes: no error codes inside
		}
		for i := range v.Len() {
			reflectErrorCodes(v.Index(i), fn)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			if f.Name == "ErrorCode" && fv.Kind() == reflect.Int16 {
				fn(int16(fv.Int()))
				continue
			}
			switch fv.Kind() {
			case reflect.Struct, reflect.Slice, reflect.Pointer:
				reflectErrorCodes(fv, fn)
			}
		}
	}
}
