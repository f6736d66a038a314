package main

import (
	"errors"
	"testing"
)

func TestE2ETracker(t *testing.T) {
	t.Parallel()
	tr := newE2ETracker(5)
	tr.ack(0, nil)
	tr.receive(0)
	tr.receive(1) // received before its acknowledgement
	tr.ack(1, nil)
	tr.ack(2, nil)
	tr.ack(3, errors.New("boom"))
	tr.ack(4, nil)
	if tr.receive(0) {
		t.Error("second receipt of 0 reported as first")
	}
	tr.finishSending()
	select {
	case <-tr.done:
		t.Fatal("done before 2 and 4 arrived")
	default:
	}
	tr.receive(3) // failed to produce (as far as we know) yet arrived
	tr.receive(2)
	tr.receive(4)
	select {
	case <-tr.done:
	default:
		t.Fatal("not done after every acknowledged record arrived")
	}
	acked, failed, received, missing, dups := tr.counts()
	if acked != 4 || failed != 1 || received != 5 || missing != 0 || dups != 1 {
		t.Fatalf("counts = acked %d, failed %d, received %d, missing %d, dups %d; want 4, 1, 5, 0, 1",
			acked, failed, received, missing, dups)
	}
}

func TestE2ETrackerMissing(t *testing.T) {
	t.Parallel()
	tr := newE2ETracker(3)
	for seq := range int64(3) {
		tr.ack(seq, nil)
	}
	tr.receive(1)
	tr.finishSending()
	if _, _, received, missing, _ := tr.counts(); received != 1 || missing != 2 {
		t.Fatalf("received %d, missing %d; want 1, 2", received, missing)
	}
}
