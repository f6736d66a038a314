package txn

import (
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Describe is DescribeTransactions for one id (Kafka's
// handleDescribeTransactions): its producer, state, timeout, start and
// partitions; TRANSACTIONAL_ID_NOT_FOUND for an id this coordinator does
// not know (or that is expiring), INVALID_REQUEST for an empty one,
// NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS when it cannot answer.
func (c *Coordinator) Describe(id string) kmsg.DescribeTransactionsResponseTransactionState {
	out := kmsg.NewDescribeTransactionsResponseTransactionState()
	out.TransactionalID = id
	out.ProducerID, out.ProducerEpoch, out.StartTimestamp = -1, -1, -1
	if id == "" {
		out.ErrorCode = kerr.InvalidRequest.Code
		return out
	}
	s, err := c.acquire(id)
	if err != nil {
		out.ErrorCode = kerr.CoordinatorNotAvailable.Code
		var ke *kerr.Error
		if errors.As(err, &ke) {
			out.ErrorCode = ke.Code
		}
		return out
	}
	defer s.mu.Unlock()
	m := s.txns[id]
	if m == nil || (m.pending != nil && m.pending.state == Dead) {
		out.ErrorCode = kerr.TransactionalIDNotFound.Code
		return out
	}
	out.ProducerID, out.ProducerEpoch = m.producerID, m.epoch
	out.State = m.state.String()
	out.TimeoutMillis = m.timeoutMs
	out.StartTimestamp = m.startMs
	out.Topics = []kmsg.DescribeTransactionsResponseTransactionStateTopic{}
	for _, tp := range m.sortedPartitions() {
		if n := len(out.Topics); n == 0 || out.Topics[n-1].Topic != tp.Topic {
			out.Topics = append(out.Topics, kmsg.DescribeTransactionsResponseTransactionStateTopic{Topic: tp.Topic})
		}
		last := &out.Topics[len(out.Topics)-1]
		last.Partitions = append(last.Partitions, tp.Partition)
	}
	return out
}

// ListFilter is ListTransactions' filter: states by name, producer ids,
// transactions running longer than DurationMs (v1; -1 none), ids matching
// Pattern (v2; nil none). Empty lists filter nothing.
type ListFilter struct {
	States      []string
	ProducerIDs []int64
	DurationMs  int64
	Pattern     *regexp.Regexp
}

// CompilePattern compiles ListTransactions v2's transactional id pattern
// (RE2 syntax, as the protocol says), which must match a whole id, as
// Kafka's Pattern.matches does; INVALID_REGULAR_EXPRESSION when it does
// not compile. An empty pattern filters nothing (nil).
func CompilePattern(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, nil
	}
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		return nil, kerr.InvalidRegularExpression
	}
	return re, nil
}

// List is ListTransactions (Kafka's listTransactionStates) over every
// partition this node coordinates: COORDINATOR_LOAD_IN_PROGRESS while one
// is loading; state names the filter does not know are returned apart;
// ids being expired (Dead) are left out. The answer is sorted by id.
func (c *Coordinator) List(f ListFilter) (states []kmsg.ListTransactionsResponseTransactionState, unknownStates []string, err error) {
	shards, loading, err := c.loadedShards()
	if err != nil {
		return nil, nil, err
	}
	if loading {
		return nil, nil, kerr.CoordinatorLoadInProgress
	}
	want := map[State]bool{}
	for _, name := range f.States {
		if st, ok := stateByName(name); ok {
			want[st] = true
		} else {
			unknownStates = append(unknownStates, name)
		}
	}
	now := c.nowMs()
	for _, s := range shards {
		s.mu.Lock()
		for _, m := range s.txns {
			switch {
			case m.state == Dead || (m.pending != nil && m.pending.state == Dead):
			case len(f.ProducerIDs) > 0 && !slices.Contains(f.ProducerIDs, m.producerID):
			case len(f.States) > 0 && !want[m.state]:
			case f.DurationMs >= 0 && now-m.startMs <= f.DurationMs:
			case f.Pattern != nil && !f.Pattern.MatchString(m.id):
			default:
				st := kmsg.NewListTransactionsResponseTransactionState()
				st.TransactionalID, st.ProducerID, st.TransactionState = m.id, m.producerID, m.state.String()
				states = append(states, st)
			}
		}
		s.mu.Unlock()
	}
	slices.SortFunc(states, func(a, b kmsg.ListTransactionsResponseTransactionState) int {
		return strings.Compare(a.TransactionalID, b.TransactionalID)
	})
	return states, unknownStates, nil
}

// stateByName is Kafka's TransactionState.fromName.
func stateByName(name string) (State, bool) {
	for st := Empty; st <= PrepareEpochFence; st++ {
		if st.String() == name {
			return st, true
		}
	}
	return 0, false
}
