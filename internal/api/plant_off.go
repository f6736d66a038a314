//go:build !samsa_planted_ackearly

package api

// plantedAckEarly is false in every real build. See plant_on.go.
const plantedAckEarly = false
