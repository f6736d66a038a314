// Package api serves the Kafka APIs: one file per API key, named by key as
// kfake does (00_produce.go, 01_fetch.go, ...), each opening with the
// versions it serves. Handlers run on the connection's reader goroutine and
// return a wire.Pending: they do the part whose order matters (appending a
// produce batch) before returning, and defer only the waiting.
package api

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/hotkeys"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/replication"
	"github.com/samsa-kafka/samsa/internal/txn"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// Deps are what the handlers need from the rest of the broker.
type Deps struct {
	NodeID int32
	// Host and Port are this broker's advertised endpoint.
	Host string
	Port int32
	// Metadata is this node's view of the committed metadata.
	Metadata *metadata.Publisher
	// Controller is this node's member of the quorum; nil on a broker-only
	// node. Admin requests are decided by it when it is the active
	// controller, and forwarded through Client otherwise.
	Controller *controller.Controller
	// Client reaches the active controller wherever it runs.
	Client ControllerClient
	// ControllerListener: this handler serves the controller listener
	// (brokers' registrations, heartbeats and forwarded requests), never
	// forwarding further.
	ControllerListener bool
	Replicas           *replication.Manager
	Config             *config.Broker
	// Current returns the configuration in effect (Config with the dynamic
	// broker configs applied); nil means Config.
	Current func() *config.Broker
	Logger  *slog.Logger
	// Groups is the group coordinator; nil answers every group API with
	// COORDINATOR_NOT_AVAILABLE.
	Groups *group.Coordinator
	// Txns is the transaction coordinator; nil answers every transaction
	// API with COORDINATOR_NOT_AVAILABLE (and refuses transactional
	// produce batches, which cannot be verified).
	Txns *txn.Coordinator
	// CountError, when set, is told each error code a Fetch response
	// carries (top level and per partition). Fetch answers with a
	// pre-encoded body that the connection layer's observer cannot read,
	// so the handler reports its codes itself; every other API's codes
	// are read from its response message by the observer.
	CountError func(key, code int16)
	// HotKeys counts the keys of produced records per partition for the
	// console's hot-partition view; nil counts nothing.
	HotKeys *hotkeys.Tracker
}

// Handler implements wire.Handler for every API samsa serves.
type Handler struct {
	Deps
	log *slog.Logger
	pid *txn.ProducerIDs
	// txnOrder keeps the appends of one producer's transactional batches
	// to one partition in request order while some wait for their
	// verification (see 00_produce.go).
	txnOrder txnOrder

	// closing is closed when the broker begins to shut down: parked long
	// polls and acks=all waits answer with what they have at once, so a
	// shutdown does not wait out every client's max wait.
	closing   chan struct{}
	closeOnce sync.Once

	sessions        *fetchSessions // KIP-227 fetch sessions
	followerFetches followerFetchStats

	// parkedFetches and parkedProduces count the fetch long polls and
	// the produce requests (acks=all waits, transactional verifications)
	// waiting now, for the metrics.
	parkedFetches, parkedProduces atomic.Int64
}

// Parked is the number of fetch long polls and of produce requests
// waiting for replication (acks=all) or verification right now: Kafka's
// purgatory sizes (DelayedOperationPurgatory, PurgatorySize for Fetch and
// Produce).
func (h *Handler) Parked() (fetches, produces int64) {
	return h.parkedFetches.Load(), h.parkedProduces.Load()
}

// New returns the API handler.
func New(d Deps) *Handler {
	h := &Handler{Deps: d, log: d.Logger, closing: make(chan struct{}), sessions: newFetchSessions()}
	if h.log == nil {
		h.log = slog.Default()
	}
	if d.Txns != nil {
		h.pid = d.Txns.ProducerIDs()
	} else {
		h.pid = txn.NewProducerIDs(d.NodeID, func(ctx context.Context, node int32, size int64) (int64, error) {
			if d.Client == nil {
				return -1, kerr.CoordinatorNotAvailable
			}
			return d.Client.AllocateProducerIDs(ctx, node, size)
		})
	}
	h.txnOrder.tails = map[txnOrderKey]chan struct{}{}
	return h
}

// currentConfig is the configuration in effect now.
func (h *Handler) currentConfig() *config.Broker {
	if h.Current != nil {
		return h.Current()
	}
	return h.Config
}

// BeginShutdown releases every parked wait (see Handler.closing). Call it
// before the connection layer drains.
func (h *Handler) BeginShutdown() { h.closeOnce.Do(func() { close(h.closing) }) }

// api is one served API: its version range and its handler.
type api struct {
	versions wire.VersionRange
	// advertisedMin, when lower than versions.Min, is what ApiVersions
	// reports as the minimum (see Produce).
	advertisedMin int16
	handle        func(h *Handler, ctx context.Context, req *wire.Request) wire.Pending
}

// apis is filled by each NN_name.go file's init-free table entry below; it
// is the single source of truth for ApiVersions, so what we advertise is
// exactly what we serve.
var apis = map[int16]api{}

func register(key int16, min, max int16, fn func(h *Handler, ctx context.Context, req *wire.Request) wire.Pending) {
	apis[key] = api{versions: wire.VersionRange{Min: min, Max: max}, advertisedMin: min, handle: fn}
}

// advertiseFrom lowers the minimum version ApiVersions reports for key
// below what is served; requests below the served minimum still close the
// connection.
func advertiseFrom(key, min int16) {
	a := apis[key]
	a.advertisedMin = min
	apis[key] = a
}

// Versions is the table the connection layer enforces.
func Versions() map[int16]wire.VersionRange {
	out := make(map[int16]wire.VersionRange, len(apis))
	for k, a := range apis {
		out[k] = a.versions
	}
	return out
}

func sortedKeys(table map[int16]api) []int16 {
	keys := make([]int16, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// Handle dispatches one request. The server has already checked that the
// key and version are in Versions().
func (h *Handler) Handle(ctx context.Context, req *wire.Request) wire.Pending {
	a, ok := h.table()[req.Key]
	if !ok {
		return wire.Now(wire.Response{Close: true})
	}
	if forwarded[req.Key] && !h.ControllerListener {
		if !h.decidesHere() {
			return h.forward(ctx, req)
		}
		// Decided here: answer once this node's subscribers (the replica
		// manager above all) act on the decision, so a client that
		// created a topic can produce to this broker at once.
		pending := a.handle(h, ctx, req)
		return func(wctx context.Context) wire.Response {
			resp := pending(wctx)
			c, cancel := context.WithTimeout(wctx, adminWait(req.Msg.(kmsg.Request)))
			defer cancel()
			_ = h.Metadata.WaitFor(c, h.Metadata.Image().Offset)
			return resp
		}
	}
	return a.handle(h, ctx, req)
}

// image is the metadata image this node serves from: the newest one its
// subscribers (the replica manager above all) have acted on, so Metadata
// never names this broker leader of a partition it has not opened yet, and
// the leadership checks of produce and fetch agree with the replicas.
func (h *Handler) image() *metadata.Image { return h.Metadata.Delivered() }

// decidesHere reports whether admin requests are decided on this node.
func (h *Handler) decidesHere() bool { return h.Controller != nil && h.Controller.Active() }

// ControllerClient is what the broker asks of the active controller.
type ControllerClient interface {
	CreateTopics(ctx context.Context, specs []controller.TopicSpec, validateOnly bool) ([]controller.Created, []error)
	AllocateProducerIDs(ctx context.Context, nodeID int32, size int64) (int64, error)
	// Forward sends req to the active controller and returns its answer.
	Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	// ActiveID is the active controller's node id as last learned, or -1.
	ActiveID() int32
}

// code maps an error to its Kafka error code: the *kerr.Error it wraps, or
// UNKNOWN_SERVER_ERROR for anything unclassified (which is also logged,
// because it is a bug or an environment failure worth seeing).
func (h *Handler) code(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	h.log.Error("unclassified error answered as UNKNOWN_SERVER_ERROR", "err", err)
	return kerr.UnknownServerError.Code
}

// message is the error message for responses that carry one, or nil.
func message(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

// respond builds a ready response for msg, its version set to the request's.
func respond(req *wire.Request, msg kmsg.Response) wire.Pending {
	msg.SetVersion(req.Version)
	return wire.Now(wire.Response{Msg: msg})
}
