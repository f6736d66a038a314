package metadata

import "testing"

// TestTransactionVersionLevels: transaction.version is finalized at the
// levels this build supports (0 to 2), and any other is refused, so a node
// never runs transactions at a level it does not know.
func TestTransactionVersionLevels(t *testing.T) {
	t.Parallel()
	im := Empty("c1", 1)
	for level := int16(MinTransactionVersion); level <= MaxTransactionVersion; level++ {
		next, err := im.Apply(int64(level), Record{FeatureLevel: &FeatureLevel{Name: TransactionVersionFeature, Level: level}})
		if err != nil || next.Features[TransactionVersionFeature] != level {
			t.Fatalf("level %d: %v %v", level, err, next.Features)
		}
		im = next
	}
	for _, level := range []int16{-1, MaxTransactionVersion + 1} {
		if _, err := im.Apply(10, Record{FeatureLevel: &FeatureLevel{Name: TransactionVersionFeature, Level: level}}); err == nil {
			t.Fatalf("level %d accepted", level)
		}
	}
}
