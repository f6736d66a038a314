package server

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Observer is told how long each answered request spent in each stage, as
// Kafka's RequestMetrics splits it. The server calls it on the
// connection's writer goroutine after the response is written, so it must
// be cheap and must not block: a metrics implementation observes
// pre-resolved histograms and returns. The server knows nothing of how
// the timings are kept (it does not import a metrics library).
type Observer interface {
	RequestDone(t *RequestTiming)
}

// RequestTiming is one request's life on a connection. The pointer passed
// to RequestDone is valid only during the call.
type RequestTiming struct {
	Key     int16
	Version int16
	// Received is when the whole frame had been read from the socket.
	Received time.Time
	// Started is when the handler was called (after decoding). Kafka's
	// request queue time is Started - Received.
	Started time.Time
	// Handled is when the handler returned its Pending: the local work
	// (an append, a metadata lookup) is done.
	Handled time.Time
	// Ready is when the Pending returned the response: what lies between
	// Handled and Ready is waiting on others (acks=all replication, a
	// fetch long poll), and on the earlier requests of the same
	// connection, whose responses go first.
	Ready time.Time
	// WriteStart and Written bound the writing of the response into the
	// connection's buffer or, for file regions, to the socket; buffered
	// bytes may reach the socket at a later flush.
	WriteStart, Written time.Time
	// Msg is the response when it was a kmsg message (nil for a
	// pre-encoded body, such as Fetch's, and when no response was due).
	Msg kmsg.Response
	// Req is the decoded request (nil for one the server answered
	// itself). Its byte slices may alias a Produce frame that has been
	// reused since: read only its scalar fields (a Fetch's replica id).
	Req kmsg.Request
}
