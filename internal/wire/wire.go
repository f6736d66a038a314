// Package wire holds the types that cross between the connection layer
// (internal/server) and the API handlers (internal/api): a decoded request
// with its header, and a response that is either a kmsg message or a body
// pre-encoded as chunks of bytes and file regions (so Fetch can hand record
// batches to sendfile without copying them into user space).
package wire

import (
	"context"
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request is one decoded request frame.
type Request struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      *string
	// Msg is the decoded body, its version already set. Byte slices in it
	// alias the request frame; a Produce frame is reused once Handle
	// returns, so a handler must not keep Produce record bytes past Handle
	// (it appends them inside Handle).
	Msg kmsg.Request
	// Conn is the per-connection state (remote address now; the
	// authenticated principal once SASL lands).
	Conn *ConnInfo
}

// ConnInfo describes the connection a request arrived on. It is owned by
// the server and read by handlers; per-connection auth state will live here.
type ConnInfo struct {
	RemoteAddr string
	LocalAddr  string
	// Listener names the listener the connection came in on
	// (listeners=NAME://...); "" where the server was not told.
	Listener string
	// Principal is the authenticated principal ("User:alice") of a SASL
	// connection once it has authenticated; "" on a PLAINTEXT listener
	// (Kafka's User:ANONYMOUS).
	Principal string
	// Plaintext is true when file regions may be sent with sendfile.
	Plaintext bool
}

// Region is a byte range of a file, written to the socket with sendfile at
// an explicit offset when the connection allows it, or read with ReadAt
// otherwise. Nothing else may move the file's position.
type Region struct {
	// File is read with ReadAt (never Read: the position is shared).
	File io.ReaderAt
	// Fd is the file descriptor for sendfile, or -1 if there is none
	// (an in-memory test filesystem, say).
	Fd  int
	Off int64
	Len int64
}

// Chunk is one piece of a pre-encoded response body: Bytes, or a Region when
// Bytes is nil.
type Chunk struct {
	Bytes  []byte
	Region *Region
}

// Body is a response body already encoded by its handler (everything after
// the response header). Release is called once the body has been written or
// abandoned; it lets the storage engine unpin the files behind regions.
type Body struct {
	Chunks  []Chunk
	Release func()
}

// Size is the number of bytes the body occupies on the wire.
func (b *Body) Size() int64 {
	var n int64
	for _, c := range b.Chunks {
		if c.Region != nil {
			n += c.Region.Len
		} else {
			n += int64(len(c.Bytes))
		}
	}
	return n
}

// Response is what a handler returns. Exactly one of Msg and Body is set,
// or neither when no response is due (Produce with acks=0). The server
// encodes Msg at the request's version and writes the response header
// (without the flexible tag byte for ApiVersions, as KIP-511 requires).
type Response struct {
	Msg  kmsg.Response
	Body *Body
	// Close asks the server to close the connection after writing this
	// response (or instead of it, when Msg and Body are both nil).
	Close bool
}

// Pending yields a response later. The server calls the Pending values of
// one connection in request order, each on the connection's writer, so a
// handler does the order-sensitive part of its work (appending a produce
// batch) before returning and defers only the waiting (acks=all, a fetch
// long poll) into the Pending func. ctx is cancelled when the connection
// or the server closes.
type Pending func(ctx context.Context) Response

// Now wraps a ready response.
func Now(r Response) Pending { return func(context.Context) Response { return r } }

// Handler serves decoded requests. Handle is called on the connection's
// reader goroutine, one request at a time in arrival order.
type Handler interface {
	Handle(ctx context.Context, req *Request) Pending
}

// VersionRange is the inclusive range of versions served for one API key.
type VersionRange struct{ Min, Max int16 }
