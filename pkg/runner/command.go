package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Defaults of CommandConfig.
const (
	DefaultStderrLimitBytes = 64 << 10
	DefaultKillGrace        = 2 * time.Second
	// stdoutTailBytes is how much of stdout is kept to find the last line.
	stdoutTailBytes = 4 << 10
)

// CommandConfig describes the command run per rollout.
type CommandConfig struct {
	// Argv is the program and its arguments (no shell is involved).
	Argv []string
	// Env adds variables to the collector's environment.
	Env map[string]string
	// Dir is the working directory ("" = the collector's).
	Dir string
	// RewardFromStdout records the last stdout line of a successful run as
	// the reward when it parses as a finite float.
	RewardFromStdout bool
	// StderrLimitBytes bounds the stderr tail kept in the attempt's
	// metadata (default 64 KiB; negative keeps none).
	StderrLimitBytes int
	// KillGrace is the time between SIGTERM and SIGKILL when a command is
	// stopped (default 2s).
	KillGrace time.Duration
}

// CommandExecutor runs a command per rollout: the task JSON on stdin, the
// rollout, attempt, resources and OTLP endpoint in its environment, exit
// status 0 for success.
type CommandExecutor struct {
	cfg CommandConfig
}

var _ Executor = (*CommandExecutor)(nil)

// NewCommandExecutor checks cfg and returns the executor.
func NewCommandExecutor(cfg CommandConfig) (*CommandExecutor, error) {
	if len(cfg.Argv) == 0 || strings.TrimSpace(cfg.Argv[0]) == "" {
		return nil, errors.New("command: argv must name a program")
	}
	if cfg.StderrLimitBytes == 0 {
		cfg.StderrLimitBytes = DefaultStderrLimitBytes
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = DefaultKillGrace
	}
	return &CommandExecutor{cfg: cfg}, nil
}

// Execute runs the command until it exits or ctx ends; then the process
// group gets SIGTERM and, KillGrace later, SIGKILL.
func (e *CommandExecutor) Execute(ctx context.Context, job *Job) Result {
	cmd := exec.Command(e.cfg.Argv[0], e.cfg.Argv[1:]...) //nolint:gosec // running the configured agent is the point
	cmd.Dir = e.cfg.Dir
	cmd.Env = commandEnv(os.Environ(), e.cfg.Env, job)
	cmd.Stdin = bytes.NewReader(model.RawOrNull(job.Rollout.Input))
	stdout := newTailBuffer(stdoutTailBytes)
	stderr := newTailBuffer(max(e.cfg.StderrLimitBytes, 0))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A grandchild that keeps the pipes open must not hold the worker.
	cmd.WaitDelay = e.cfg.KillGrace
	isolate(cmd)

	if err := cmd.Start(); err != nil {
		return Result{Status: model.AttemptFailed, Err: fmt.Errorf("start %s: %w", e.cfg.Argv[0], err)}
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var waitErr error
	select {
	case waitErr = <-waited:
	case <-ctx.Done():
		waitErr = e.stop(cmd, waited)
	}
	// Whatever the command left running in its group is not wanted: the
	// rollout is over.
	_ = kill(cmd)
	return e.result(cmd, waitErr, stdout, stderr)
}

// stop sends SIGTERM to the group, then SIGKILL after the grace period,
// and returns the command's wait error.
func (e *CommandExecutor) stop(cmd *exec.Cmd, waited <-chan error) error {
	_ = terminate(cmd)
	grace := time.NewTimer(e.cfg.KillGrace)
	defer grace.Stop()
	select {
	case err := <-waited:
		return err
	case <-grace.C:
	}
	_ = kill(cmd)
	return <-waited
}

func (e *CommandExecutor) result(cmd *exec.Cmd, waitErr error, stdout, stderr *tailBuffer) Result {
	meta := map[string]any{}
	if e.cfg.StderrLimitBytes > 0 {
		meta["stderr"] = stderr.String()
		meta["stderr_truncated"] = stderr.Truncated()
	}
	meta["stderr_bytes"] = stderr.Total()
	state := cmd.ProcessState
	if state != nil {
		meta["exit_code"] = state.ExitCode()
	}
	if sig := exitSignal(state); sig != "" {
		meta["signal"] = sig
	}
	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		return Result{Status: model.AttemptFailed, Metadata: meta, Err: fmt.Errorf("command exited: %s", state)}
	case errors.Is(waitErr, exec.ErrWaitDelay):
		// The command exited 0 but something it started held stdout or
		// stderr open past the grace period; the exit status stands.
	default:
		return Result{Status: model.AttemptFailed, Metadata: meta, Err: fmt.Errorf("wait for the command: %w", waitErr)}
	}
	res := Result{Status: model.AttemptSucceeded, Metadata: meta}
	if e.cfg.RewardFromStdout {
		if v, ok := lastLineFloat(stdout.String()); ok {
			res.Reward = &v
		} else {
			meta["reward_error"] = "the last stdout line is not a number"
		}
	}
	return res
}

// lastLineFloat parses the last non-blank line of out as a finite float.
func lastLineFloat(out string) (float64, bool) {
	lines := strings.Split(strings.TrimRight(out, " \t\r\n"), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	v, err := strconv.ParseFloat(last, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}
