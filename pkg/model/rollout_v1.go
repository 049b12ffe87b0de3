package model

import "encoding/json"

// API families that own rollouts. A rollout's lifecycle follows the API that
// created it; the other API sees a projection of it (see RolloutExt).
const (
	APIv03 = "v0.3"
	APIv1  = "v1"
)

// Agent Lightning v1.0 rollout states. They are also v0.3 status names, so a
// v1-owned rollout's v0.3 status is its v1 state.
const (
	V1Queuing   = "queuing"
	V1Running   = "running"
	V1Succeeded = "succeeded"
	V1Failed    = "failed"
)

// V1Terminal reports whether a v1 state is final.
func V1Terminal(state string) bool { return state == V1Succeeded || state == V1Failed }

// V1Transition reports whether v1.0's guard allows from -> to: queuing to
// running or failed, running to succeeded or failed, nothing else (not even
// a state to itself).
func V1Transition(from, to string) bool {
	switch from {
	case V1Queuing:
		return to == V1Running || to == V1Failed
	case V1Running:
		return to == V1Succeeded || to == V1Failed
	}
	return false
}

// RolloutExt is what the store keeps about a rollout beyond v0.3's record:
// the API family that owns it, the v1.0 lifecycle fields and status.version,
// which counts status changes made through either API. A v0.3 rollout gets
// one at its first status change.
type RolloutExt struct {
	RolloutID string  `json:"rollout_id"`
	API       string  `json:"api"`
	Version   int     `json:"version"`
	CreatedAt float64 `json:"created_at"`
	UpdatedAt float64 `json:"updated_at"`

	// The v1.0 fields of a v1-owned rollout.
	IsTrain       bool            `json:"is_train"`
	Config        json.RawMessage `json:"config,omitempty"`
	K8sJobName    *string         `json:"k8s_job_name,omitempty"`
	LastAttemptID *string         `json:"last_attempt_id,omitempty"`
	ErrorMessage  *string         `json:"error_message,omitempty"`
}

// V1Rollout is Agent Lightning v1.0's Rollout, field for field in its JSON
// order.
type V1Rollout struct {
	RolloutID string          `json:"rollout_id"`
	Input     json.RawMessage `json:"input"`
	IsTrain   bool            `json:"is_train"`
	Config    json.RawMessage `json:"config"`
	Metadata  json.RawMessage `json:"metadata"`
	Status    V1Status        `json:"status"`
}

// V1Status is v1.0's RolloutLifecycleStatus.
type V1Status struct {
	State         string  `json:"state"`
	K8sJobName    *string `json:"k8s_job_name"`
	LastAttemptID *string `json:"last_attempt_id"`
	ErrorMessage  *string `json:"error_message"`
	Version       int     `json:"version"`
	CreatedAt     float64 `json:"created_at"`
	UpdatedAt     float64 `json:"updated_at"`
}

// V1Event is v1.0's Event.
type V1Event struct {
	EventType string          `json:"event_type"`
	RolloutID string          `json:"rollout_id"`
	AttemptID string          `json:"attempt_id"`
	Timestamp float64         `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// V1TerminalItem is one entry of v1.0's completion cursor.
type V1TerminalItem struct {
	RolloutID string `json:"rollout_id"`
	State     string `json:"state"`
	DataID    string `json:"data_id"`
	IsTrain   bool   `json:"is_train"`
}

// V1TerminalPage is the body of GET /api/rollouts/terminal.
type V1TerminalPage struct {
	Items         []V1TerminalItem `json:"items"`
	NextAfter     int              `json:"next_after"`
	TotalTerminal int              `json:"total_terminal"`
}
