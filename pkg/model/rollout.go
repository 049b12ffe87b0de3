package model

import "encoding/json"

// RolloutConfig controls timeouts and retries of a rollout's attempts.
type RolloutConfig struct {
	TimeoutSeconds      *float64        `json:"timeout_seconds"`
	UnresponsiveSeconds *float64        `json:"unresponsive_seconds"`
	MaxAttempts         int             `json:"max_attempts"`
	RetryCondition      []AttemptStatus `json:"retry_condition"`
}

// Watched reports whether the config sets a limit the store's watchdog
// enforces (timeout_seconds or unresponsive_seconds); no other rollout can
// ever be marked timed out or unresponsive.
func (c RolloutConfig) Watched() bool {
	return c.TimeoutSeconds != nil || c.UnresponsiveSeconds != nil
}

// DefaultRolloutConfig is what a rollout gets when the caller gives no config.
func DefaultRolloutConfig() RolloutConfig {
	return RolloutConfig{MaxAttempts: 1, RetryCondition: []AttemptStatus{}}
}

// UnmarshalJSON applies the Pydantic defaults for absent keys.
func (c *RolloutConfig) UnmarshalJSON(b []byte) error {
	type plain RolloutConfig
	p := plain(DefaultRolloutConfig())
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.RetryCondition == nil {
		p.RetryCondition = []AttemptStatus{}
	}
	*c = RolloutConfig(p)
	return nil
}

// Retries reports whether an attempt ending in status s may be retried.
func (c RolloutConfig) Retries(s AttemptStatus) bool {
	for _, r := range c.RetryCondition {
		if r == s {
			return true
		}
	}
	return false
}

// Rollout is one task execution request. When it has at least one attempt the
// store returns it with Attempt set (an AttemptedRollout); otherwise the
// "attempt" key is absent from its JSON, which is how clients tell them apart.
type Rollout struct {
	RolloutID   string          `json:"rollout_id"`
	Input       json.RawMessage `json:"input"`
	StartTime   float64         `json:"start_time"`
	EndTime     *float64        `json:"end_time"`
	Mode        *RolloutMode    `json:"mode"`
	ResourcesID *string         `json:"resources_id"`
	Status      RolloutStatus   `json:"status"`
	Config      RolloutConfig   `json:"config"`
	Metadata    json.RawMessage `json:"metadata"`
	Attempt     *Attempt        `json:"attempt,omitempty"`
}

// Attempt is one try at executing a rollout.
type Attempt struct {
	RolloutID         string          `json:"rollout_id"`
	AttemptID         string          `json:"attempt_id"`
	SequenceID        int             `json:"sequence_id"`
	StartTime         float64         `json:"start_time"`
	EndTime           *float64        `json:"end_time"`
	Status            AttemptStatus   `json:"status"`
	WorkerID          *string         `json:"worker_id"`
	LastHeartbeatTime *float64        `json:"last_heartbeat_time"`
	Metadata          json.RawMessage `json:"metadata"`
}

// EnqueueRolloutRequest is one item of an enqueue batch.
type EnqueueRolloutRequest struct {
	Input       json.RawMessage `json:"input"`
	Mode        *RolloutMode    `json:"mode"`
	ResourcesID *string         `json:"resources_id"`
	Config      *RolloutConfig  `json:"config"`
	Metadata    json.RawMessage `json:"metadata"`
}

// Worker is a runner process as seen by the store.
type Worker struct {
	WorkerID          string          `json:"worker_id"`
	Status            WorkerStatus    `json:"status"`
	HeartbeatStats    json.RawMessage `json:"heartbeat_stats"`
	LastHeartbeatTime *float64        `json:"last_heartbeat_time"`
	LastDequeueTime   *float64        `json:"last_dequeue_time"`
	LastBusyTime      *float64        `json:"last_busy_time"`
	LastIdleTime      *float64        `json:"last_idle_time"`
	CurrentRolloutID  *string         `json:"current_rollout_id"`
	CurrentAttemptID  *string         `json:"current_attempt_id"`
}

// Paginated is one page of a query result. Total counts matches before paging.
type Paginated[T any] struct {
	Items  []T `json:"items"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	Total  int `json:"total"`
}

// Ptr returns a pointer to v; handy for the many nullable fields.
func Ptr[T any](v T) *T { return &v }

// RawOrNull returns b, or the JSON null literal when b is empty, so stored
// values always decode.
func RawOrNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}
