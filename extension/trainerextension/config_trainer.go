package trainerextension

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/algorithm"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Dispatch modes.
const (
	// DispatchPull dispatches nothing: runners dequeue over the REST API.
	DispatchPull = "pull"
	// DispatchCommand runs a command per rollout.
	DispatchCommand = "command"
	// DispatchHTTP posts each rollout to an agent service.
	DispatchHTTP = "http"
)

// DispatchConfig says how queued rollouts reach agents.
type DispatchConfig struct {
	// Mode is pull (default), command or http.
	Mode string `mapstructure:"mode"`
	// Workers is how many rollouts run at the same time (command, http).
	// Default: 4.
	Workers int `mapstructure:"workers"`
	// WorkerIDPrefix names the workers <prefix>-1, <prefix>-2, ... in the
	// store. Default: "<hostname>-<mode>".
	WorkerIDPrefix string `mapstructure:"worker_id_prefix"`
	// PollInterval is how often an idle worker looks at the queue when
	// nothing wakes it (rollouts enqueued by the collector's own algorithm
	// or retried attempts wake it at once). Default: 1s.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// HeartbeatInterval is the period of each worker's heartbeat
	// (UpdateWorker). Default: 10s.
	HeartbeatInterval time.Duration `mapstructure:"heartbeat_interval"`
	// AttemptHeartbeatInterval is how often a running attempt's
	// last_heartbeat_time is refreshed (at most a third of the rollout's
	// unresponsive_seconds). Default: 5s.
	AttemptHeartbeatInterval time.Duration `mapstructure:"attempt_heartbeat_interval"`
	// ShutdownGrace is how long running rollouts may finish when the
	// collector stops; then they are killed and their attempts failed.
	// Default: 10s.
	ShutdownGrace time.Duration `mapstructure:"shutdown_grace"`
	// OTLPEndpoint is the OTLP/HTTP endpoint agents export their spans to
	// (the collector's otlp receiver). Default: http://localhost:4318.
	OTLPEndpoint string `mapstructure:"otlp_endpoint"`
	// Command configures command dispatch.
	Command CommandDispatchConfig `mapstructure:"command"`
	// HTTP configures http dispatch.
	HTTP HTTPDispatchConfig `mapstructure:"http"`

	_ struct{}
}

// CommandDispatchConfig is the command run per rollout.
type CommandDispatchConfig struct {
	// Argv is the program and its arguments; no shell is involved.
	Argv []string `mapstructure:"argv"`
	// Env adds variables to the collector's environment.
	Env map[string]string `mapstructure:"env"`
	// Dir is the working directory. Default: the collector's.
	Dir string `mapstructure:"dir"`
	// RewardFromStdout records the last stdout line of a successful run as
	// the rollout's reward when it is a number.
	RewardFromStdout bool `mapstructure:"reward_from_stdout"`
	// StderrLimitBytes bounds the tail of stderr kept in the attempt's
	// metadata; 0 keeps none. Default: 65536.
	StderrLimitBytes int `mapstructure:"stderr_limit_bytes"`
	// KillGrace is the time between SIGTERM and SIGKILL to the command's
	// process group on timeout or shutdown. Default: 2s.
	KillGrace time.Duration `mapstructure:"kill_grace"`

	_ struct{}
}

// HTTPDispatchConfig is the agent service rollouts are posted to: endpoint,
// timeout, headers, tls, auth... as in confighttp, plus a bound on the
// answer.
type HTTPDispatchConfig struct {
	confighttp.ClientConfig `mapstructure:",squash"`
	// ResponseLimitBytes bounds how much of an answer is read. Default:
	// 65536.
	ResponseLimitBytes int `mapstructure:"response_limit_bytes"`

	_ struct{}
}

// AlgorithmConfig selects the algorithm the collector runs.
type AlgorithmConfig struct {
	// Name is none (default), evaluate or apo.
	Name string `mapstructure:"name"`
	// Dataset is the JSONL task file and its split.
	Dataset DatasetConfig `mapstructure:"dataset"`
	// Resources is published as the initial resources (name to resource,
	// in Agent Lightning's JSON shape, e.g. {resource_type:
	// prompt_template, template: ..., engine: f-string}). Empty: the
	// store's latest resources.
	Resources map[string]map[string]any `mapstructure:"resources"`
	// Rollout is the RolloutConfig of every rollout the algorithm enqueues.
	Rollout RolloutSettings `mapstructure:"rollout"`
	// ReportPath is where the run's report (the JSON of GET
	// /v1/lightning/algorithm) is written. Default: algorithm-report.json
	// in the store extension's data directory (next to its SQLite file);
	// none when the store has no local directory (memory, postgres).
	ReportPath string `mapstructure:"report_path"`
	// RewardSettle is how long a finished rollout without a reward is read
	// again, for reward spans still in the pipeline. Default: 2s.
	RewardSettle time.Duration `mapstructure:"reward_settle"`
	// Evaluate tunes the evaluate algorithm.
	Evaluate EvaluateSettings `mapstructure:"evaluate"`
	// APO tunes the apo algorithm.
	APO APOSettings `mapstructure:"apo"`

	_ struct{}
}

// DatasetConfig locates the tasks.
type DatasetConfig struct {
	// Path is the JSONL file of tasks (the training set when ValPath is
	// set).
	Path string `mapstructure:"path"`
	// ValPath is an optional JSONL file of validation tasks.
	ValPath string `mapstructure:"val_path"`
	// ValFraction of Path's tasks go to the validation set when ValPath is
	// empty, chosen with Seed. Default: 0.
	ValFraction float64 `mapstructure:"val_fraction"`
	// Seed of the split. Default: 0.
	Seed uint64 `mapstructure:"seed"`

	_ struct{}
}

// RolloutSettings is Agent Lightning's RolloutConfig in collector units.
type RolloutSettings struct {
	// Timeout is timeout_seconds (0: none). Default: 0.
	Timeout time.Duration `mapstructure:"timeout"`
	// Unresponsive is unresponsive_seconds (0: none). Default: 0.
	Unresponsive time.Duration `mapstructure:"unresponsive"`
	// MaxAttempts counts every attempt. Default: 1.
	MaxAttempts int `mapstructure:"max_attempts"`
	// RetryCondition lists the attempt statuses that are retried (failed,
	// timeout, unresponsive). Default: none.
	RetryCondition []string `mapstructure:"retry_condition"`

	_ struct{}
}

// EvaluateSettings tunes evaluate.
type EvaluateSettings struct {
	// Repeats runs every task this many times. Default: 1.
	Repeats int `mapstructure:"repeats"`
	// Split is all (default), train or val.
	Split string `mapstructure:"split"`
	// Timeout bounds the run. Default: 1h.
	Timeout time.Duration `mapstructure:"timeout"`

	_ struct{}
}

// APOSettings tunes apo; the defaults are Agent Lightning's.
type APOSettings struct {
	// LLM is the OpenAI-compatible API the optimizer calls: endpoint is the
	// API root (for example https://api.openai.com/v1), plus timeout,
	// headers, tls... as in confighttp.
	LLM confighttp.ClientConfig `mapstructure:"llm"`
	// APIKey is sent as a bearer token. Default: $OPENAI_API_KEY.
	APIKey configopaque.String `mapstructure:"api_key"`
	// GradientModel writes the critiques. Default: gpt-5-mini.
	GradientModel string `mapstructure:"gradient_model"`
	// EditModel applies them. Default: gpt-4.1-mini.
	EditModel string `mapstructure:"edit_model"`
	// Temperature of both calls. Default: 1.0.
	Temperature float64 `mapstructure:"temperature"`
	// BeamWidth prompts are kept per round. Default: 4.
	BeamWidth int `mapstructure:"beam_width"`
	// BranchFactor children per parent. Default: 4.
	BranchFactor int `mapstructure:"branch_factor"`
	// BeamRounds rounds. Default: 3.
	BeamRounds int `mapstructure:"beam_rounds"`
	// GradientBatchSize training tasks per critique. Default: 4.
	GradientBatchSize int `mapstructure:"gradient_batch_size"`
	// ValBatchSize validation tasks per selection. Default: 16.
	ValBatchSize int `mapstructure:"val_batch_size"`
	// RolloutBatchTimeout bounds each batch of rollouts. Default: 1h.
	RolloutBatchTimeout time.Duration `mapstructure:"rollout_batch_timeout"`
	// RunInitialValidation scores the seed prompt on the whole validation
	// set first. Default: true.
	RunInitialValidation bool `mapstructure:"run_initial_validation"`
	// PromptResource names the prompt_template resource to optimise.
	// Default: the first one by name.
	PromptResource string `mapstructure:"prompt_resource"`
	// Seed of the random sampling. Default: 0.
	Seed uint64 `mapstructure:"seed"`

	_ struct{}
}

func defaultDispatchConfig() DispatchConfig {
	return DispatchConfig{
		Mode:                     DispatchPull,
		Workers:                  4,
		PollInterval:             time.Second,
		HeartbeatInterval:        10 * time.Second,
		AttemptHeartbeatInterval: 5 * time.Second,
		ShutdownGrace:            10 * time.Second,
		OTLPEndpoint:             "http://localhost:4318",
		Command:                  CommandDispatchConfig{StderrLimitBytes: 64 << 10, KillGrace: 2 * time.Second},
		HTTP:                     HTTPDispatchConfig{ClientConfig: confighttp.NewDefaultClientConfig(), ResponseLimitBytes: 64 << 10},
	}
}

func defaultAlgorithmConfig() AlgorithmConfig {
	return AlgorithmConfig{
		Name:         algorithm.NameNone,
		Rollout:      RolloutSettings{MaxAttempts: 1},
		RewardSettle: algorithm.DefaultRewardSettle,
		Evaluate:     EvaluateSettings{Repeats: 1, Split: algorithm.SplitAll, Timeout: algorithm.DefaultBatchTimeout},
		APO: APOSettings{
			LLM:                  confighttp.NewDefaultClientConfig(),
			GradientModel:        algorithm.DefaultGradientModel,
			EditModel:            algorithm.DefaultEditModel,
			Temperature:          algorithm.DefaultTemperature,
			BeamWidth:            algorithm.DefaultBeamWidth,
			BranchFactor:         algorithm.DefaultBranchFactor,
			BeamRounds:           algorithm.DefaultBeamRounds,
			GradientBatchSize:    algorithm.DefaultGradientBatchSize,
			ValBatchSize:         algorithm.DefaultValBatchSize,
			RolloutBatchTimeout:  algorithm.DefaultBatchTimeout,
			RunInitialValidation: true,
		},
	}
}

// Validate rejects dispatch settings the workers cannot run with.
func (c *DispatchConfig) Validate() error {
	var errs []error
	switch c.Mode {
	case DispatchPull:
	case DispatchCommand:
		if len(c.Command.Argv) == 0 || strings.TrimSpace(c.Command.Argv[0]) == "" {
			errs = append(errs, errors.New("dispatch.command.argv: must name a program when dispatch.mode is command"))
		}
	case DispatchHTTP:
		if strings.TrimSpace(c.HTTP.Endpoint) == "" {
			errs = append(errs, errors.New("dispatch.http.endpoint: must not be empty when dispatch.mode is http"))
		}
	default:
		errs = append(errs, fmt.Errorf("dispatch.mode: unknown mode %q, want %q, %q or %q", c.Mode, DispatchPull, DispatchCommand, DispatchHTTP))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("dispatch.workers: must be at least 1, got %d", c.Workers))
	}
	for name, d := range map[string]time.Duration{
		"poll_interval": c.PollInterval, "heartbeat_interval": c.HeartbeatInterval,
		"attempt_heartbeat_interval": c.AttemptHeartbeatInterval, "shutdown_grace": c.ShutdownGrace, "command.kill_grace": c.Command.KillGrace,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("dispatch.%s: must be positive, got %s", name, d))
		}
	}
	if c.Command.StderrLimitBytes < 0 {
		errs = append(errs, fmt.Errorf("dispatch.command.stderr_limit_bytes: must not be negative, got %d", c.Command.StderrLimitBytes))
	}
	if c.HTTP.ResponseLimitBytes < 1 {
		errs = append(errs, fmt.Errorf("dispatch.http.response_limit_bytes: must be positive, got %d", c.HTTP.ResponseLimitBytes))
	}
	return errors.Join(errs...)
}

// Validate rejects algorithm settings the run would fail on.
func (c *AlgorithmConfig) Validate() error {
	var errs []error
	switch c.Name {
	case algorithm.NameNone:
		return nil
	case algorithm.NameEvaluate:
		errs = append(errs, c.validateEvaluate()...)
	case algorithm.NameAPO:
		errs = append(errs, c.validateAPO()...)
	default:
		return fmt.Errorf("algorithm.name: unknown algorithm %q, want %q, %q or %q", c.Name, algorithm.NameNone, algorithm.NameEvaluate, algorithm.NameAPO)
	}
	if strings.TrimSpace(c.Dataset.Path) == "" {
		errs = append(errs, fmt.Errorf("algorithm.dataset.path: must not be empty for algorithm %s", c.Name))
	}
	if c.Dataset.ValFraction < 0 || c.Dataset.ValFraction >= 1 {
		errs = append(errs, fmt.Errorf("algorithm.dataset.val_fraction: must be in [0, 1), got %v", c.Dataset.ValFraction))
	}
	if _, err := c.namedResources(); err != nil {
		errs = append(errs, fmt.Errorf("algorithm.resources: %w", err))
	}
	if _, err := c.Rollout.rolloutConfig(); err != nil {
		errs = append(errs, err)
	}
	if c.RewardSettle < 0 {
		errs = append(errs, fmt.Errorf("algorithm.reward_settle: must not be negative, got %s", c.RewardSettle))
	}
	return errors.Join(errs...)
}

func (c *AlgorithmConfig) validateEvaluate() []error {
	var errs []error
	e := c.Evaluate
	if e.Repeats < 1 {
		errs = append(errs, fmt.Errorf("algorithm.evaluate.repeats: must be at least 1, got %d", e.Repeats))
	}
	switch e.Split {
	case algorithm.SplitAll, algorithm.SplitTrain, algorithm.SplitVal:
	default:
		errs = append(errs, fmt.Errorf("algorithm.evaluate.split: unknown split %q, want %q, %q or %q", e.Split, algorithm.SplitAll, algorithm.SplitTrain, algorithm.SplitVal))
	}
	if e.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("algorithm.evaluate.timeout: must be positive, got %s", e.Timeout))
	}
	return errs
}

func (c *AlgorithmConfig) validateAPO() []error {
	var errs []error
	a := c.APO
	if strings.TrimSpace(a.LLM.Endpoint) == "" {
		errs = append(errs, errors.New("algorithm.apo.llm.endpoint: must not be empty (an OpenAI-compatible API root such as https://api.openai.com/v1)"))
	}
	if strings.TrimSpace(c.Dataset.ValPath) == "" && c.Dataset.ValFraction == 0 {
		errs = append(errs, errors.New("algorithm.dataset: apo needs validation tasks: set val_path or val_fraction"))
	}
	for name, v := range map[string]int{
		"beam_width": a.BeamWidth, "branch_factor": a.BranchFactor, "beam_rounds": a.BeamRounds,
		"gradient_batch_size": a.GradientBatchSize, "val_batch_size": a.ValBatchSize,
	} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("algorithm.apo.%s: must be at least 1, got %d", name, v))
		}
	}
	if a.Temperature < 0 || a.Temperature > 2 {
		errs = append(errs, fmt.Errorf("algorithm.apo.temperature: must be in [0, 2], got %v", a.Temperature))
	}
	if a.RolloutBatchTimeout <= 0 {
		errs = append(errs, fmt.Errorf("algorithm.apo.rollout_batch_timeout: must be positive, got %s", a.RolloutBatchTimeout))
	}
	if strings.TrimSpace(a.GradientModel) == "" || strings.TrimSpace(a.EditModel) == "" {
		errs = append(errs, errors.New("algorithm.apo.gradient_model and edit_model: must not be empty"))
	}
	return errs
}

// namedResources returns the configured resources in their normalised
// JSON form.
func (c *AlgorithmConfig) namedResources() (model.NamedResources, error) {
	if len(c.Resources) == 0 {
		return nil, nil
	}
	raw := make(model.NamedResources, len(c.Resources))
	for name, res := range c.Resources {
		b, err := json.Marshal(res)
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", name, err)
		}
		raw[name] = b
	}
	return model.NormalizeResources(raw)
}

// rolloutConfig converts the settings to Agent Lightning's RolloutConfig.
func (r RolloutSettings) rolloutConfig() (*model.RolloutConfig, error) {
	var errs []error
	if r.Timeout < 0 {
		errs = append(errs, fmt.Errorf("algorithm.rollout.timeout: must not be negative, got %s", r.Timeout))
	}
	if r.Unresponsive < 0 {
		errs = append(errs, fmt.Errorf("algorithm.rollout.unresponsive: must not be negative, got %s", r.Unresponsive))
	}
	if r.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("algorithm.rollout.max_attempts: must be at least 1, got %d", r.MaxAttempts))
	}
	cfg := model.DefaultRolloutConfig()
	cfg.MaxAttempts = r.MaxAttempts
	for _, s := range r.RetryCondition {
		st := model.AttemptStatus(s)
		switch st {
		case model.AttemptFailed, model.AttemptTimeout, model.AttemptUnresponsive:
			cfg.RetryCondition = append(cfg.RetryCondition, st)
		default:
			errs = append(errs, fmt.Errorf("algorithm.rollout.retry_condition: %q is not retryable, want failed, timeout or unresponsive", s))
		}
	}
	if r.Timeout > 0 {
		cfg.TimeoutSeconds = model.Ptr(r.Timeout.Seconds())
	}
	if r.Unresponsive > 0 {
		cfg.UnresponsiveSeconds = model.Ptr(r.Unresponsive.Seconds())
	}
	return &cfg, errors.Join(errs...)
}
