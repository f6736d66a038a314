package replication

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/units"
)

// recoveryTally adds up what opening the replicas at start-up took, so
// that the broker says in one line whether recovery ran and what it cost,
// rather than one line per log.
type recoveryTally struct {
	mu        sync.Mutex // replicas open in parallel
	start     time.Time
	loaded    int // existing logs opened
	created   int // logs that did not exist yet
	unclean   int // existing logs without a clean-shutdown marker
	scanned   int64
	truncated int64
}

// add counts one opened log; a nil tally (not at start-up) ignores it.
func (t *recoveryTally) add(r log.Recovery) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if r.Fresh {
		t.created++
		return
	}
	t.loaded++
	if !r.Clean {
		t.unclean++
	}
	t.scanned += r.ScannedBytes
	t.truncated += r.TruncatedBytes
}

// log writes the summary line.
func (t *recoveryTally) log(l *slog.Logger, took time.Duration) {
	l.Info(t.summary(took.Round(time.Millisecond)),
		"partitions", t.loaded, "unclean", t.unclean, "created", t.created,
		"scanned_bytes", t.scanned, "truncated_bytes", t.truncated, "took", took.Round(time.Millisecond))
}

// summary is the sentence an operator reads first.
func (t *recoveryTally) summary(took time.Duration) string {
	var s string
	switch {
	case t.loaded == 0:
		s = "no partition logs to load"
	case t.unclean == 0:
		s = fmt.Sprintf("loaded %d partitions in %v (clean shutdown: no recovery needed)", t.loaded, took)
	default:
		detail := fmt.Sprintf("%d after an unclean shutdown, %s scanned", t.unclean, units.Bytes(t.scanned))
		if t.truncated > 0 {
			detail += fmt.Sprintf(", %s of torn or corrupt tail cut off", units.Bytes(t.truncated))
		}
		s = fmt.Sprintf("recovered %d partitions (%s) in %v", t.loaded, detail, took)
	}
	if t.created > 0 {
		s += fmt.Sprintf("; created %d new partition logs", t.created)
	}
	return s
}
