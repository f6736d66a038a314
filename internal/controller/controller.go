// Package controller makes the cluster's metadata decisions (topic
// creation, deletion, partition growth, config changes, broker
// registration, ISR changes and leader elections) and commits them as
// metadata.Records, through a hashicorp/raft quorum of controllers.
package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// Error is a refusal with the Kafka error code a Kafka controller would
// answer and a message for the client. errors.As(err, new(*kerr.Error))
// finds the code.
type Error struct {
	Code    *kerr.Error
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Code }

func errorf(code *kerr.Error, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Voter is one member of the quorum.
type Voter struct {
	ID   int32
	Addr string // host:port of its controller listener
}

// Config configures the controller.
type Config struct {
	// DataDir holds the Raft log, its stable store and the snapshots
	// (under __cluster_metadata-0, where Kafka keeps its metadata log).
	DataDir string
	NodeID  int32
	// ClusterID is the id this node expects ("" when it has none yet);
	// the first active controller of a fresh quorum commits it, or a random
	// one, as the log's first record.
	ClusterID string
	Logger    *slog.Logger
	// Voters are the quorum's members, this node among them. Empty: this
	// node alone, over an in-memory transport (no controller listener).
	Voters []Voter
	// Mux is the controller listener's Raft side; nil with no Voters.
	Mux *Mux
	// DefaultPartitions and DefaultReplicationFactor answer -1 in
	// CreateTopics (num.partitions, default.replication.factor).
	DefaultPartitions        int32
	DefaultReplicationFactor int16
	// ValidateConfigs checks a topic's whole set of config overrides (each
	// value, and rules that relate several); nil accepts all.
	ValidateConfigs func(configs map[string]string) error
	// SessionTimeout fences a broker that has not heartbeated for this long
	// (broker.session.timeout.ms).
	SessionTimeout time.Duration
	// SnapshotBytes of entries applied since the last snapshot trigger a
	// new one (metadata.log.max.record.bytes.between.snapshots).
	SnapshotBytes int64
	// Publish receives every applied image, in order (the node's
	// metadata.Publisher); nil drops them.
	Publish func(*metadata.Image)
	// Fatal is called when the metadata log holds what this build cannot
	// apply (a newer record type or metadata.version): the node must stop.
	Fatal func(error)
	// ElectionTimeout is Raft's heartbeat/election timeout; 0: 1 s, or
	// 50 ms for a quorum of this node alone.
	ElectionTimeout time.Duration
	// UncleanLeaderElection is this node's static
	// unclean.leader.election.enable, what a topic gets when neither it
	// nor the dynamic broker configs set it (see uncleanEnabled).
	UncleanLeaderElection bool
	// LeaderImbalanceCheckInterval is how often the active controller moves
	// leaderships back to preferred replicas
	// (leader.imbalance.check.interval.seconds); 0 turns it off
	// (auto.leader.rebalance.enable=false).
	LeaderImbalanceCheckInterval time.Duration
}

// Controller is one member of the metadata quorum. Only the active
// controller (the Raft leader, once it has applied every earlier entry)
// decides; the others answer NOT_CONTROLLER.
//
// Decisions are serialised by mu and each waits for its entry to commit
// and apply before the next is computed, so every decision sees the
// effects of the previous one (KRaft's single event queue, without its
// pipelining). mu is the controller's own lock: no data-path code and no
// metadata subscriber ever waits on it.
type Controller struct {
	cfg  Config
	log  *slog.Logger
	raft *raft.Raft
	fsm  *fsm
	// stores and transport, closed after raft.
	logs      *raftboltdb.BoltStore
	transport raft.Transport
	progress  *progressTransport // followers' progress; nil for a one-node quorum

	mu     sync.Mutex // serialises decisions
	active atomic.Bool
	// sessions tracks broker heartbeats on the active controller.
	sessions *sessions

	// prevLeader is the last Raft leader other than this node that this
	// node saw, or -1.
	prevLeader atomic.Int32

	stop   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool

	elections electionStats
}

// Open starts this node's member of the quorum: it loads the latest
// snapshot and the log after it, and bootstraps a fresh quorum.
func Open(cfg Config) (*Controller, error) {
	c := &Controller{cfg: cfg, log: cfg.Logger, stop: make(chan struct{})}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.cfg.SessionTimeout <= 0 {
		c.cfg.SessionTimeout = 9 * time.Second
	}
	if c.cfg.Fatal == nil {
		c.cfg.Fatal = func(err error) { c.log.Error("metadata log cannot be applied", "err", err) }
	}
	publish := cfg.Publish
	if publish == nil {
		publish = func(*metadata.Image) {}
	}
	c.sessions = newSessions()
	c.fsm = newFSM(metadata.Empty("", cfg.NodeID), 4096, cfg.SnapshotBytes, publish, c.cfg.Fatal)

	dir := filepath.Join(cfg.DataDir, "__cluster_metadata-0")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Error, Output: slogWriter{c.log}})
	var err error
	c.logs, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("controller: open raft log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		c.logs.Close()
		return nil, fmt.Errorf("controller: snapshots: %w", err)
	}
	self := raft.ServerID(strconv.Itoa(int(cfg.NodeID)))
	voters := cfg.Voters
	if len(voters) == 0 {
		_, tr := raft.NewInmemTransport(raft.ServerAddress("node-" + string(self)))
		c.transport = tr
		voters = []Voter{{ID: cfg.NodeID, Addr: string(tr.LocalAddr())}}
	} else {
		c.progress = newProgressTransport(raft.NewNetworkTransportWithLogger(cfg.Mux.Raft(), 3, 10*time.Second, hlog))
		c.transport = c.progress
	}
	rc := raft.DefaultConfig()
	rc.LocalID = self
	rc.Logger = hlog
	timeout := cfg.ElectionTimeout
	if timeout <= 0 {
		timeout = time.Second
		if len(voters) == 1 {
			timeout = 50 * time.Millisecond
		}
	}
	rc.HeartbeatTimeout, rc.ElectionTimeout = timeout, timeout
	rc.LeaderLeaseTimeout = timeout / 2
	if len(voters) == 1 {
		// A lone voter's lease cannot lapse, but Raft's leader still
		// checks it every LeaderLeaseTimeout: at 25 ms those wake-ups
		// were half of an idle broker's CPU (12.5 ms a second, against
		// 7 at 50 ms). It may not exceed the heartbeat timeout, which
		// stays short so that a one-node cluster elects itself at once.
		rc.LeaderLeaseTimeout = timeout
	}
	rc.SnapshotThreshold = 8192
	rc.TrailingLogs = 10240
	notify := make(chan bool, 8)
	rc.NotifyCh = notify

	existing, err := raft.HasExistingState(c.logs, c.logs, snaps)
	if err != nil {
		c.logs.Close()
		return nil, fmt.Errorf("controller: %w", err)
	}
	if !existing {
		// Every voter bootstraps with the same configuration, which
		// hashicorp/raft documents as safe: the first to win an election
		// commits it and the others agree.
		var servers []raft.Server
		for _, v := range voters {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(strconv.Itoa(int(v.ID))), Address: raft.ServerAddress(v.Addr)})
		}
		if err := raft.BootstrapCluster(rc, c.logs, c.logs, snaps, c.transport, raft.Configuration{Servers: servers}); err != nil {
			c.logs.Close()
			return nil, fmt.Errorf("controller: bootstrap: %w", err)
		}
	}
	c.raft, err = raft.NewRaft(rc, c.fsm, c.logs, c.logs, snaps, c.transport)
	if err != nil {
		c.logs.Close()
		return nil, fmt.Errorf("controller: start raft: %w", err)
	}
	if c.progress != nil {
		c.progress.node.Store(c.raft)
	}
	c.prevLeader.Store(-1)
	leaders := make(chan raft.Observation, 8)
	c.raft.RegisterObserver(raft.NewObserver(leaders, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	}))
	c.wg.Add(3)
	go c.watchLeaders(leaders)
	go c.watchLeadership(notify)
	go c.snapshotter()
	return c, nil
}

// Image is the applied metadata image of this controller.
func (c *Controller) Image() *metadata.Image { return c.fsm.image() }

// Active reports whether this node is the active controller.
func (c *Controller) Active() bool { return c.active.Load() }

// Leader is the id of the Raft leader as this node knows it, or -1.
func (c *Controller) Leader() int32 {
	_, id := c.raft.LeaderWithID()
	n, err := strconv.Atoi(string(id))
	if err != nil {
		return -1
	}
	return int32(n)
}

// Fetch returns the committed entries after offset, or the whole image,
// waiting until ctx ends when there is nothing new. Only the active
// controller serves it, so brokers never follow a stale voter.
func (c *Controller) Fetch(ctx context.Context, after int64, maxBytes int) (Fetched, error) {
	if !c.Active() {
		return Fetched{}, errNotController()
	}
	return c.fsm.fetch(ctx, after, maxBytes), nil
}

func errNotController() error {
	return errorf(kerr.NotController, "this node is not the active controller")
}

// Close stops this member of the quorum (a leader hands leadership over
// first so the others need not wait out an election timeout) and closes
// its stores.
func (c *Controller) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(c.stop)
	if c.Active() && len(c.cfg.Voters) > 1 {
		_ = c.raft.LeadershipTransfer().Error()
	}
	err := c.raft.Shutdown().Error()
	c.active.Store(false)
	c.wg.Wait()
	if nt, ok := c.transport.(io.Closer); ok {
		err = errors.Join(err, nt.Close())
	}
	return errors.Join(err, c.logs.Close())
}

// watchLeadership activates this controller when it becomes the Raft
// leader: a barrier first, so the state machine has applied every entry of
// earlier terms, then the bootstrap records of a fresh log.
func (c *Controller) watchLeadership(notify <-chan bool) {
	defer c.wg.Done()
	var stopSessions chan struct{}
	for {
		select {
		case <-c.stop:
			if stopSessions != nil {
				close(stopSessions)
			}
			return
		case leader := <-notify:
			if stopSessions != nil {
				close(stopSessions)
				stopSessions = nil
			}
			c.active.Store(false)
			if !leader {
				continue
			}
			if err := c.raft.Barrier(10 * time.Second).Error(); err != nil {
				c.log.Warn("controller: barrier after election failed", "err", err)
				continue
			}
			c.sessions.reset(c.Image(), time.Now().Add(c.cfg.SessionTimeout))
			c.shortenPrevLeaderSession()
			c.active.Store(true)
			if err := c.initLog(); err != nil {
				c.log.Warn("controller: bootstrap records not committed", "err", err)
			}
			c.log.Info("became the active controller", "node_id", c.cfg.NodeID, "metadata_offset", c.Image().Offset)
			stopSessions = make(chan struct{})
			c.every(stopSessions, min(max(c.cfg.SessionTimeout/8, 10*time.Millisecond), 250*time.Millisecond), c.fenceExpired)
			if c.cfg.LeaderImbalanceCheckInterval > 0 {
				c.every(stopSessions, c.cfg.LeaderImbalanceCheckInterval, c.balanceLeaders)
			}
		}
	}
}

// watchLeaders remembers the last Raft leader other than this node.
func (c *Controller) watchLeaders(leaders <-chan raft.Observation) {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case o := <-leaders:
			lo := o.Data.(raft.LeaderObservation)
			if id, err := strconv.Atoi(string(lo.LeaderID)); err == nil && int32(id) != c.cfg.NodeID {
				c.prevLeader.Store(int32(id))
			}
		}
	}
}

// shortenPrevLeaderSession dates the session of the broker on the node that
// led the quorum before this one from the last time this node heard from
// that leader, rather than from now. A new active controller gives every
// broker a full session, as Kafka's does, since it cannot know when their
// last heartbeats reached the old one; but a combined node that was
// controller and broker at once heartbeated to itself, so when it dies its
// session would otherwise only start to run out after the election, and
// its partitions would wait an election timeout longer for new leaders
// than any other broker's. Raft's last contact with that leader bounds its
// broker's liveness from below. The deadline never comes sooner than half
// a session from now, so a live broker (a leader that lost its quorum only)
// has time to find this controller and heartbeat.
func (c *Controller) shortenPrevLeaderSession() {
	// Only a session the reset gave (a registered, unfenced broker) is
	// shortened: sessions.shorten ignores any other id.
	prev := c.prevLeader.Load()
	last := c.raft.LastContact()
	if prev < 0 || last.IsZero() {
		return
	}
	deadline := last.Add(c.cfg.SessionTimeout)
	if floor := time.Now().Add(c.cfg.SessionTimeout / 2); deadline.Before(floor) {
		deadline = floor
	}
	c.sessions.shorten(prev, deadline)
}

// every runs fn every interval on its own goroutine while this node stays
// the active controller (until stop or the controller's own stop closes).
func (c *Controller) every(stop <-chan struct{}, interval time.Duration, fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-c.stop:
				return
			case <-t.C:
			}
			fn()
		}
	}()
}

// initLog commits what a fresh (or older) metadata log lacks: the cluster
// id, metadata.version at this build's level and transaction.version; and
// the elections this controller's view asks for (its static
// unclean.leader.election.enable may differ from its predecessor's).
func (c *Controller) initLog() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := c.Image()
	var recs []metadata.Record
	if img.ClusterID == "" {
		id := c.cfg.ClusterID
		if id == "" {
			id = metadata.NewUUID().String()
		}
		recs = append(recs, metadata.Record{Bootstrap: &metadata.Bootstrap{ClusterID: id}})
	}
	if img.Features[metadata.MetadataVersionFeature] < metadata.MaxMetadataVersion {
		recs = append(recs, metadata.Record{FeatureLevel: &metadata.FeatureLevel{Name: metadata.MetadataVersionFeature, Level: metadata.MaxMetadataVersion}})
	}
	if _, ok := img.Features[metadata.TransactionVersionFeature]; !ok {
		// A new cluster runs transactions at the highest level, as
		// Kafka 4's does; so does one formed before samsa had
		// transactions, which never ran one. A level once finalized
		// stays.
		recs = append(recs, metadata.Record{FeatureLevel: &metadata.FeatureLevel{Name: metadata.TransactionVersionFeature, Level: metadata.MaxTransactionVersion}})
	}
	_, err := c.commitElecting(recs)
	return err
}

// snapshotter takes a snapshot when the state machine asks for one.
func (c *Controller) snapshotter() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case <-c.fsm.wantSnapshot:
			if err := c.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
				c.log.Warn("controller: snapshot failed", "err", err)
			}
		}
	}
}

// applyTimeout bounds how long a decision waits to be committed.
const applyTimeout = 10 * time.Second

// commit replicates recs as one entry and waits until it is committed and
// applied here. Callers hold c.mu. It returns the entry's offset.
func (c *Controller) commit(recs []metadata.Record) (int64, error) {
	if !c.Active() {
		return 0, errNotController()
	}
	data, err := metadata.EncodeEntry(recs)
	if err != nil {
		return 0, errorf(kerr.UnknownServerError, "%v", err)
	}
	prev := c.Image()
	f := c.raft.Apply(data, applyTimeout)
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
			errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrRaftShutdown):
			// The entry may still commit under the next leader; the
			// client retries and learns the outcome (as with Kafka).
			return 0, errorf(kerr.NotController, "controller lost leadership: %v", err)
		case errors.Is(err, raft.ErrEnqueueTimeout):
			return 0, errorf(kerr.RequestTimedOut, "metadata commit timed out")
		}
		return 0, errorf(kerr.UnknownServerError, "metadata commit: %v", err)
	}
	if rerr, ok := f.Response().(error); ok && rerr != nil {
		return 0, errorf(kerr.UnknownServerError, "metadata entry refused: %v", rerr)
	}
	c.elections.count(prev, recs)
	return int64(f.Index()), nil
}

// commitElecting commits recs plus the leader and ISR changes they make
// necessary (a new partition whose first replica is not live, a config
// that now allows unclean elections); nothing when there are none.
func (c *Controller) commitElecting(recs []metadata.Record) (int64, error) {
	next := c.Image()
	for _, r := range recs {
		var err error
		if next, err = next.Apply(next.Offset+1, r); err != nil {
			return 0, errorf(kerr.UnknownServerError, "%v", err)
		}
	}
	recs = append(recs, c.electLeaders(next)...)
	if len(recs) == 0 {
		return next.Offset, nil
	}
	return c.commit(recs)
}

// WaitActive waits until this node is the active controller or ctx ends.
func (c *Controller) WaitActive(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !c.Active() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.stop:
			return errNotController()
		case <-t.C:
		}
	}
	return nil
}

// slogWriter routes hashicorp/raft's log lines into slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)), "component", "raft")
	return len(p), nil
}

// TopicSpec is one topic to create.
type TopicSpec struct {
	Name              string
	NumPartitions     int32 // -1: the broker default
	ReplicationFactor int16 // -1: the broker default
	// Assignments, when set, gives each partition's replicas explicitly;
	// then NumPartitions and ReplicationFactor must be -1.
	Assignments [][]int32
	Configs     map[string]string
	Internal    bool
}

// Created describes a topic CreateTopics made (or would make).
type Created struct {
	ID                metadata.UUID // zero for a validate-only creation
	NumPartitions     int32
	ReplicationFactor int16
}

var (
	legalTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
)

// maxTopicLength is Kafka's limit: 249, so that "<topic>-<partition>"
// directories and derived file names stay within 255 bytes.
const maxTopicLength = 249

// ValidateTopicName applies Kafka's topic-name rules.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return errorf(kerr.InvalidTopicException, "topic name is empty")
	case name == "." || name == "..":
		return errorf(kerr.InvalidTopicException, "topic name cannot be %q", name)
	case len(name) > maxTopicLength:
		return errorf(kerr.InvalidTopicException, "topic name is %d characters, longer than the maximum %d", len(name), maxTopicLength)
	case !legalTopic.MatchString(name):
		return errorf(kerr.InvalidTopicException, "topic name %q contains characters other than ASCII alphanumerics, '.', '_' and '-'", name)
	}
	return nil
}

// collisionKey maps '.' and '_' together: Kafka refuses topics that differ
// only there because metric names would collide.
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// CreateTopics creates each topic or explains why not; errs[i] answers specs[i].
func (c *Controller) CreateTopics(ctx context.Context, specs []TopicSpec, validateOnly bool) ([]Created, []error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := c.Image()
	out := make([]Created, len(specs))
	errs := make([]error, len(specs))
	var recs []metadata.Record
	var idx []int
	pending := map[string]bool{}
	pl := newClusterPlacement(img)
	for i, s := range specs {
		if !c.Active() {
			errs[i] = errNotController()
			continue
		}
		rec, cr, err := c.planTopic(img, pl, s, pending)
		if err != nil {
			errs[i] = err
			continue
		}
		pending[collisionKey(s.Name)] = true
		pl.add(rec.Replicas)
		out[i] = cr
		if !validateOnly {
			out[i].ID = rec.ID
			recs = append(recs, metadata.Record{CreateTopic: rec})
			idx = append(idx, i)
		}
	}
	if len(recs) > 0 {
		if _, err := c.commitElecting(recs); err != nil {
			for _, i := range idx {
				errs[i], out[i] = err, Created{}
			}
		}
	}
	return out, errs
}

func (c *Controller) planTopic(img *metadata.Image, pl *clusterPlacement, s TopicSpec, pending map[string]bool) (*metadata.CreateTopic, Created, error) {
	if err := ValidateTopicName(s.Name); err != nil {
		return nil, Created{}, err
	}
	if img.Topics[s.Name] != nil {
		return nil, Created{}, errorf(kerr.TopicAlreadyExists, "topic %q already exists", s.Name)
	}
	key := collisionKey(s.Name)
	if pending[key] {
		return nil, Created{}, errorf(kerr.InvalidRequest, "topic %q is named more than once in the request", s.Name)
	}
	for _, other := range img.Topics {
		if collisionKey(other.Name) == key {
			return nil, Created{}, errorf(kerr.InvalidTopicException, "topic %q collides with existing topic %q ('.' and '_' are equivalent)", s.Name, other.Name)
		}
	}
	if !s.Internal && IsReservedInternal(s.Name) {
		return nil, Created{}, ReservedTopicError(s.Name)
	}
	if c.cfg.ValidateConfigs != nil {
		if err := c.cfg.ValidateConfigs(s.Configs); err != nil {
			return nil, Created{}, errorf(kerr.InvalidConfig, "%v", err)
		}
	}
	replicas, err := c.assign(img, pl, s)
	if err != nil {
		return nil, Created{}, err
	}
	rec := &metadata.CreateTopic{
		Name:     s.Name,
		ID:       metadata.NewUUID(),
		Internal: s.Internal,
		Replicas: replicas,
		Configs:  maps.Clone(s.Configs),
	}
	return rec, Created{NumPartitions: int32(len(replicas)), ReplicationFactor: int16(len(replicas[0]))}, nil
}

// IsReservedInternal reports whether name is one of the internal topics
// only samsa itself creates (the coordinators' and the metadata log's).
func IsReservedInternal(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state" || name == "__cluster_metadata"
}

// ReservedTopicError is a client's answer for creating a reserved
// internal topic.
func ReservedTopicError(name string) error {
	return errorf(kerr.InvalidRequest, "topic %q is reserved for internal use", name)
}

// assign returns the replica lists of a new topic's partitions: the
// explicit ones, checked, or placed by pl. Errors and their order are
// KRaft's (ReplicationControlManager.createTopic): the replication factor is
// checked before the partition count, -1 then means the broker default.
func (c *Controller) assign(img *metadata.Image, pl *clusterPlacement, s TopicSpec) ([][]int32, error) {
	n, rf := s.NumPartitions, s.ReplicationFactor
	if len(s.Assignments) > 0 {
		switch {
		case rf != -1:
			return nil, errorf(kerr.InvalidRequest, "A manual partition assignment was specified, but replication factor was not set to -1.")
		case n != -1:
			return nil, errorf(kerr.InvalidRequest, "A manual partition assignment was specified, but numPartitions was not set to -1.")
		}
		return checkAssignment(img, s.Assignments, 0, -1)
	}
	if rf < -1 || rf == 0 {
		return nil, errorf(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.")
	}
	if n < -1 || n == 0 {
		return nil, errorf(kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
	}
	if n == -1 {
		n = c.cfg.DefaultPartitions
	}
	if rf == -1 {
		rf = c.cfg.DefaultReplicationFactor
	}
	return pl.placeTopic(n, rf)
}

// checkAssignment checks explicit replica lists for the partitions numbered
// from first as KRaft checks a manual assignment
// (validateManualPartitionAssignment): each list non-empty, of registered
// brokers (fenced ones too), none twice, all lists of rf replicas (rf -1:
// as long as the first), and some replica of each partition live.
func checkAssignment(img *metadata.Image, explicit [][]int32, first int32, rf int) ([][]int32, error) {
	out := make([][]int32, len(explicit))
	for i, rs := range explicit {
		if err := checkReplicaList(img, rs); err != nil {
			return nil, err
		}
		if rf >= 0 && len(rs) != rf {
			return nil, errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes a partition with %d replica(s), "+
				"but this is not consistent with previous partitions, which have %d replica(s).", len(rs), rf)
		}
		rf = len(rs)
		if !slices.ContainsFunc(rs, func(id int32) bool { return img.Brokers[id].Live() }) {
			return nil, errorf(kerr.InvalidReplicaAssignment, "All brokers specified in the manual partition assignment for partition %d are fenced or in controlled shutdown.", first+int32(i))
		}
		out[i] = slices.Clone(rs)
	}
	return out, nil
}

// checkReplicaList checks one explicit replica list as KRaft's
// validateManualPartitionAssignment does (for new partitions and for
// reassignments alike): non-empty, of registered brokers (fenced ones
// too), none twice.
func checkReplicaList(img *metadata.Image, rs []int32) error {
	if len(rs) == 0 {
		return errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
	}
	sorted := slices.Sorted(slices.Values(rs))
	for j, id := range sorted {
		if _, ok := img.Brokers[id]; !ok {
			return errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes broker %d, but no such broker is registered.", id)
		}
		if j > 0 && id == sorted[j-1] {
			return errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes the broker %d more than once.", id)
		}
	}
	return nil
}

// DeleteTopics deletes topics by name (ids zero) or id; errs[i] answers names[i]/ids[i].
func (c *Controller) DeleteTopics(ctx context.Context, names []string, ids []metadata.UUID) ([]*metadata.Topic, []error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := c.Image()
	n := max(len(names), len(ids))
	out := make([]*metadata.Topic, n)
	errs := make([]error, n)
	var recs []metadata.Record
	var idx []int
	seen := map[metadata.UUID]bool{}
	for i := range n {
		if !c.Active() {
			errs[i] = errNotController()
			continue
		}
		var t *metadata.Topic
		if i < len(ids) && ids[i] != (metadata.UUID{}) {
			if t = img.ByID[ids[i]]; t == nil {
				errs[i] = errorf(kerr.UnknownTopicID, "topic id %s does not exist", ids[i])
				continue
			}
		} else {
			name := ""
			if i < len(names) {
				name = names[i]
			}
			if t = img.Topics[name]; t == nil {
				errs[i] = errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
				continue
			}
		}
		out[i] = t
		if t.Internal {
			errs[i] = errorf(kerr.TopicDeletionDisabled, "internal topic %q cannot be deleted", t.Name)
			continue
		}
		if seen[t.ID] {
			continue
		}
		seen[t.ID] = true
		recs = append(recs, metadata.Record{DeleteTopic: &metadata.DeleteTopic{ID: t.ID}})
		idx = append(idx, i)
	}
	if len(recs) > 0 {
		if _, err := c.commit(recs); err != nil {
			for _, i := range idx {
				errs[i] = err
			}
		}
	}
	return out, errs
}

// CreatePartitions grows a topic to total partitions.
func (c *Controller) CreatePartitions(ctx context.Context, name string, total int32, assignments [][]int32, validateOnly bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		return errNotController()
	}
	img := c.Image()
	t := img.Topics[name]
	if t == nil {
		return errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	// KRaft's checks and messages (ReplicationControlManager.createPartitions).
	have := int32(len(t.Partitions))
	if total == have {
		return errorf(kerr.InvalidPartitions, "Topic already has %d partition(s).", have)
	}
	if total < have {
		return errorf(kerr.InvalidPartitions, "The topic %s currently has %d partition(s); %d would not be an increase.", name, have, total)
	}
	add := total - have
	rf := len(t.Partitions[0].Replicas)
	var replicas [][]int32
	var err error
	if len(assignments) > 0 {
		if int32(len(assignments)) != add {
			return errorf(kerr.InvalidReplicaAssignment, "Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", add, len(assignments))
		}
		replicas, err = checkAssignment(img, assignments, have, rf)
	} else {
		replicas, err = newClusterPlacement(img).placeMore(t, add)
	}
	if err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	_, err = c.commitElecting([]metadata.Record{{AddPartitions: &metadata.AddPartitions{ID: t.ID, Replicas: replicas}}})
	return err
}

// AlterTopicConfig replaces topic's dynamic configs with what alter returns
// for the current ones. alter validates and reports INVALID_CONFIG itself.
func (c *Controller) AlterTopicConfig(ctx context.Context, name string, validateOnly bool, alter func(cur map[string]string) (map[string]string, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		return errNotController()
	}
	t := c.Image().Topics[name]
	if t == nil {
		return errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	next, err := alter(maps.Clone(t.Configs))
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return err
		}
		return errorf(kerr.InvalidConfig, "%v", err)
	}
	if c.cfg.ValidateConfigs != nil {
		if err := c.cfg.ValidateConfigs(next); err != nil {
			return errorf(kerr.InvalidConfig, "%v", err)
		}
	}
	if validateOnly || maps.Equal(next, t.Configs) {
		return nil
	}
	// Elections follow in the same entry when the change allows unclean
	// ones for partitions that have no leader.
	_, err = c.commitElecting([]metadata.Record{{SetTopicConfig: &metadata.SetTopicConfig{ID: t.ID, Configs: next}}})
	return err
}

// AlterBrokerConfig replaces the dynamic broker configs of one level
// (node nil: the cluster-wide defaults; else that broker's) with what alter
// returns for the current ones. alter validates; an error that is not
// already an *Error is answered INVALID_REQUEST, as Kafka answers a
// ConfigException about a broker config ("Invalid config value for
// resource ..."), unlike a topic config's INVALID_CONFIG.
func (c *Controller) AlterBrokerConfig(ctx context.Context, node *int32, validateOnly bool, alter func(cur map[string]string) (map[string]string, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		return errNotController()
	}
	img := c.Image()
	cur := img.DefaultBrokerConfigs
	if node != nil {
		cur = img.BrokerConfigs[*node]
	}
	if cur == nil {
		cur = map[string]string{}
	}
	next, err := alter(maps.Clone(cur))
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return err
		}
		return errorf(kerr.InvalidRequest, "%v", err)
	}
	if validateOnly || maps.Equal(next, cur) {
		return nil
	}
	if node != nil {
		n := *node
		node = &n
	}
	_, err = c.commitElecting([]metadata.Record{{SetBrokerConfig: &metadata.SetBrokerConfig{NodeID: node, Configs: next}}})
	return err
}

// AllocateProducerIDs commits a block of size producer ids for nodeID and
// returns its first id.
func (c *Controller) AllocateProducerIDs(ctx context.Context, nodeID int32, size int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		return 0, errNotController()
	}
	first := c.Image().NextProducerID
	if first > math.MaxInt64-size {
		return 0, errorf(kerr.UnknownServerError, "producer ids exhausted")
	}
	_, err := c.commit([]metadata.Record{{ProducerIDs: &metadata.ProducerIDs{NodeID: nodeID, First: first, Size: size}}})
	return first, err
}
