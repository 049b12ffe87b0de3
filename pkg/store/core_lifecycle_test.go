package store

import (
	"testing"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

func TestRolloutStatusFor(t *testing.T) {
	retry := func(max int, on ...model.AttemptStatus) model.RolloutConfig {
		return model.RolloutConfig{MaxAttempts: max, RetryCondition: on}
	}
	tests := []struct {
		name   string
		status model.AttemptStatus
		seq    int
		cfg    model.RolloutConfig
		want   model.RolloutStatus
	}{
		{"preparing copies", model.AttemptPreparing, 1, retry(1), model.RolloutPreparing},
		{"running copies", model.AttemptRunning, 1, retry(1), model.RolloutRunning},
		{"succeeded copies", model.AttemptSucceeded, 3, retry(3, model.AttemptFailed), model.RolloutSucceeded},
		{"failed with retries left requeues", model.AttemptFailed, 1, retry(3, model.AttemptFailed), model.RolloutRequeuing},
		{"failed on the last attempt fails", model.AttemptFailed, 3, retry(3, model.AttemptFailed), model.RolloutFailed},
		{"failed not in retry list fails", model.AttemptFailed, 1, retry(3, model.AttemptTimeout), model.RolloutFailed},
		{"timeout retried", model.AttemptTimeout, 2, retry(3, model.AttemptTimeout), model.RolloutRequeuing},
		{"unresponsive retried", model.AttemptUnresponsive, 1, retry(2, model.AttemptUnresponsive), model.RolloutRequeuing},
		{"unresponsive default config fails", model.AttemptUnresponsive, 1, model.DefaultRolloutConfig(), model.RolloutFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &model.Attempt{Status: tt.status, SequenceID: tt.seq}
			if got := rolloutStatusFor(a, tt.cfg); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestUnhealthyStatus(t *testing.T) {
	secs := func(v float64) *float64 { return &v }
	tests := []struct {
		name      string
		attempt   model.Attempt
		cfg       model.RolloutConfig
		now       float64
		want      model.AttemptStatus
		unhealthy bool
	}{
		{"timeout wins over unresponsive", model.Attempt{StartTime: 0}, model.RolloutConfig{TimeoutSeconds: secs(5), UnresponsiveSeconds: secs(1)}, 10, model.AttemptTimeout, true},
		{"no heartbeat measured from start", model.Attempt{StartTime: 0}, model.RolloutConfig{UnresponsiveSeconds: secs(5)}, 6, model.AttemptUnresponsive, true},
		{"recent heartbeat is healthy", model.Attempt{StartTime: 0, LastHeartbeatTime: secs(9)}, model.RolloutConfig{UnresponsiveSeconds: secs(5)}, 10, "", false},
		{"old heartbeat is unresponsive", model.Attempt{StartTime: 0, LastHeartbeatTime: secs(2)}, model.RolloutConfig{UnresponsiveSeconds: secs(5)}, 10, model.AttemptUnresponsive, true},
		{"no limits never fire", model.Attempt{StartTime: 0}, model.DefaultRolloutConfig(), 1e9, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad := unhealthyStatus(&tt.attempt, tt.cfg, tt.now)
			if got != tt.want || bad != tt.unhealthy {
				t.Fatalf("got (%s, %v), want (%s, %v)", got, bad, tt.want, tt.unhealthy)
			}
		})
	}
}
