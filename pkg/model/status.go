package model

// RolloutStatus is the lifecycle state of a rollout.
type RolloutStatus string

const (
	RolloutQueuing   RolloutStatus = "queuing"
	RolloutPreparing RolloutStatus = "preparing"
	RolloutRunning   RolloutStatus = "running"
	RolloutFailed    RolloutStatus = "failed"
	RolloutSucceeded RolloutStatus = "succeeded"
	RolloutCancelled RolloutStatus = "cancelled"
	RolloutRequeuing RolloutStatus = "requeuing"
)

// RolloutStatuses lists every valid rollout status.
var RolloutStatuses = []RolloutStatus{RolloutQueuing, RolloutPreparing, RolloutRunning, RolloutFailed, RolloutSucceeded, RolloutCancelled, RolloutRequeuing}

// Valid reports whether s is a known rollout status.
func (s RolloutStatus) Valid() bool {
	for _, v := range RolloutStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// Queued reports whether the rollout waits in the queue.
func (s RolloutStatus) Queued() bool { return s == RolloutQueuing || s == RolloutRequeuing }

// Active reports whether the rollout has a live attempt.
func (s RolloutStatus) Active() bool { return s == RolloutPreparing || s == RolloutRunning }

// Finished reports whether the rollout reached a terminal state.
func (s RolloutStatus) Finished() bool {
	return s == RolloutFailed || s == RolloutSucceeded || s == RolloutCancelled
}

// AttemptStatus is the lifecycle state of one attempt.
type AttemptStatus string

const (
	AttemptPreparing    AttemptStatus = "preparing"
	AttemptRunning      AttemptStatus = "running"
	AttemptFailed       AttemptStatus = "failed"
	AttemptSucceeded    AttemptStatus = "succeeded"
	AttemptUnresponsive AttemptStatus = "unresponsive"
	AttemptTimeout      AttemptStatus = "timeout"
)

// AttemptStatuses lists every valid attempt status.
var AttemptStatuses = []AttemptStatus{AttemptPreparing, AttemptRunning, AttemptFailed, AttemptSucceeded, AttemptUnresponsive, AttemptTimeout}

// Valid reports whether s is a known attempt status.
func (s AttemptStatus) Valid() bool {
	for _, v := range AttemptStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// Ended reports whether the attempt will receive no more work from its runner.
func (s AttemptStatus) Ended() bool {
	return s == AttemptFailed || s == AttemptSucceeded || s == AttemptTimeout || s == AttemptUnresponsive
}

// WorkerStatus is derived from attempt transitions; clients never set it.
type WorkerStatus string

const (
	WorkerIdle    WorkerStatus = "idle"
	WorkerBusy    WorkerStatus = "busy"
	WorkerUnknown WorkerStatus = "unknown"
)

// Valid reports whether s is a known worker status.
func (s WorkerStatus) Valid() bool { return s == WorkerIdle || s == WorkerBusy || s == WorkerUnknown }

// RolloutMode tells what a rollout is for.
type RolloutMode string

const (
	ModeTrain RolloutMode = "train"
	ModeVal   RolloutMode = "val"
	ModeTest  RolloutMode = "test"
)

// Valid reports whether m is a known mode.
func (m RolloutMode) Valid() bool { return m == ModeTrain || m == ModeVal || m == ModeTest }
