package trainerextension

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/extensioncapabilities"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/extension/trainerextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/algorithm"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/dataset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/runner"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/storeapi"
)

// The loop starts once every pipeline runs, so the agents it launches find
// the OTLP receivers up, and stops before the receivers do, so the spans of
// draining rollouts still reach the store.
var _ extensioncapabilities.PipelineWatcher = (*trainer)(nil)

// AlgorithmPath is the report endpoint of the running algorithm.
const AlgorithmPath = storeapi.LightningPrefix + "/algorithm"

// loop is the trainer loop: the dispatch workers and the algorithm. It is
// built in Start (so configuration problems such as a missing dataset fail
// the collector's start), started in Ready and stopped in NotReady or
// Shutdown.
type loop struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	dataDir   string
	progress  *algorithm.Progress
	algorithm algorithm.Algorithm
	dataset   dataset.Dataset
	resources model.NamedResources
	executor  runner.Executor
	llm       algorithm.ChatClient

	mu      sync.Mutex
	runner  *runner.Runner
	cancel  context.CancelFunc
	done    chan struct{}
	started bool
}

// newLoop checks and prepares everything the loop needs without starting
// anything.
// dataDir is the store's data directory ("" when it has none), where the
// report goes unless report_path says otherwise.
func newLoop(ctx context.Context, cfg *Config, host component.Host, set component.TelemetrySettings, dataDir string) (*loop, error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, fmt.Errorf("create the trainer's metrics: %w", err)
	}
	l := &loop{cfg: cfg, logger: set.Logger, telemetry: tb, dataDir: dataDir}
	if err := l.prepare(ctx, host, set); err != nil {
		tb.Shutdown()
		return nil, err
	}
	return l, nil
}

func (l *loop) prepare(ctx context.Context, host component.Host, set component.TelemetrySettings) error {
	var err error
	if l.executor, err = newExecutor(ctx, l.cfg.Dispatch, host, set); err != nil {
		return err
	}
	ac := l.cfg.Algorithm
	l.progress = algorithm.NewProgress(ac.Name, l.persister())
	switch ac.Name {
	case algorithm.NameNone:
		l.algorithm = algorithm.None{}
		return nil
	case algorithm.NameEvaluate:
		l.algorithm = algorithm.NewEvaluate(algorithm.EvaluateConfig{Repeats: ac.Evaluate.Repeats, Split: ac.Evaluate.Split, Timeout: ac.Evaluate.Timeout})
	case algorithm.NameAPO:
		l.algorithm = algorithm.NewAPO(apoConfig(ac.APO))
		if l.llm, err = newOptimizerClient(ctx, ac.APO, host, set); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown algorithm %q", ac.Name)
	}
	if l.dataset, err = dataset.Load(dataset.Config{
		Path: ac.Dataset.Path, ValPath: ac.Dataset.ValPath, ValFraction: ac.Dataset.ValFraction, Seed: ac.Dataset.Seed,
	}); err != nil {
		return fmt.Errorf("algorithm.dataset: %w", err)
	}
	if l.resources, err = ac.namedResources(); err != nil {
		return fmt.Errorf("algorithm.resources: %w", err)
	}
	if pc := l.cfg.ProxyLLM; pc.Endpoint != "" && l.resources != nil {
		// The algorithm publishes these as the latest: keep the proxy in.
		if _, named := l.resources[pc.name()]; !named {
			if l.resources[pc.name()], err = pc.resource(); err != nil {
				return err
			}
		}
	}
	return nil
}

// newExecutor builds the executor of the dispatch mode, nil for pull.
func newExecutor(ctx context.Context, dc DispatchConfig, host component.Host, set component.TelemetrySettings) (runner.Executor, error) {
	switch dc.Mode {
	case DispatchCommand:
		limit := dc.Command.StderrLimitBytes
		if limit == 0 {
			limit = -1 // keep none
		}
		return runner.NewCommandExecutor(runner.CommandConfig{
			Argv: dc.Command.Argv, Env: dc.Command.Env, Dir: dc.Command.Dir, RewardFromStdout: dc.Command.RewardFromStdout,
			StderrLimitBytes: limit, KillGrace: dc.Command.KillGrace,
		})
	case DispatchHTTP:
		client, err := dc.HTTP.ToClient(ctx, host.GetExtensions(), set)
		if err != nil {
			return nil, fmt.Errorf("dispatch.http: %w", err)
		}
		return runner.NewHTTPExecutor(runner.HTTPConfig{Client: client, Endpoint: dc.HTTP.Endpoint, ResponseLimitBytes: dc.HTTP.ResponseLimitBytes})
	default:
		return nil, nil
	}
}

func newOptimizerClient(ctx context.Context, ac APOSettings, host component.Host, set component.TelemetrySettings) (algorithm.ChatClient, error) {
	client, err := ac.LLM.ToClient(ctx, host.GetExtensions(), set)
	if err != nil {
		return nil, fmt.Errorf("algorithm.apo.llm: %w", err)
	}
	key := string(ac.APIKey)
	if key == "" {
		key = os.Getenv("OPENAI_API_KEY")
	}
	return &algorithm.OpenAIClient{HTTP: client, BaseURL: ac.LLM.Endpoint, APIKey: key}, nil
}

func apoConfig(s APOSettings) algorithm.APOConfig {
	temperature := s.Temperature
	if temperature == 0 {
		temperature = -1 // APOConfig reads 0 as "default"
	}
	return algorithm.APOConfig{
		GradientModel: s.GradientModel, EditModel: s.EditModel, Temperature: temperature,
		BeamWidth: s.BeamWidth, BranchFactor: s.BranchFactor, BeamRounds: s.BeamRounds,
		GradientBatchSize: s.GradientBatchSize, ValBatchSize: s.ValBatchSize,
		BatchTimeout: s.RolloutBatchTimeout, SkipInitialValidation: !s.RunInitialValidation,
		PromptResource: s.PromptResource, Seed: s.Seed,
	}
}

// reportPath is where the run's report goes: the configured path, else
// the store's data directory (next to the SQLite database), else nowhere.
func (l *loop) reportPath() string {
	if p := l.cfg.Algorithm.ReportPath; p != "" {
		return p
	}
	if l.dataDir != "" && l.cfg.Algorithm.Name != algorithm.NameNone {
		return filepath.Join(l.dataDir, "algorithm-report.json")
	}
	return ""
}

// persister writes the report file on every change and mirrors the round
// into the metrics; a failing write is logged once.
func (l *loop) persister() func(algorithm.Status) {
	path := l.reportPath()
	var warned bool
	return func(s algorithm.Status) {
		l.telemetry.TrainerAlgorithmRound.Record(context.Background(), int64(s.Round))
		if path == "" {
			return
		}
		if err := algorithm.WriteReport(path, s); err != nil && !warned {
			warned = true
			l.logger.Warn("Cannot write the algorithm report", zap.String("path", path), zap.Error(err))
		}
	}
}

// start launches the workers and the algorithm over s.
func (l *loop) start(s store.Store) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	if l.executor != nil {
		dc := l.cfg.Dispatch
		l.runner = runner.New(s, l.executor, runner.Config{
			Mode: dc.Mode, Workers: dc.Workers, WorkerIDPrefix: dc.WorkerIDPrefix, PollInterval: dc.PollInterval,
			HeartbeatInterval: dc.HeartbeatInterval, AttemptHeartbeatInterval: dc.AttemptHeartbeatInterval,
			ShutdownGrace: dc.ShutdownGrace, OTLPEndpoint: dc.OTLPEndpoint,
		}, l.logger, dispatchObserver{l.telemetry})
		if err := l.runner.Start(ctx); err != nil {
			cancel()
			l.runner = nil
			return fmt.Errorf("start rollout dispatch: %w", err)
		}
	}
	l.cancel, l.done, l.started = cancel, make(chan struct{}), true
	if l.algorithm.Name() == algorithm.NameNone {
		close(l.done)
		return nil
	}
	rolloutCfg, _ := l.cfg.Algorithm.Rollout.rolloutConfig() // validated with the config
	env := &algorithm.Env{
		Store: s, Dataset: l.dataset, Resources: l.resources, RolloutConfig: rolloutCfg, LLM: l.llm,
		Logger: l.logger, Metrics: algorithmMetrics{l.telemetry}, Progress: l.progress, RewardSettle: l.cfg.Algorithm.RewardSettle,
	}
	if l.runner != nil {
		env.Notify = l.runner.Wake
	}
	go func() {
		defer close(l.done)
		err := l.algorithm.Run(ctx, env)
		l.progress.Finish(err)
		switch st := l.progress.Snapshot(); {
		case err == nil:
			l.logger.Info("Algorithm finished", zap.String("algorithm", st.Name), zap.Float64p("best_score", st.BestScore), zap.Stringp("best_resources_id", st.BestResourcesID))
		case st.State == algorithm.StateCancelled:
			l.logger.Info("Algorithm cancelled by shutdown", zap.String("algorithm", st.Name))
		default:
			l.logger.Error("Algorithm failed", zap.String("algorithm", st.Name), zap.Error(err))
		}
	}()
	return nil
}

// stop cancels the algorithm, then drains the workers.
func (l *loop) stop(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		return nil
	}
	l.started = false
	l.cancel()
	var errs []error
	select {
	case <-l.done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("the algorithm is still stopping: %w", ctx.Err()))
	}
	if l.runner != nil {
		errs = append(errs, l.runner.Stop(ctx))
		l.runner = nil
	}
	return errors.Join(errs...)
}

// close releases the metrics once the loop is stopped.
func (l *loop) close() { l.telemetry.Shutdown() }

// reportHandler serves the report, mounted on the store extension's server.
func (l *loop) reportHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		// The status line is out; a failed write means the client left.
		_ = json.NewEncoder(w).Encode(l.progress.Snapshot())
	})
}

// Ready starts the trainer loop: every pipeline is running.
func (t *trainer) Ready() error {
	if t.loop == nil || t.store == nil {
		return nil
	}
	return t.loop.start(t.store)
}

// NotReady stops the trainer loop before the receivers stop, so draining
// rollouts can still export their spans.
func (t *trainer) NotReady() error {
	if t.loop == nil {
		return nil
	}
	return t.loop.stop(context.Background())
}

// dispatchObserver turns worker events into the extension's metrics.
type dispatchObserver struct{ tb *metadata.TelemetryBuilder }

func (o dispatchObserver) AttemptStarted() {
	o.tb.TrainerDispatchRunning.Add(context.Background(), 1)
}

func (o dispatchObserver) AttemptFinished(status model.AttemptStatus, _ time.Duration) {
	ctx := context.Background()
	o.tb.TrainerDispatchRunning.Add(ctx, -1)
	label := string(status)
	if label == "" {
		label = "abandoned"
	}
	o.tb.TrainerDispatchAttempts.Add(ctx, 1, metric.WithAttributes(attribute.String("status", label)))
}

// algorithmMetrics turns algorithm scores into the extension's metrics.
type algorithmMetrics struct{ tb *metadata.TelemetryBuilder }

func (m algorithmMetrics) RolloutScored(resourcesID string, _ model.RolloutStatus, reward float64, hasReward bool) {
	ctx := context.Background()
	id := attribute.String("resources_id", resourcesID)
	m.tb.TrainerAlgorithmRollouts.Add(ctx, 1, metric.WithAttributes(id, attribute.Bool("rewarded", hasReward)))
	m.tb.TrainerAlgorithmReward.Record(ctx, reward, metric.WithAttributes(id))
}

func (m algorithmMetrics) ResourcesScored(resourcesID string, score float64) {
	m.tb.TrainerAlgorithmMeanReward.Record(context.Background(), score, metric.WithAttributes(attribute.String("resources_id", resourcesID)))
}
