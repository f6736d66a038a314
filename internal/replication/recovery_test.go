package replication

import (
	"testing"
	"time"
)

func TestRecoverySummary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tally *recoveryTally
		want  string
	}{
		{&recoveryTally{}, "no partition logs to load"},
		{&recoveryTally{created: 2}, "no partition logs to load; created 2 new partition logs"},
		{&recoveryTally{loaded: 57}, "loaded 57 partitions in 840ms (clean shutdown: no recovery needed)"},
		{&recoveryTally{loaded: 57, unclean: 3, scanned: 1288490189},
			"recovered 57 partitions (3 after an unclean shutdown, 1.2 GB scanned) in 840ms"},
		{&recoveryTally{loaded: 4, unclean: 4, scanned: 1000, truncated: 2048, created: 1},
			"recovered 4 partitions (4 after an unclean shutdown, 1000 B scanned, 2.0 KB of torn or corrupt tail cut off) in 840ms; created 1 new partition logs"},
	} {
		if got := tc.tally.summary(840 * time.Millisecond); got != tc.want {
			t.Errorf("%d loaded, %d created, %d unclean:\n got %s\nwant %s", tc.tally.loaded, tc.tally.created, tc.tally.unclean, got, tc.want)
		}
	}
}
