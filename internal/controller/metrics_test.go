package controller

import "testing"

// Elections counts each new leader the active controller commits, clean
// when the leader came from the ISR and unclean otherwise; a partition
// left without a leader is no election.
func TestElectionCounters(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, racked(3)...)
	createAssigned(t, c, "dirty", map[string]string{uncleanKey: "true"}, []int32{1, 2, 3})
	want := func(what string, clean, unclean uint64) {
		t.Helper()
		if gc, gu := c.Elections(); gc != clean || gu != unclean {
			t.Fatalf("%s: Elections() = %d clean, %d unclean; want %d, %d", what, gc, gu, clean, unclean)
		}
	}
	want("created", 0, 0)
	heartbeat(t, c, 1, true, false)
	wantState(t, "1 fenced", c, "dirty", 0, pstate{2, 1, 1, []int32{2, 3}})
	want("1 fenced", 1, 0)
	heartbeat(t, c, 2, true, false)
	want("2 fenced", 2, 0)
	heartbeat(t, c, 3, true, false)
	wantState(t, "all fenced", c, "dirty", 0, pstate{-1, 3, 3, []int32{3}})
	want("all fenced: offline, no election", 2, 0)
	heartbeat(t, c, 1, false, false)
	wantState(t, "1 back", c, "dirty", 0, pstate{1, 4, 4, []int32{1}})
	want("1 back: outside the ISR", 2, 1)
	if committed, applied := c.MetadataProgress(); committed != applied || applied <= 0 {
		t.Fatalf("MetadataProgress() = %d committed, %d applied; want equal and positive", committed, applied)
	}
}
