// Command lightningbench runs the same agent load against the collector's
// ceiling (otlp → nop), the default pipeline on SQLite, the default pipeline
// on PostgreSQL (when a DSN is given) and Agent Lightning 0.3.0's own store
// server, and prints one table with every figure as a ratio to the ceiling
// and to Agent Lightning. Run it through bench/run, which builds the binary
// and the Python virtualenv first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/bench/internal/benchrun"
	"github.com/otelcol-lightning/otelcol-lightning/bench/loadgen"
)

type options struct {
	root, binary, python, pgDSN, targets, name, out, workDir, note string
	quick, growth, keep                                            bool
	load                                                           benchrun.LoadConfig
	growthSpans, growthEvery, growthMinFree                        int64
	growthTimeout                                                  time.Duration
}

func parseFlags(args []string) (options, error) {
	var o options
	w := loadgen.DefaultWorkload()
	fs := flag.NewFlagSet("bench/run", flag.ContinueOnError)
	fs.StringVar(&o.root, "root", ".", "repository root")
	fs.StringVar(&o.binary, "binary", "bin/otelcol-lightning", "collector binary (relative to --root)")
	fs.StringVar(&o.python, "python", ".venv/bin/python", "Python with agentlightning==0.3.0 (relative to --root); empty skips (d)")
	fs.StringVar(&o.pgDSN, "pg-dsn", os.Getenv("LIGHTNING_TEST_POSTGRES_DSN"), "PostgreSQL DSN for target (c); default $LIGHTNING_TEST_POSTGRES_DSN")
	fs.StringVar(&o.targets, "targets", "a,b,c,d", "targets to run: a ceiling, b SQLite, c PostgreSQL, d Agent Lightning")
	fs.StringVar(&o.name, "name", "", "results name: bench/results/<date>-<name>.md (default quick, full or growth)")
	fs.StringVar(&o.out, "out", "bench/results", "results directory (relative to --root)")
	fs.StringVar(&o.note, "note", "", "a sentence for the results file (e.g. how the PostgreSQL server is configured)")
	fs.StringVar(&o.workDir, "workdir", "", "directory for data and logs (default: a temporary directory, removed unless --keep)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (data and server logs)")
	fs.BoolVar(&o.quick, "quick", false, "a run under a minute: fewer rollouts, a short latency phase")
	fs.BoolVar(&o.growth, "growth", false, "growth run: fill target (b) (or (c) with --targets c) from empty to --growth-spans")
	fs.Int64Var(&o.growthSpans, "growth-spans", 10_000_000, "growth run: stored spans to reach")
	fs.Int64Var(&o.growthEvery, "growth-every", 250_000, "growth run: sample the rate every this many spans")
	fs.DurationVar(&o.growthTimeout, "growth-timeout", 3*time.Hour, "growth run: give up after this long")
	fs.Int64Var(&o.growthMinFree, "growth-min-free", 2<<30, "growth run: stop when the data directory's disk has fewer free bytes")

	fs.IntVar(&o.load.Rollouts, "rollouts", 3000, "rollouts in the throughput phase")
	fs.IntVar(&o.load.Workers, "workers", 8, "concurrent senders in the throughput phase")
	fs.IntVar(&o.load.SpansPerRequest, "spans-per-request", 0, "split rollouts into exports of this many spans (0: one export per rollout)")
	fs.StringVar(&o.load.Protocol, "protocol", "http", "OTLP transport for (a)-(c): http or grpc ((d) takes only http)")
	fs.Float64Var(&o.load.LatencyRate, "latency-rate", 100, "background load of the latency phase, spans/s (well below every target's capacity)")
	fs.DurationVar(&o.load.LatencyDuration, "latency-duration", 20*time.Second, "length of the latency phase (0 skips it)")
	fs.IntVar(&o.load.Probers, "probers", 2, "latency probes in flight at once")
	fs.DurationVar(&o.load.DrainTimeout, "drain-timeout", 2*time.Minute, "how long to wait for spans and triplets after the last export")
	fs.IntVar(&w.CallsPerRollout, "calls", w.CallsPerRollout, "LLM calls per rollout")
	fs.BoolVar(&w.ToolCalls, "tools", w.ToolCalls, "a tool span after each LLM call")
	fs.BoolVar(&w.Reward, "reward", w.Reward, "a reward span per rollout")
	fs.IntVar(&w.MessageBytes, "message-bytes", w.MessageBytes, "bytes of every message's content")
	fs.IntVar(&w.PromptTokens, "prompt-tokens", w.PromptTokens, "prompt token ids of the first call")
	fs.IntVar(&w.ResponseTokens, "response-tokens", w.ResponseTokens, "response token ids of every call")
	fs.IntVar(&w.HistoryTurns, "history", w.HistoryTurns, "earlier turns repeated in each prompt (0: all)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["rollouts"] {
			o.load.Rollouts = 300
		}
		if !set["latency-duration"] {
			o.load.LatencyDuration = 5 * time.Second
		}
		if !set["drain-timeout"] {
			o.load.DrainTimeout = 30 * time.Second
		}
	}
	if o.growth && !set["message-bytes"] {
		// Ten million spans of the default shape would take ~40 GB; growth
		// measures the store's scaling, so smaller spans do.
		w.MessageBytes, w.PromptTokens, w.ResponseTokens = 100, 64, 16
	}
	if o.name == "" {
		switch {
		case o.growth:
			o.name = "growth"
		case o.quick:
			o.name = "quick"
		default:
			o.name = "full"
		}
	}
	if o.load.Protocol != "http" && o.load.Protocol != "grpc" {
		return o, fmt.Errorf("--protocol: want http or grpc, got %q", o.load.Protocol)
	}
	w.RunID = uint64(time.Now().UnixNano())
	if err := w.Validate(); err != nil {
		return o, err
	}
	o.load.Workload = w
	root, err := filepath.Abs(o.root)
	if err != nil {
		return o, err
	}
	o.root = root
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	o.binary, o.python, o.out = abs(o.binary), abs(o.python), abs(o.out)
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench/run:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/run:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if _, err := os.Stat(o.binary); err != nil {
		return fmt.Errorf("collector binary: %w (build it with make build)", err)
	}
	workDir := o.workDir
	if workDir == "" {
		dir, err := os.MkdirTemp("", "lightning-bench-")
		if err != nil {
			return err
		}
		workDir = dir
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	env := &benchrun.Env{
		Root: o.root, Binary: o.binary, Python: o.python, WorkDir: workDir, PGDSN: o.pgDSN,
		RunID: o.load.Workload.RunID,
	}
	if o.growth {
		return runGrowth(ctx, o, env)
	}
	wanted := map[string]bool{}
	for k := range strings.SplitSeq(o.targets, ",") {
		wanted[strings.TrimSpace(k)] = true
	}
	python := ""
	if wanted["d"] {
		python = o.python
	}
	// Described first: the load average shows what else the machine was doing.
	rep := benchrun.Report{Name: o.name, Note: o.note, Load: benchrun.NewLoadReport(o.load), Machine: benchrun.DescribeMachine(o.root, python)}
	for _, t := range benchrun.Targets() {
		if !wanted[t.Key] {
			continue
		}
		fmt.Fprintf(os.Stderr, "== (%s) %s\n", t.Key, t.Name)
		res := runTarget(ctx, t, env, o.load)
		switch {
		case res.Skipped != "":
			fmt.Fprintf(os.Stderr, "   skipped: %s\n", res.Skipped)
		case res.Error != "":
			fmt.Fprintf(os.Stderr, "   failed: %s\n", res.Error)
		}
		rep.Results = append(rep.Results, res)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fmt.Println()
	fmt.Println(rep.Machine.MachineLine())
	fmt.Println()
	fmt.Print(rep.Text())
	fmt.Println()
	fmt.Print(rep.Details())
	path, err := rep.Write(o.out)
	if err != nil {
		return err
	}
	fmt.Printf("\nwritten to %s (and .json)\n", path)
	return nil
}

// runTarget starts t, measures it and stops it; failures end up in the
// result so that one broken target does not hide the others.
func runTarget(ctx context.Context, t benchrun.Target, env *benchrun.Env, load benchrun.LoadConfig) benchrun.Result {
	res := benchrun.Result{Key: t.Key, Name: t.Name}
	start := time.Now()
	inst, err := t.Start(env)
	if err != nil {
		if benchrun.IsSkipped(err) {
			res.Skipped = strings.TrimPrefix(err.Error(), "skipped: ")
		} else {
			res.Error = err.Error()
		}
		return res
	}
	fmt.Fprintf(os.Stderr, "   started in %s (pid %d)\n", time.Since(start).Round(time.Millisecond), inst.Proc.Pid())
	measured, err := benchrun.Run(ctx, t, inst, load)
	if stopErr := inst.Proc.Stop(30 * time.Second); stopErr != nil && err == nil {
		err = stopErr
	}
	if err != nil {
		measured.Error = err.Error()
		fmt.Fprintf(os.Stderr, "   server log tail:\n%s\n", inst.Proc.LogTail(20))
	}
	fmt.Fprintf(os.Stderr, "   done in %s\n", time.Since(start).Round(time.Millisecond))
	return measured
}

func runGrowth(ctx context.Context, o options, env *benchrun.Env) error {
	key := "b"
	if o.targets == "c" {
		key = "c"
	}
	var target benchrun.Target
	for _, t := range benchrun.Targets() {
		if t.Key == key {
			target = t
		}
	}
	machine := benchrun.DescribeMachine(o.root, "")
	inst, err := target.Start(env)
	if err != nil {
		return err
	}
	defer func() { _ = inst.Proc.Stop(60 * time.Second) }()
	load := o.load
	cfg := benchrun.GrowthConfig{
		Workload: load.Workload, TotalSpans: o.growthSpans, SampleEvery: o.growthEvery,
		Workers: load.Workers, Protocol: load.Protocol, Timeout: o.growthTimeout, MinFreeBytes: o.growthMinFree,
	}
	fmt.Fprintf(os.Stderr, "== growth: (%s) %s to %d spans\n", target.Key, target.Name, o.growthSpans)
	dataDir := filepath.Join(env.WorkDir, map[string]string{"b": "sqlite", "c": "postgres"}[key]+"-data")
	samples, runErr := benchrun.RunGrowth(ctx, inst, dataDir, cfg, func(s benchrun.GrowthSample) {
		fmt.Fprintf(os.Stderr, "   %12d spans  %6.0f s  %8.0f spans/s\n", s.Stored, s.ElapsedSec, s.SpansPerSec)
	})
	rep := benchrun.GrowthReport{
		Name: o.name, Target: fmt.Sprintf("(%s) %s", target.Key, target.Name),
		Machine: machine, Load: benchrun.NewLoadReport(load), Samples: samples,
	}
	if runErr != nil {
		rep.Note = "The run stopped early: " + runErr.Error()
	}
	path, err := rep.Write(o.out)
	if err != nil {
		return err
	}
	fmt.Print(rep.Document())
	fmt.Printf("\nwritten to %s (and .json)\n", path)
	return runErr
}
