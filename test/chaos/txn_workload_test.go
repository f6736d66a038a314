package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnRecorder collects a TxnHistory from many goroutines, and what
// explains an anomaly beside it: when each transaction ran and what its
// client saw, and which broker served each read.
type txnRecorder struct {
	mu       sync.Mutex
	txns     []Txn
	reads    []TxnRead
	txnMeta  map[string]txnMeta
	readMeta map[readKey][]readMeta
}

// txnMeta is when a transaction ran and what its client saw.
type txnMeta struct {
	began, ended time.Time
	note         string
}

type readKey struct {
	tp     TP
	offset int64
}

// readMeta is one read of a record: who read it when, from which broker,
// and the fetch's last stable offset and high watermark.
type readMeta struct {
	consumer int
	at       time.Time
	node     int32
	lso, hw  int64
}

func (r *txnRecorder) txn(t Txn, m txnMeta) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.txns = append(r.txns, t)
	if r.txnMeta == nil {
		r.txnMeta = map[string]txnMeta{}
	}
	r.txnMeta[t.ID] = m
}

func (r *txnRecorder) read(rs []TxnRead, ms []readMeta) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads = append(r.reads, rs...)
	if r.readMeta == nil {
		r.readMeta = map[readKey][]readMeta{}
	}
	for i, rd := range rs {
		k := readKey{rd.TP, rd.Offset}
		r.readMeta[k] = append(r.readMeta[k], ms[i])
	}
}

// explain describes the transactions and reads behind the first limit
// anomalies of a report.
func (r *txnRecorder) explain(rep TxnReport, limit int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	txns := map[string]bool{}
	reads := map[readKey]bool{}
	for i, a := range rep.Anomalies {
		if i == limit {
			break
		}
		if a.Txn != "" && !txns[a.Txn] {
			txns[a.Txn] = true
			m := r.txnMeta[a.Txn]
			for _, t := range r.txns {
				if t.ID == a.Txn {
					fmt.Fprintf(&b, "txn %s: %s, began %s, ended %s; %s; writes %v\n", t.ID, t.Outcome,
						m.began.Format("15:04:05.000"), m.ended.Format("15:04:05.000"), m.note, t.Writes)
				}
			}
		}
		k := readKey{a.TP, a.Offset}
		if ms := r.readMeta[k]; len(ms) > 0 && !reads[k] {
			reads[k] = true
			for _, m := range ms {
				fmt.Fprintf(&b, "read of %s offset %d by consumer %d at %s from node %d (fetch: last stable offset %d, high watermark %d)\n",
					a.TP, a.Offset, m.consumer, m.at.Format("15:04:05.000"), m.node, m.lso, m.hw)
			}
		}
	}
	return b.String()
}

// batchNodes is a kgo hook that remembers which broker served the last
// batch read of each partition.
type batchNodes struct {
	mu   sync.Mutex
	last map[int32]int32
}

func (h *batchNodes) OnFetchBatchRead(meta kgo.BrokerMetadata, _ string, partition int32, _ kgo.FetchBatchMetrics) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last[partition] = meta.NodeID
}

func (h *batchNodes) node(partition int32) int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last[partition]
}

// counts is the transactions recorded so far by outcome.
func (r *txnRecorder) counts() map[Outcome]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[Outcome]int{}
	for _, t := range r.txns {
		out[t.Outcome]++
	}
	return out
}

// txnTimeout is every transactional client's transaction.timeout.ms: short,
// so a transaction its client abandoned (a crashed ETL member that is not
// restarted, a producer closed mid-transaction) is aborted by the
// coordinator soon after the run.
const txnTimeout = 20 * time.Second

// txnWorkload is the transactional clients running against a cluster:
// producer-only transactions over the data topic, read_committed consumers
// of it, and a consume-transform-produce group copying the input topic to
// the output topic.
type txnWorkload struct {
	seeds []string
	seed  uint64
	rec   *txnRecorder

	data      string
	dataParts int32

	in, out  string
	etlParts int32 // of the input and the output
	group    string

	// ending carries the transactional id of a producer that is about to
	// send EndTxn (the nemesis waits on it to kill a coordinator then);
	// sends never block.
	ending chan string

	stopProd, stopCons, stopFeed, stopCrash, stopMembers chan struct{}
	prodWG, consWG, feedWG, crashWG, memberWG, closeWG   sync.WaitGroup

	sessions atomic.Int64 // consumer sessions started
	members  []*etlSlot
	crashes  map[string]int // member crashes by how
	stuck    []string       // clients the watchdog closed
	crashMu  sync.Mutex
}

func newTxnWorkload(seeds []string, seed uint64) *txnWorkload {
	return &txnWorkload{seeds: seeds, seed: seed, rec: &txnRecorder{},
		data: "txn-data", dataParts: 6, in: "txn-in", out: "txn-out", etlParts: 4, group: "txn-etl",
		ending:   make(chan string, 1),
		stopProd: make(chan struct{}), stopCons: make(chan struct{}), stopFeed: make(chan struct{}),
		stopCrash: make(chan struct{}), stopMembers: make(chan struct{}), crashes: map[string]int{}}
}

// producerTxnID is the transactional id of producer id.
func producerTxnID(id int) string { return fmt.Sprintf("txn-chaos-%d", id) }

// memberTxnID is the transactional id of ETL member slot: a restarted
// member takes its predecessor's id, so its InitProducerId fences the
// predecessor and ends its transaction at once (KIP-98), as a restarted
// Kafka Streams task does.
func memberTxnID(slot int) string { return fmt.Sprintf("txn-etl-%d", slot) }

// txnClientOpts are every transactional client's.
func txnClientOpts(seeds []string, txnID string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(txnTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(15 * time.Second),
		kgo.ProduceRequestTimeout(5 * time.Second),
		kgo.DialTimeout(2 * time.Second),
		kgo.ProducerLinger(2 * time.Millisecond),
		kgo.MetadataMinAge(250 * time.Millisecond),
	}
}

// startProducer runs transactional producer id: transaction after
// transaction, each writing 1-5 records to random partitions of the data
// topic; one in five is aborted on purpose. A client whose transaction
// ended in an error is replaced by a new one with the same transactional
// id (its InitProducerId fences what is left of the old one).
func (w *txnWorkload) startProducer(id int) {
	w.prodWG.Add(1)
	go func() {
		defer w.prodWG.Done()
		rng := rand.New(rand.NewPCG(w.seed, uint64(id)+1))
		txnID := producerTxnID(id)
		n := 0
		for !closed(w.stopProd) {
			cl, err := kgo.NewClient(append(txnClientOpts(w.seeds, txnID), kgo.DefaultProduceTopic(w.data))...)
			if err != nil {
				return
			}
			closeCl := sync.OnceFunc(cl.Close)
			done := w.watchdog(w.stopProd, fmt.Sprintf("producer %d", id), closeCl)
			for !closed(w.stopProd) && w.producerTxn(cl, txnID, fmt.Sprintf("p%d", id), &n, rng) {
				select {
				case <-w.stopProd:
				case <-time.After(time.Duration(rng.IntN(20)) * time.Millisecond):
				}
			}
			close(done)
			closeCl()
		}
	}()
}

// producerTxn runs one transaction and records it; false means the client
// should be replaced.
func (w *txnWorkload) producerTxn(cl *kgo.Client, txnID, name string, n *int, rng *rand.Rand) bool {
	m := txnMeta{began: time.Now()}
	if err := cl.BeginTransaction(); err != nil {
		return false
	}
	*n++
	t := Txn{ID: fmt.Sprintf("%s.%d", name, *n)}
	k := 1 + rng.IntN(5)
	abort := rng.IntN(5) == 0
	var failed atomic.Pointer[error]
	var promised sync.WaitGroup
	for j := range k {
		wr := TxnWrite{TP: TP{w.data, int32(rng.IntN(int(w.dataParts)))}, Value: fmt.Sprintf("%s#%d/%d", t.ID, j, k)}
		t.Writes = append(t.Writes, wr)
	}
	for j, wr := range t.Writes {
		promised.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Partition: wr.Partition, Value: []byte(wr.Value)}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			} else {
				t.Writes[j].Acked = true // read after promised.Wait
			}
			promised.Done()
		})
	}
	// Every promise is called within the delivery timeout.
	promised.Wait()
	commit := !abort && failed.Load() == nil
	switch {
	case abort:
		m.note = "aborted on purpose"
	case !commit:
		m.note = fmt.Sprintf("a produce failed (%v)", *failed.Load())
	}
	select {
	case w.ending <- txnID:
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit))
	switch {
	case !commit:
		// Whatever the answer, nothing asked for a commit: the
		// transaction aborted, by this EndTxn, by the timeout, or by
		// the next InitProducerId's fencing.
		t.Outcome = Aborted
	case err == nil:
		t.Outcome = Committed
	case errors.Is(err, kerr.OperationNotAttempted):
		// kgo did not send the commit (the producer id had failed).
		t.Outcome = Aborted
	default:
		t.Outcome = Unknown
	}
	m.ended = time.Now()
	if err != nil {
		m.note += fmt.Sprintf("; EndTxn: %v", err)
	}
	w.rec.txn(t, m)
	if err != nil {
		// The documented recovery: end again with an abort, which
		// reloads the producer id and fences the unconfirmed attempt.
		if cl.EndTransaction(ctx, kgo.TryAbort) != nil {
			return false
		}
	}
	return true
}

func (w *txnWorkload) stopProducers() {
	close(w.stopProd)
	w.prodWG.Wait()
}

// startConsumer runs a read_committed consumer of every data partition
// from the start, in sessions of sessionLen (each a new client resuming
// after what it read).
func (w *txnWorkload) startConsumer(sessionLen time.Duration) {
	w.consWG.Add(1)
	go func() {
		defer w.consWG.Done()
		next := map[int32]kgo.Offset{}
		for p := range w.dataParts {
			next[p] = kgo.NewOffset().AtStart()
		}
		for !closed(w.stopCons) {
			w.consumerSession(next, sessionLen)
		}
	}()
}

func (w *txnWorkload) consumerSession(next map[int32]kgo.Offset, d time.Duration) {
	id := int(w.sessions.Add(1))
	offsets := map[int32]kgo.Offset{}
	for p, o := range next {
		offsets[p] = o
	}
	nodes := &batchNodes{last: map[int32]int32{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.data: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.WithHooks(nodes),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.DialTimeout(2*time.Second),
		kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	go func() {
		select {
		case <-w.stopCons:
			cancel()
		case <-ctx.Done():
		}
	}()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		now := time.Now()
		var rs []TxnRead
		var ms []readMeta
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			m := readMeta{consumer: id, at: now, node: nodes.node(p.Partition), lso: p.LastStableOffset, hw: p.HighWatermark}
			for _, r := range p.Records {
				rs = append(rs, TxnRead{Consumer: id, TP: TP{r.Topic, r.Partition}, Offset: r.Offset, Value: string(r.Value)})
				ms = append(ms, m)
				next[r.Partition] = kgo.NewOffset().At(r.Offset + 1)
			}
		})
		w.rec.read(rs, ms)
	}
}

func (w *txnWorkload) stopConsumers() {
	close(w.stopCons)
	w.consWG.Wait()
}

// fillInput produces perPartition records to every input partition
// (idempotent, acks=all) and then, until stopped, one record every tick,
// round-robin: the ETL has work before the faults and throughout them.
// Records the cluster does not acknowledge may or may not be in the
// input; the input's final read says which are.
func (w *txnWorkload) fillInput(ctx context.Context, perPartition int, tick time.Duration) error {
	cl, err := kgo.NewClient(append(producerOpts(w.seeds, w.in), kgo.RecordDeliveryTimeout(time.Minute))...)
	if err != nil {
		return err
	}
	seq := 0
	record := func() *kgo.Record {
		p := int32(seq % int(w.etlParts))
		seq++
		return &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("in%d-%d", p, seq))}
	}
	var rs []*kgo.Record
	for range perPartition * int(w.etlParts) {
		rs = append(rs, record())
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		cl.Close()
		return fmt.Errorf("filling %s: %w", w.in, err)
	}
	w.feedWG.Add(1)
	go func() {
		defer w.feedWG.Done()
		defer cl.Close()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-w.stopFeed:
				fctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_ = cl.Flush(fctx)
				cancel()
				return
			case <-t.C:
				cl.Produce(context.Background(), record(), nil)
			}
		}
	}()
	return nil
}

func (w *txnWorkload) stopInput() {
	close(w.stopFeed)
	w.feedWG.Wait()
}

// Member crashes: how a crash lands in a member's transaction.
const (
	crashBeforeEnd = "before-end" // records produced, End never called
	crashDuringEnd = "during-end" // while End runs (its outcome is then whatever End says)
	crashIdle      = "between"    // between transactions
)

// etlSlot is one ETL member position: its incarnations run one after the
// other under one transactional id.
type etlSlot struct {
	slot    int
	crash   atomic.Pointer[string] // a crash asked of the running incarnation
	n       int                    // transactions begun, over every incarnation
	started int                    // incarnations
}

// startMembers runs n ETL member slots.
func (w *txnWorkload) startMembers(n int) {
	for i := range n {
		s := &etlSlot{slot: i}
		w.members = append(w.members, s)
		w.memberWG.Add(1)
		go func() {
			defer w.memberWG.Done()
			rng := rand.New(rand.NewPCG(w.seed, 1000+uint64(i)))
			for !closed(w.stopMembers) {
				w.runMember(s, rng)
			}
		}()
	}
}

// crashMembers asks a random member to crash every 2-8 s, until stopped.
func (w *txnWorkload) crashMembers() {
	w.crashWG.Add(1)
	go func() {
		defer w.crashWG.Done()
		rng := rand.New(rand.NewPCG(w.seed, 2000))
		for {
			select {
			case <-w.stopCrash:
				return
			case <-time.After(2*time.Second + time.Duration(rng.Int64N(int64(6*time.Second)))):
			}
			how := []string{crashBeforeEnd, crashDuringEnd, crashIdle}[rng.IntN(3)]
			w.members[rng.IntN(len(w.members))].crash.Store(&how)
		}
	}()
}

func (w *txnWorkload) stopMemberCrashes() {
	close(w.stopCrash)
	w.crashWG.Wait()
	for _, s := range w.members {
		s.crash.Store(nil)
	}
}

func (w *txnWorkload) stopAllMembers() {
	close(w.stopMembers)
	w.memberWG.Wait()
	// Crashed members' clients close in the background; they hold no
	// connection, so this is quick.
	w.closeWG.Wait()
}

// crashDialer dials for one client until it is killed: then every
// connection it made is closed at once and every later dial fails, so the
// brokers see the client vanish as a process killed with -9 would (no
// LeaveGroup, no EndTxn).
type crashDialer struct {
	mu    sync.Mutex
	dead  bool
	conns []net.Conn
}

func (d *crashDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	dead := d.dead
	d.mu.Unlock()
	if dead {
		return nil, errors.New("crashed")
	}
	conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		conn.Close()
		return nil, errors.New("crashed")
	}
	d.conns = append(d.conns, conn)
	return conn, nil
}

func (d *crashDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	for _, c := range d.conns {
		c.Close()
	}
}

// unconfirmedLogger watches kgo's log for GroupTransactSession.End turning
// a commit whose outcome is unconfirmed (UNKNOWN_SERVER_ERROR) into an
// abort: End then answers "not committed" although the commit may have
// happened, so the transaction's outcome is unknown.
type unconfirmedLogger struct{ seen atomic.Bool }

func (l *unconfirmedLogger) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (l *unconfirmedLogger) Log(_ kgo.LogLevel, msg string, _ ...any) {
	if strings.Contains(msg, "unconfirmed") {
		l.seen.Store(true)
	}
}

// runMember is one incarnation of an ETL member: a GroupTransactSession
// that copies every input record it polls to the output partition of the
// same number, in a transaction that commits the group's offsets, until
// the workload stops it (a clean close) or a crash is asked of it.
func (w *txnWorkload) runMember(s *etlSlot, rng *rand.Rand) {
	s.started++
	d := &crashDialer{}
	lg := &unconfirmedLogger{}
	opts := append(txnClientOpts(w.seeds, memberTxnID(s.slot)),
		kgo.Dialer(d.dial),
		kgo.WithLogger(lg),
		kgo.ConsumerGroup(w.group),
		kgo.ConsumeTopics(w.in),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.RebalanceTimeout(15*time.Second),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return
	}
	closeSess := sync.OnceFunc(sess.Close)
	done := w.watchdog(w.stopMembers, fmt.Sprintf("ETL member %d", s.slot), closeSess)
	defer close(done)
	crash := func(how string) {
		w.crashMu.Lock()
		w.crashes[how]++
		w.crashMu.Unlock()
		d.kill()
		w.closeWG.Add(1)
		go func() {
			defer w.closeWG.Done()
			// A canceled context leaves the group without waiting (no
			// request can reach a broker anyway), so Close is quick.
			canceled, cancel := context.WithCancel(context.Background())
			cancel()
			_ = sess.Client().LeaveGroupContext(canceled)
			closeSess()
		}()
	}
	for {
		if closed(w.stopMembers) {
			closeSess()
			return
		}
		how := ""
		if p := s.crash.Swap(nil); p != nil {
			how = *p
		}
		if how == crashIdle {
			crash(how)
			return
		}
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := sess.PollRecords(pctx, 100)
		cancel()
		recs := fs.Records()
		if len(recs) == 0 {
			if how != "" {
				s.crash.CompareAndSwap(nil, &how) // keep it for a transaction
			}
			continue
		}
		m := txnMeta{began: time.Now()}
		if err := sess.Begin(); err != nil {
			crash("begin-failed")
			return
		}
		s.n++
		t := Txn{ID: fmt.Sprintf("e%d.%d", s.slot, s.n)}
		var failed atomic.Bool
		var promised sync.WaitGroup
		for j, r := range recs {
			wr := TxnWrite{TP: TP{w.out, r.Partition % w.etlParts},
				Value: fmt.Sprintf("%s#%d/%d|%d:%d", t.ID, j, len(recs), r.Partition, r.Offset),
				Input: &Input{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)}}
			t.Writes = append(t.Writes, wr)
		}
		for j, wr := range t.Writes {
			promised.Add(1)
			sess.Produce(context.Background(), &kgo.Record{Topic: w.out, Partition: wr.Partition, Value: []byte(wr.Value)}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Store(true)
				} else {
					t.Writes[j].Acked = true // read after promised.Wait
				}
				promised.Done()
			})
		}
		if how == crashBeforeEnd {
			crash(how)
			promised.Wait() // the dead client fails them
			t.Outcome = Aborted
			m.ended, m.note = time.Now(), "crashed before End"
			w.rec.txn(t, m)
			return
		}
		promised.Wait()
		commit := !failed.Load()
		if how == crashDuringEnd {
			delay := time.Duration(rng.IntN(30)) * time.Millisecond
			w.closeWG.Add(1)
			go func() {
				defer w.closeWG.Done()
				time.Sleep(delay) // the schedule: somewhere in End's requests
				crash(how)
			}()
		}
		lg.seen.Store(false)
		ectx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		committed, err := sess.End(ectx, kgo.TransactionEndTry(commit))
		cancel()
		switch {
		case !commit:
			t.Outcome = Aborted
		case err != nil || lg.seen.Load():
			t.Outcome = Unknown
		case committed:
			t.Outcome = Committed
		default:
			// End aborted it: the group rebalanced, the offsets were
			// refused, or the commit was not attempted.
			t.Outcome = Aborted
		}
		m.ended = time.Now()
		m.note = fmt.Sprintf("commit asked %v, End: committed %v, error %v, unconfirmed logged %v, crash %q", commit, committed, err, lg.seen.Load(), how)
		w.rec.txn(t, m)
		if how == crashDuringEnd {
			return
		}
		if err != nil {
			// No error of End is retryable: start over, as a crashed
			// member would.
			closeSess()
			return
		}
	}
}

// crashSummary is the member crashes by kind.
func (w *txnWorkload) crashSummary() string {
	w.crashMu.Lock()
	defer w.crashMu.Unlock()
	var parts []string
	for _, how := range []string{crashBeforeEnd, crashDuringEnd, crashIdle, "begin-failed"} {
		if n := w.crashes[how]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", how, n))
		}
	}
	starts := 0
	for _, s := range w.members {
		starts += s.started
	}
	out := fmt.Sprintf("ETL member incarnations %d; crashes: %s", starts, strings.Join(parts, ", "))
	if len(w.stuck) > 0 {
		out += "\nstuck clients: " + strings.Join(w.stuck, "; ")
	}
	return out
}

// committedOffsets fetches the group's committed offsets of the input
// topic with RequireStable (KIP-447): an offset of a transaction still
// open is refused (UNSTABLE_OFFSET_COMMIT) rather than answered, so this
// polls until none is open.
func committedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	var last error
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resps, err := adm.FetchOffsets(kadm.RequireStable(rctx), group)
		cancel()
		if err == nil {
			err = resps.Error()
		}
		if err == nil {
			out := map[int32]int64{}
			resps.Each(func(o kadm.OffsetResponse) {
				if o.Topic == topic && o.At >= 0 {
					out[o.Partition] = o.At
				}
			})
			return out, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("committed offsets of %s: %w", group, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// watchdog closes a client (with closeFn) that is still running a minute
// and a half after stop closed, and notes it: a client stuck that long on a
// healed cluster (kgo retries InitProducerId on CONCURRENT_TRANSACTIONS
// without end, for one) is a liveness failure worth a line, and must not
// hang the run. Close the returned channel once the client is done.
func (w *txnWorkload) watchdog(stop chan struct{}, who string, closeFn func()) chan struct{} {
	done := make(chan struct{})
	go func() {
		select {
		case <-stop:
		case <-done:
			return
		}
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			w.crashMu.Lock()
			w.stuck = append(w.stuck, fmt.Sprintf("%s still running 90 s after the stop (closed)", who))
			w.crashMu.Unlock()
			closeFn()
		}
	}()
	return done
}

// closed reports whether ch is closed.
func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// sentinelPrefix starts the values readTxnTopic appends to find the end
// of a partition; it leaves them out of what it returns.
const sentinelPrefix = "sentinel-"

// writeSentinels appends one record (not transactional, acks=all) to each
// of topic's partitions and returns the offset it got in each: a reader
// that reaches it has read everything before it, which a read_committed
// reader cannot otherwise tell (a partition's last offsets are markers,
// which no consumer sees).
func writeSentinels(ctx context.Context, seeds []string, topic string, partitions int32) (map[int32]int64, error) {
	cl, err := kgo.NewClient(producerOpts(seeds, topic)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var rs []*kgo.Record
	for p := range partitions {
		rs = append(rs, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("%s%d", sentinelPrefix, p))})
	}
	res := cl.ProduceSync(ctx, rs...)
	if err := res.FirstErr(); err != nil {
		return nil, fmt.Errorf("sentinels of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	for _, r := range res {
		out[r.Record.Partition] = r.Record.Offset
	}
	return out, nil
}

// readTxnTopic reads every partition of topic from the start up to its
// sentinel (at the offsets writeSentinels returned) at the given isolation
// level, as one client.
func readTxnTopic(ctx context.Context, seeds []string, topic string, sentinels map[int32]int64, isolation kgo.IsolationLevel) (map[TP][]Record, error) {
	out := map[TP][]Record{}
	offsets := map[int32]kgo.Offset{}
	for p := range sentinels {
		out[TP{topic, p}] = nil
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(isolation),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	done := map[int32]bool{}
	for len(done) < len(sentinels) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("reading %s: %w (%d of %d partitions read to their sentinel)", topic, ctx.Err(), len(done), len(sentinels))
		}
		fs.EachRecord(func(r *kgo.Record) {
			switch {
			case done[r.Partition]:
			case r.Offset >= sentinels[r.Partition]:
				done[r.Partition] = true
			case strings.HasPrefix(string(r.Value), sentinelPrefix):
				// An earlier reader's sentinel.
			default:
				tp := TP{topic, r.Partition}
				out[tp] = append(out[tp], Record{Offset: r.Offset, Value: string(r.Value)})
			}
		})
	}
	return out, nil
}
