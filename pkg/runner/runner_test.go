package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitTimeout = 20 * time.Second

func newStore(t *testing.T, opts store.Options) *store.Core {
	t.Helper()
	core := store.New(memstore.New(), opts)
	t.Cleanup(func() { _ = core.Close() })
	return core
}

func requireShell(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("command tests use sh")
	}
}

// testRunner starts a runner over s and stops it at cleanup.
func testRunner(t *testing.T, s store.Store, exec Executor, cfg Config, obs Observer) *Runner {
	t.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	if cfg.WorkerIDPrefix == "" {
		cfg.WorkerIDPrefix = "test"
	}
	if cfg.OTLPEndpoint == "" {
		cfg.OTLPEndpoint = "http://127.0.0.1:4318"
	}
	r := New(s, exec, cfg, nil, obs)
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, r.Stop(context.Background())) })
	return r
}

func shellExecutor(t *testing.T, script string, mutate ...func(*CommandConfig)) *CommandExecutor {
	t.Helper()
	requireShell(t)
	cfg := CommandConfig{Argv: []string{"sh", "-c", script}, KillGrace: 200 * time.Millisecond}
	for _, m := range mutate {
		m(&cfg)
	}
	e, err := NewCommandExecutor(cfg)
	require.NoError(t, err)
	return e
}

func enqueue(t *testing.T, s store.Store, input string, cfg *model.RolloutConfig) model.Rollout {
	t.Helper()
	out, err := s.EnqueueRollouts(context.Background(), []model.EnqueueRolloutRequest{{
		Input: json.RawMessage(input), Mode: model.Ptr(model.ModeVal), Config: cfg,
	}})
	require.NoError(t, err)
	return out[0]
}

// waitFinished waits until the rollout is finished and returns it.
func waitFinished(t *testing.T, s store.Store, id string) model.Rollout {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	done, err := s.WaitForRollouts(ctx, []string{id}, waitTimeout.Seconds())
	require.NoError(t, err)
	require.Len(t, done, 1, "rollout %s did not finish", id)
	ro, err := s.GetRollout(ctx, id)
	require.NoError(t, err)
	return *ro
}

func attempts(t *testing.T, s store.Store, id string) []model.Attempt {
	t.Helper()
	page, err := s.QueryAttempts(context.Background(), store.AttemptQuery{RolloutID: id, Page: store.AllPage()})
	require.NoError(t, err)
	return page.Items
}

func metadataOf(t *testing.T, a model.Attempt) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.Metadata, &m), "metadata %s", a.Metadata)
	return m
}

func spansOf(t *testing.T, s store.Store, id string) []model.Span {
	t.Helper()
	page, err := s.QuerySpans(context.Background(), store.SpanQuery{RolloutID: id, Page: store.AllPage()})
	require.NoError(t, err)
	return page.Items
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCommandSucceedsWithRewardEnvAndStderr(t *testing.T) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	res, err := s.AddResources(ctx, model.NamedResources{
		"prompt": json.RawMessage(`{"resource_type":"prompt_template","template":"Be brief.","engine":"f-string"}`),
	})
	require.NoError(t, err)
	exec := shellExecutor(t, strings.Join([]string{
		`input=$(cat)`,
		`echo "stdin=$input" >&2`,
		`echo "task=$AGL_TASK mode=$AGL_MODE" >&2`,
		`echo "ids=$AGL_ROLLOUT_ID/$AGL_ATTEMPT_ID worker=$AGL_WORKER_ID" >&2`,
		`echo "otlp=$OTEL_EXPORTER_OTLP_ENDPOINT" >&2`,
		`echo "attrs=$OTEL_RESOURCE_ATTRIBUTES" >&2`,
		`echo "resources=$AGL_RESOURCES_ID $AGL_RESOURCES" >&2`,
		`echo "extra=$EXTRA" >&2`,
		`echo "some log line"`,
		`echo " 0.75 "`,
	}, "\n"), func(c *CommandConfig) {
		c.RewardFromStdout = true
		c.Env = map[string]string{"EXTRA": "yes", "OTEL_RESOURCE_ATTRIBUTES": "service.name=agent,agentlightning.rollout_id=stale"}
	})
	obs := &recordingObserver{}
	r := testRunner(t, s, exec, Config{Mode: "command", Workers: 2}, obs)
	assert.Equal(t, []string{"test-1", "test-2"}, r.WorkerIDs())

	ro := enqueue(t, s, `{"question": "1 + 1"}`, nil)
	r.Wake()
	done := waitFinished(t, s, ro.RolloutID)
	assert.Equal(t, model.RolloutSucceeded, done.Status)

	atts := attempts(t, s, ro.RolloutID)
	require.Len(t, atts, 1)
	a := atts[0]
	assert.Equal(t, model.AttemptSucceeded, a.Status)
	require.NotNil(t, a.WorkerID)
	assert.Contains(t, []string{"test-1", "test-2"}, *a.WorkerID)
	meta := metadataOf(t, a)
	assert.EqualValues(t, 0, meta["exit_code"])
	assert.Equal(t, false, meta["stderr_truncated"])
	assert.Equal(t, *a.WorkerID, meta["worker_id"])
	stderr, _ := meta["stderr"].(string)
	for _, want := range []string{
		`stdin={"question": "1 + 1"}`,
		`task={"question": "1 + 1"} mode=val`,
		"ids=" + ro.RolloutID + "/" + a.AttemptID + " worker=" + *a.WorkerID,
		"otlp=http://127.0.0.1:4318",
		"attrs=service.name=agent,agentlightning.rollout_id=" + ro.RolloutID + ",agentlightning.attempt_id=" + a.AttemptID,
		`resources=` + res.ResourcesID + ` {"prompt":{"resource_type":"prompt_template","template":"Be brief.","engine":"f-string"}}`,
		"extra=yes",
	} {
		assert.Contains(t, stderr, want)
	}

	spans := spansOf(t, s, ro.RolloutID)
	require.Len(t, spans, 1)
	assert.Equal(t, rewards.AnnotationSpanName, spans[0].Name)
	assert.Equal(t, a.AttemptID, spans[0].AttemptID)
	assert.Equal(t, 1, spans[0].SequenceID)
	reward, ok := rewards.FinalReward(spans)
	require.True(t, ok)
	assert.InDelta(t, 0.75, reward, 1e-9)

	w, err := s.GetWorker(ctx, *a.WorkerID)
	require.NoError(t, err)
	require.NotNil(t, w)
	assert.NotNil(t, w.LastHeartbeatTime, "registered with UpdateWorker")
	assert.Contains(t, string(w.HeartbeatStats), `"mode":"command"`)
	assert.Equal(t, model.WorkerIdle, w.Status)

	eventually(t, func() bool { return obs.count(model.AttemptSucceeded) == 1 }, "observer not told")
}

func TestCommandFailureIsRetriedPerConfig(t *testing.T) {
	s := newStore(t, store.Options{})
	exec := shellExecutor(t, `echo "boom on $AGL_ATTEMPT_ID" >&2; echo 1.0; exit 3`, func(c *CommandConfig) { c.RewardFromStdout = true })
	testRunner(t, s, exec, Config{Mode: "command"}, nil)

	cfg := model.RolloutConfig{MaxAttempts: 2, RetryCondition: []model.AttemptStatus{model.AttemptFailed}}
	ro := enqueue(t, s, `"task"`, &cfg)
	done := waitFinished(t, s, ro.RolloutID)
	assert.Equal(t, model.RolloutFailed, done.Status)

	atts := attempts(t, s, ro.RolloutID)
	require.Len(t, atts, 2, "one retry")
	for _, a := range atts {
		assert.Equal(t, model.AttemptFailed, a.Status)
		meta := metadataOf(t, a)
		assert.EqualValues(t, 3, meta["exit_code"])
		assert.Equal(t, "boom on "+a.AttemptID+"\n", meta["stderr"])
		assert.Contains(t, meta["error"], "exit status 3")
	}
	assert.Empty(t, spansOf(t, s, ro.RolloutID), "no reward for a failed run")
}

func TestCommandTimeoutKillsTheProcessGroup(t *testing.T) {
	tests := []struct {
		name   string
		script string
	}{
		{name: "sigterm", script: `sleep 30 & wait`},
		// Ignored SIGTERM (inherited by sleep): only SIGKILL stops them.
		{name: "sigkill", script: `trap "" TERM; sleep 30; sleep 30`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, store.Options{})
			testRunner(t, s, shellExecutor(t, tt.script), Config{Mode: "command"}, nil)
			cfg := model.RolloutConfig{MaxAttempts: 1, TimeoutSeconds: model.Ptr(0.3), RetryCondition: []model.AttemptStatus{}}
			started := time.Now()
			ro := enqueue(t, s, `"hang"`, &cfg)
			done := waitFinished(t, s, ro.RolloutID)
			assert.Less(t, time.Since(started), 10*time.Second)
			assert.Equal(t, model.RolloutFailed, done.Status)
			atts := attempts(t, s, ro.RolloutID)
			require.Len(t, atts, 1)
			assert.Equal(t, model.AttemptTimeout, atts[0].Status)
			// The watchdog may have set timeout first; then the runner leaves
			// the attempt alone and there is no metadata to look at.
			if len(atts[0].Metadata) > 0 && string(atts[0].Metadata) != "null" {
				meta := metadataOf(t, atts[0])
				assert.Contains(t, meta["error"], "timed out")
				assert.NotEmpty(t, meta["signal"])
			}
		})
	}
}

func TestCommandTimeoutRetries(t *testing.T) {
	s := newStore(t, store.Options{})
	// The first attempt hangs, the second succeeds.
	dir := t.TempDir()
	marker := filepath.Join(dir, "tried")
	exec := shellExecutor(t, `if [ -f "$MARKER" ]; then echo 1; exit 0; fi; touch "$MARKER"; sleep 30`, func(c *CommandConfig) {
		c.Env = map[string]string{"MARKER": marker}
		c.RewardFromStdout = true
	})
	testRunner(t, s, exec, Config{Mode: "command"}, nil)
	cfg := model.RolloutConfig{MaxAttempts: 2, TimeoutSeconds: model.Ptr(0.5), RetryCondition: []model.AttemptStatus{model.AttemptTimeout}}
	ro := enqueue(t, s, `"t"`, &cfg)
	done := waitFinished(t, s, ro.RolloutID)
	assert.Equal(t, model.RolloutSucceeded, done.Status)
	atts := attempts(t, s, ro.RolloutID)
	require.Len(t, atts, 2)
	assert.Equal(t, model.AttemptTimeout, atts[0].Status)
	assert.Equal(t, model.AttemptSucceeded, atts[1].Status)
}

func TestStderrIsBounded(t *testing.T) {
	s := newStore(t, store.Options{})
	exec := shellExecutor(t, `i=0; while [ $i -lt 100 ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" >&2; i=$((i+1)); done`,
		func(c *CommandConfig) { c.StderrLimitBytes = 64 })
	testRunner(t, s, exec, Config{Mode: "command"}, nil)
	ro := enqueue(t, s, `1`, nil)
	waitFinished(t, s, ro.RolloutID)
	meta := metadataOf(t, attempts(t, s, ro.RolloutID)[0])
	stderr := meta["stderr"].(string)
	assert.Len(t, stderr, 64)
	assert.True(t, strings.HasSuffix(stderr, "line 99 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"), "the tail is kept: %q", stderr)
	assert.Equal(t, true, meta["stderr_truncated"])
	assert.Greater(t, meta["stderr_bytes"], float64(4000))
}

func TestSilentCommandKeepsItsAttemptAlive(t *testing.T) {
	s := newStore(t, store.Options{ScanInterval: 20 * time.Millisecond})
	stop := filepath.Join(t.TempDir(), "stop")
	exec := shellExecutor(t, `while [ ! -f "$STOP" ]; do sleep 0.02; done`, func(c *CommandConfig) {
		c.Env = map[string]string{"STOP": stop}
	})
	testRunner(t, s, exec, Config{Mode: "command", AttemptHeartbeatInterval: time.Hour}, nil)
	// unresponsive_seconds caps the heartbeat period at a third of it.
	cfg := model.RolloutConfig{MaxAttempts: 1, UnresponsiveSeconds: model.Ptr(0.6), RetryCondition: []model.AttemptStatus{}}
	ro := enqueue(t, s, `"quiet"`, &cfg)

	var beats []float64
	seen := map[model.AttemptStatus]bool{}
	eventually(t, func() bool {
		a, err := s.GetLatestAttempt(context.Background(), ro.RolloutID)
		require.NoError(t, err)
		if a == nil {
			return false
		}
		seen[a.Status] = true
		if a.LastHeartbeatTime != nil && (len(beats) == 0 || *a.LastHeartbeatTime > beats[len(beats)-1]) {
			beats = append(beats, *a.LastHeartbeatTime)
		}
		if len(beats) < 2 {
			return false
		}
		// Silent for longer than unresponsive_seconds, but heartbeating.
		return beats[len(beats)-1]-a.StartTime > 1.2
	}, "the attempt heartbeat is not refreshed")
	require.NoError(t, os.WriteFile(stop, nil, 0o600))
	done := waitFinished(t, s, ro.RolloutID)
	assert.Equal(t, model.RolloutSucceeded, done.Status)
	assert.False(t, seen[model.AttemptUnresponsive], "the watchdog never found it silent")
	assert.Len(t, attempts(t, s, ro.RolloutID), 1)
}

func TestStopDrainsThenKills(t *testing.T) {
	s := newStore(t, store.Options{})
	release := filepath.Join(t.TempDir(), "release")
	exec := shellExecutor(t, `if [ "$AGL_TASK" = '"quick"' ]; then while [ ! -f "$RELEASE" ]; do sleep 0.02; done; exit 0; fi; sleep 30`,
		func(c *CommandConfig) { c.Env = map[string]string{"RELEASE": release} })
	r := New(s, exec, Config{Mode: "command", Workers: 2, WorkerIDPrefix: "drain", PollInterval: 20 * time.Millisecond, ShutdownGrace: time.Second}, nil, nil)
	require.NoError(t, r.Start(context.Background()))

	retry := model.RolloutConfig{MaxAttempts: 2, RetryCondition: []model.AttemptStatus{model.AttemptFailed}}
	quick := enqueue(t, s, `"quick"`, &retry)
	hang := enqueue(t, s, `"hang"`, &retry)
	eventually(t, func() bool { return r.busy.Load() == 2 }, "both rollouts should be running")

	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(context.Background()) }()
	require.NoError(t, os.WriteFile(release, nil, 0o600))
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("Stop did not return")
	}

	ctx := context.Background()
	q, err := s.GetRollout(ctx, quick.RolloutID)
	require.NoError(t, err)
	assert.Equal(t, model.RolloutSucceeded, q.Status, "drained within the grace period")

	h, err := s.GetRollout(ctx, hang.RolloutID)
	require.NoError(t, err)
	assert.Equal(t, model.RolloutRequeuing, h.Status, "killed at shutdown and requeued per retry_condition")
	require.NotNil(t, h.Attempt)
	assert.Equal(t, model.AttemptFailed, h.Attempt.Status)
	assert.Equal(t, "collector shutdown", metadataOf(t, *h.Attempt)["error"])

	// Nothing is claimed after Stop: the requeued rollout stays queued.
	page, err := s.QueryRollouts(ctx, store.RolloutQuery{StatusIn: []model.RolloutStatus{model.RolloutRequeuing}, Page: store.AllPage()})
	require.NoError(t, err)
	assert.Len(t, page.Items, 1)
}

func TestStartFailsOrphanedAttempts(t *testing.T) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	cfg := model.RolloutConfig{MaxAttempts: 2, RetryCondition: []model.AttemptStatus{model.AttemptFailed}}
	ro := enqueue(t, s, `"left behind"`, &cfg)
	// A previous process claimed it and died.
	_, err := s.DequeueRollouts(ctx, 1, model.Ptr("orphan-1"))
	require.NoError(t, err)
	// Someone else's attempt is not touched.
	other := enqueue(t, s, `"other"`, nil)
	_, err = s.DequeueRollouts(ctx, 1, model.Ptr("elsewhere-1"))
	require.NoError(t, err)

	testRunner(t, s, shellExecutor(t, `exit 0`), Config{Mode: "command", WorkerIDPrefix: "orphan"}, nil)
	done := waitFinished(t, s, ro.RolloutID)
	assert.Equal(t, model.RolloutSucceeded, done.Status)
	atts := attempts(t, s, ro.RolloutID)
	require.Len(t, atts, 2)
	assert.Equal(t, model.AttemptFailed, atts[0].Status)
	assert.Contains(t, metadataOf(t, atts[0])["error"], "stopped while the attempt ran")

	o, err := s.GetRollout(ctx, other.RolloutID)
	require.NoError(t, err)
	assert.Equal(t, model.RolloutPreparing, o.Status)
}

func TestCancelledRolloutIsAbandoned(t *testing.T) {
	s := newStore(t, store.Options{})
	obs := &recordingObserver{}
	r := testRunner(t, s, shellExecutor(t, `sleep 30`), Config{Mode: "command", AttemptHeartbeatInterval: 20 * time.Millisecond}, obs)
	ro := enqueue(t, s, `"cancel me"`, nil)
	eventually(t, func() bool { return r.busy.Load() == 1 }, "not started")
	_, err := s.UpdateRollout(context.Background(), ro.RolloutID, store.RolloutUpdate{Status: store.To(model.RolloutCancelled)})
	require.NoError(t, err)
	eventually(t, func() bool { return r.busy.Load() == 0 }, "the command was not stopped")
	got, err := s.GetRollout(context.Background(), ro.RolloutID)
	require.NoError(t, err)
	assert.Equal(t, model.RolloutCancelled, got.Status, "still cancelled")
	assert.Equal(t, 1, obs.count(""))
}

func TestMissingResourcesFailTheAttempt(t *testing.T) {
	s := newStore(t, store.Options{})
	testRunner(t, s, shellExecutor(t, `exit 0`), Config{Mode: "command"}, nil)
	out, err := s.EnqueueRollouts(context.Background(), []model.EnqueueRolloutRequest{{Input: json.RawMessage(`1`), ResourcesID: model.Ptr("rs-missing")}})
	require.NoError(t, err)
	done := waitFinished(t, s, out[0].RolloutID)
	assert.Equal(t, model.RolloutFailed, done.Status)
	assert.Contains(t, metadataOf(t, *done.Attempt)["error"], `resources "rs-missing" not found`)
}

func TestNewCommandExecutorValidates(t *testing.T) {
	_, err := NewCommandExecutor(CommandConfig{})
	assert.ErrorContains(t, err, "argv")
	_, err = NewHTTPExecutor(HTTPConfig{})
	assert.ErrorContains(t, err, "endpoint")
}

func TestStartCommandThatDoesNotExist(t *testing.T) {
	s := newStore(t, store.Options{})
	exec, err := NewCommandExecutor(CommandConfig{Argv: []string{filepath.Join(t.TempDir(), "no-such-agent")}})
	require.NoError(t, err)
	testRunner(t, s, exec, Config{Mode: "command"}, nil)
	ro := enqueue(t, s, `1`, nil)
	done := waitFinished(t, s, ro.RolloutID)
	assert.Equal(t, model.RolloutFailed, done.Status)
	assert.Contains(t, metadataOf(t, *done.Attempt)["error"], "no-such-agent")
}

func TestLastLineFloat(t *testing.T) {
	tests := []struct {
		out  string
		want float64
		ok   bool
	}{
		{"0.5\n", 0.5, true},
		{"log\n1e-1\n\n  \n", 0.1, true},
		{"-2", -2, true},
		{"reward: 1", 0, false},
		{"1\nnot a number", 0, false},
		{"NaN", 0, false},
		{"+Inf\n", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := lastLineFloat(tt.out)
		assert.Equal(t, tt.ok, ok, "%q", tt.out)
		assert.InDelta(t, tt.want, got, 1e-12, "%q", tt.out)
	}
}

func TestMergeResourceAttributes(t *testing.T) {
	job := &Job{Rollout: model.Rollout{RolloutID: "ro-1"}, Attempt: model.Attempt{AttemptID: "at-1"}}
	tests := []struct{ in, want string }{
		{"", "agentlightning.rollout_id=ro-1,agentlightning.attempt_id=at-1"},
		{"service.name=a, deployment.environment=dev", "service.name=a,deployment.environment=dev,agentlightning.rollout_id=ro-1,agentlightning.attempt_id=at-1"},
		{"agentlightning.rollout_id=old,x=1,agentlightning.attempt_id=old", "x=1,agentlightning.rollout_id=ro-1,agentlightning.attempt_id=at-1"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, mergeResourceAttributes(tt.in, job))
	}
}

func TestTailBuffer(t *testing.T) {
	b := newTailBuffer(5)
	_, _ = b.Write([]byte("abc"))
	assert.Equal(t, "abc", b.String())
	assert.False(t, b.Truncated())
	_, _ = b.Write([]byte("defg"))
	assert.Equal(t, "cdefg", b.String())
	_, _ = b.Write([]byte("0123456789"))
	assert.Equal(t, "56789", b.String())
	assert.True(t, b.Truncated())
	assert.EqualValues(t, 17, b.Total())
	none := newTailBuffer(0)
	_, _ = none.Write([]byte("x"))
	assert.Empty(t, none.String())
}

type recordingObserver struct {
	mu       sync.Mutex
	started  int
	finished map[model.AttemptStatus]int
}

func (o *recordingObserver) AttemptStarted() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started++
}

func (o *recordingObserver) AttemptFinished(s model.AttemptStatus, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.finished == nil {
		o.finished = map[model.AttemptStatus]int{}
	}
	o.finished[s]++
}

func (o *recordingObserver) count(s model.AttemptStatus) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.finished[s]
}
