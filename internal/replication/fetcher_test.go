package replication

import "testing"

// TestTruncationOffset covers Kafka's getOffsetTruncationState cases: the
// follower's log (leo, hw) against the leader's end offset for an epoch.
func TestTruncationOffset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		leaderEpoch       int32
		leaderEnd         int64
		localEpoch        int32
		localEnd, leo, hw int64
		want              int64
		wantDone          bool
	}{
		// The leader has no offset for the epoch: keep the committed part.
		{"leader undefined", -1, -1, -1, -1, 100, 40, 40, true},
		{"leader undefined hw above leo", -1, -1, -1, -1, 30, 40, 30, true},
		// The leader names no epoch: cut to its end offset.
		{"leader epoch undefined", -1, 70, 3, 100, 100, 40, 70, true},
		// The follower does not know the epoch at all.
		{"follower undefined", 5, 70, -1, -1, 100, 40, 70, true},
		{"follower undefined short log", 5, 70, -1, -1, 50, 40, 50, true},
		// Same epoch: the smaller of the two ends.
		{"same epoch leader shorter", 5, 70, 5, 90, 100, 40, 70, true},
		{"same epoch follower shorter", 5, 90, 5, 70, 100, 40, 70, true},
		{"same epoch nothing to cut", 5, 100, 5, 100, 100, 40, 100, true},
		// The follower knows only a smaller epoch: cut to its end and
		// ask again.
		{"follower behind in epochs", 5, 90, 3, 60, 100, 40, 60, false},
		{"follower behind leader end smaller", 5, 50, 3, 60, 100, 40, 50, false},
	}
	for _, tc := range tests {
		got, done := truncationOffset(tc.leaderEpoch, tc.leaderEnd, tc.localEpoch, tc.localEnd, tc.leo, tc.hw)
		if got != tc.want || done != tc.wantDone {
			t.Errorf("%s: truncationOffset = (%d, %v), want (%d, %v)", tc.name, got, done, tc.want, tc.wantDone)
		}
	}
}
