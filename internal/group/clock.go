package group

import "github.com/samsa-kafka/samsa/internal/coordinator"

// Clock and Timer are the coordinator runtime's: the wall clock in a
// broker, a manual clock in tests.
type (
	Clock = coordinator.Clock
	Timer = coordinator.Timer
)

type wallClock = coordinator.WallClock
