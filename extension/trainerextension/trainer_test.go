package trainerextension

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-lightning/otelcol-lightning/extension/trainerextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/extension/trainerextension/internal/metadatatest"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/algorithm"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func loadTrainerConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config_trainer.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

func TestLoadTrainerConfig(t *testing.T) {
	tests := []struct {
		name string
		want func(c *Config)
	}{
		{name: "command", want: func(c *Config) {
			c.Store = component.MustNewIDWithName("lightningstore", "sidecar")
			d := &c.Dispatch
			d.Mode, d.Workers, d.WorkerIDPrefix = DispatchCommand, 2, "box"
			d.PollInterval, d.ShutdownGrace, d.OTLPEndpoint = 250*time.Millisecond, 30*time.Second, "http://127.0.0.1:14318"
			d.Command.Argv = []string{"python", "agent.py", "--fast"}
			d.Command.Env = map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}
			d.Command.Dir, d.Command.RewardFromStdout, d.Command.StderrLimitBytes = "/srv/agent", true, 1024
			a := &c.Algorithm
			a.Name = algorithm.NameEvaluate
			a.Dataset = DatasetConfig{Path: "tasks.jsonl", ValFraction: 0.25, Seed: 3}
			a.Resources = map[string]map[string]any{"system_prompt": {"resource_type": "prompt_template", "template": "You are a calculator.", "engine": "f-string"}}
			a.Rollout = RolloutSettings{Timeout: 30 * time.Second, MaxAttempts: 2, RetryCondition: []string{"failed", "timeout"}}
			a.ReportPath = "/tmp/report.json"
			a.Evaluate.Repeats, a.Evaluate.Split = 3, algorithm.SplitVal
		}},
		{name: "http", want: func(c *Config) {
			c.Dispatch.Mode = DispatchHTTP
			c.Dispatch.HTTP.Endpoint = "http://agent:8080/rollout"
			c.Dispatch.HTTP.Timeout = 90 * time.Second
			c.Dispatch.HTTP.Headers = configopaque.MapList{{Name: "X-Token", Value: "secret"}}
			a := &c.Algorithm
			a.Name = algorithm.NameAPO
			a.Dataset = DatasetConfig{Path: "train.jsonl", ValPath: "val.jsonl"}
			p := &a.APO
			p.LLM.Endpoint, p.LLM.Timeout = "http://127.0.0.1:8000/v1", 20*time.Second
			p.APIKey, p.GradientModel, p.EditModel, p.Temperature = "sk-test", "mock", "mock", 0
			p.BeamWidth, p.BranchFactor, p.BeamRounds, p.GradientBatchSize, p.ValBatchSize = 2, 2, 2, 3, 6
			p.RunInitialValidation, p.PromptResource, p.Seed = false, "system_prompt", 9
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := createDefaultConfig().(*Config)
			tt.want(want)
			got := loadTrainerConfig(t, tt.name)
			assert.Equal(t, want, got)
			assert.NoError(t, confmap.Validate(got))
		})
	}
}

func TestTrainerConfigDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, DispatchPull, cfg.Dispatch.Mode)
	assert.Equal(t, "http://localhost:4318", cfg.Dispatch.OTLPEndpoint)
	assert.Equal(t, algorithm.NameNone, cfg.Algorithm.Name)
	assert.True(t, cfg.Algorithm.APO.RunInitialValidation)
	assert.NoError(t, confmap.Validate(cfg))
}

func TestValidateTrainerConfig(t *testing.T) {
	tests := []struct {
		name string
		errs []string
	}{
		{name: "bad_dispatch", errs: []string{`dispatch.mode: unknown mode "ssh"`, "dispatch.workers: must be at least 1, got 0"}},
		{name: "command_without_argv", errs: []string{"dispatch.command.argv: must name a program"}},
		{name: "http_without_endpoint", errs: []string{"dispatch.http.endpoint: must not be empty"}},
		{name: "bad_algorithm", errs: []string{`algorithm.name: unknown algorithm "ppo"`}},
		{name: "evaluate_without_dataset", errs: []string{
			"algorithm.evaluate.repeats: must be at least 1, got 0",
			`algorithm.evaluate.split: unknown split "test"`,
			"algorithm.dataset.path: must not be empty for algorithm evaluate",
			`algorithm.resources: resource "p": engine must be one of jinja, f-string, poml, got "mustache"`,
			"algorithm.rollout.max_attempts: must be at least 1, got 0",
			`algorithm.rollout.retry_condition: "succeeded" is not retryable`,
		}},
		{name: "apo_incomplete", errs: []string{
			"algorithm.apo.llm.endpoint: must not be empty",
			"algorithm.dataset: apo needs validation tasks",
			"algorithm.apo.beam_width: must be at least 1, got 0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := confmap.Validate(loadTrainerConfig(t, tt.name))
			require.Error(t, err)
			for _, want := range tt.errs {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func writeTasks(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tasks.jsonl")
	var data []byte
	for _, l := range lines {
		data = append(data, l+"\n"...)
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func algorithmStatus(t *testing.T, fs *fakeStore) algorithm.Status {
	t.Helper()
	resp, err := client.Get(fs.server.URL + AlgorithmPath)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var st algorithm.Status
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

func waitForState(t *testing.T, fs *fakeStore, state string) algorithm.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := algorithmStatus(t, fs)
		if st.State == state {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("algorithm state %q, want %q: %+v", st.State, state, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEvaluateWithCommandDispatch(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	dir := t.TempDir()
	cfg := createDefaultConfig().(*Config)
	cfg.Dispatch.Mode = DispatchCommand
	cfg.Dispatch.Workers = 2
	cfg.Dispatch.PollInterval = 20 * time.Millisecond
	// The agent prints the task's reward field; "fail" tasks exit 1.
	cfg.Dispatch.Command.Argv = []string{"sh", "-c", `t=$(cat); case "$t" in *fail*) echo broken >&2; exit 1;; esac; echo "$t" | sed -n 's/.*"reward": *\([0-9.]*\).*/\1/p'`}
	cfg.Dispatch.Command.RewardFromStdout = true
	cfg.Algorithm.Name = algorithm.NameEvaluate
	cfg.Algorithm.Dataset.Path = writeTasks(t, `{"id": "a", "reward": 1}`, `{"id": "b", "reward": 0.5}`, `{"id": "c", "fail": 1}`)
	cfg.Algorithm.Evaluate.Repeats = 2
	cfg.Algorithm.ReportPath = filepath.Join(dir, "report.json")
	cfg.Algorithm.RewardSettle = 10 * time.Millisecond
	cfg.Algorithm.Resources = map[string]map[string]any{"prompt": {"resource_type": "prompt_template", "template": "Solve it.", "engine": "f-string"}}
	require.NoError(t, confmap.Validate(cfg))

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	ext, err := NewFactory().Create(context.Background(), metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	fs := newFakeStore(t, "")
	require.NoError(t, ext.Start(context.Background(), fs.host()))
	tr := ext.(*trainer)
	defer shutdown(t, tr)

	assert.Equal(t, algorithm.StateIdle, algorithmStatus(t, fs).State, "nothing runs before Ready")
	require.NoError(t, tr.Ready())
	st := waitForState(t, fs, algorithm.StateSucceeded)
	require.NotNil(t, st.Report)
	assert.InDelta(t, 0.5, st.Report.Mean, 1e-9, "(1+1+0.5+0.5+0+0)/6")
	assert.Equal(t, 6, st.Report.Finished)
	assert.Equal(t, 2, st.Report.Failed)
	require.NotNil(t, st.BestScore)
	assert.InDelta(t, 0.5, *st.BestScore, 1e-9)

	data, err := os.ReadFile(cfg.Algorithm.ReportPath)
	require.NoError(t, err)
	var saved algorithm.Status
	require.NoError(t, json.Unmarshal(data, &saved))
	assert.Equal(t, algorithm.StateSucceeded, saved.State)

	// The failing task's stderr is in its attempt's metadata.
	ctx := context.Background()
	var failed string
	for _, task := range st.Report.Tasks {
		if task.TaskID == "c" {
			failed = task.RolloutIDs[0]
		}
	}
	a, err := fs.st.GetLatestAttempt(ctx, failed)
	require.NoError(t, err)
	assert.Equal(t, model.AttemptFailed, a.Status)
	assert.Contains(t, string(a.Metadata), `"stderr":"broken\n"`)

	workers, err := fs.st.QueryWorkers(ctx, store.WorkerQuery{Page: store.AllPage()})
	require.NoError(t, err)
	assert.Len(t, workers.Items, 2)

	require.NoError(t, tr.NotReady())
	metadatatest.AssertEqualTrainerDispatchAttempts(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("status", "failed")), Value: 2},
		{Attributes: attribute.NewSet(attribute.String("status", "succeeded")), Value: 4},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualTrainerAlgorithmMeanReward(t, tel, []metricdata.DataPoint[float64]{
		{Attributes: attribute.NewSet(attribute.String("resources_id", st.Report.ResourcesID)), Value: 0.5},
	}, metricdatatest.IgnoreTimestamp())
}

func TestNoAlgorithmReportsIdle(t *testing.T) {
	fs := newFakeStore(t, "")
	tr := start(t, createDefaultConfig().(*Config), fs)
	defer shutdown(t, tr)
	require.NoError(t, tr.Ready())
	st := algorithmStatus(t, fs)
	assert.Equal(t, algorithm.NameNone, st.Name)
	assert.Equal(t, algorithm.StateIdle, st.State)
	assert.Empty(t, st.History)
	require.NoError(t, tr.NotReady())
	require.NoError(t, tr.NotReady(), "twice is harmless")
}

func TestStartFailsOnAMissingDataset(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Algorithm.Name = algorithm.NameEvaluate
	cfg.Algorithm.Dataset.Path = filepath.Join(t.TempDir(), "missing.jsonl")
	ext, err := NewFactory().Create(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), cfg)
	require.NoError(t, err)
	err = ext.Start(context.Background(), newFakeStore(t, "").host())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "algorithm.dataset")
	require.NoError(t, ext.Shutdown(context.Background()))
}
