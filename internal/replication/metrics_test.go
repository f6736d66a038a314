package replication

import "testing"

func TestCountISRChange(t *testing.T) {
	t.Parallel()
	m := &Manager{}
	for _, step := range []struct {
		old, isr                []int32
		wantShrinks, wantExpand uint64
	}{
		{[]int32{1, 2, 3}, []int32{1, 2}, 1, 0},
		{[]int32{1, 2}, []int32{1, 2, 3}, 1, 1},
		{[]int32{1, 2, 3}, []int32{1, 2, 3}, 1, 1}, // a new partition epoch, same members
		{[]int32{1, 2}, []int32{1, 3}, 2, 2},
	} {
		m.countISRChange(step.old, step.isr)
		if s, e := m.ISRChanges(); s != step.wantShrinks || e != step.wantExpand {
			t.Fatalf("after %v -> %v: %d shrinks, %d expands; want %d, %d", step.old, step.isr, s, e, step.wantShrinks, step.wantExpand)
		}
	}
}
