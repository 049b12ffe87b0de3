// Package exportcli is the `otelcol-lightning export` command: it reads a
// store directly (the SQLite file or the PostgreSQL database a collector
// writes) and streams a training dataset as JSON Lines, like the
// GET /v1/lightning/export route, without a running collector.
package exportcli // import "github.com/otelcol-lightning/otelcol-lightning/internal/exportcli"

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/export"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/pgstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlitestore"
)

// Command is the subcommand name on the collector binary.
const Command = "export"

const usage = `Usage: otelcol-lightning export --format sft|triplets|trajectories [flags]

Streams a training dataset from a store as JSON Lines (one example per line)
to stdout or --output. A summary (lines written, and what was left out and
why, such as LLM calls without token ids) is printed to stderr as JSON.
Formats are documented in docs/exports.md.

Flags:
`

// options are the parsed command line.
type options struct {
	backend, path, dsn, schema string
	output                     string
	export                     export.Options
}

// Main runs the command and returns the process exit code: 0 on success,
// 2 on a usage error, 1 on any other failure.
func Main(args []string, stdout, stderr io.Writer) int {
	opts, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "export: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, opts, stdout)
	if b, jerr := json.Marshal(sum); jerr == nil && sum.Format != "" {
		fmt.Fprintf(stderr, "%s\n", b)
	}
	if sum.CallsWithoutTokenIDs > 0 {
		fmt.Fprintf(stderr, "export: %d LLM calls had no token ids and are in no row (spans %s); "+
			"have the model server return them (vLLM return_token_ids)\n",
			sum.CallsWithoutTokenIDs, strings.Join(sum.SpansWithoutTokenIDs, ", "))
	}
	if err != nil {
		fmt.Fprintf(stderr, "export: %v\n", err)
		return 1
	}
	return 0
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	var format, status, mode, rollouts string
	var after, before, minReward optionalFloat
	var resources optionalString
	fs := flag.NewFlagSet(Command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.backend, "backend", "sqlite", "store backend: sqlite or postgres")
	fs.StringVar(&o.path, "path", "./data/lightning.db", "SQLite database file (backend sqlite)")
	fs.StringVar(&o.dsn, "dsn", os.Getenv("LIGHTNING_STORE_DSN"), "PostgreSQL DSN (backend postgres; default $LIGHTNING_STORE_DSN)")
	fs.StringVar(&o.schema, "schema", "", "PostgreSQL schema of the store's tables (backend postgres)")
	fs.StringVar(&o.output, "output", "", "write the dataset to this file instead of stdout")
	fs.StringVar(&format, "format", "", "dataset format: sft, triplets or trajectories (required)")
	fs.StringVar(&status, "status", "", "keep rollouts in these statuses (comma-separated), e.g. succeeded")
	fs.StringVar(&mode, "mode", "", "keep rollouts of these modes (comma-separated): train, val, test")
	fs.StringVar(&rollouts, "rollout-id", "", "keep only these rollouts (comma-separated)")
	fs.Var(&resources, "resources-id", "keep rollouts run with this resources snapshot")
	fs.Var(&after, "started-after", "keep rollouts with start_time >= this Unix time (seconds)")
	fs.Var(&before, "started-before", "keep rollouts with start_time < this Unix time (seconds)")
	fs.Var(&minReward, "min-reward", "keep attempts whose reward is at least this (attempts without a reward are left out)")
	fs.StringVar(&o.export.Attempts, "attempts", export.AttemptsLatest, "which attempts of each rollout: latest or all")
	fs.StringVar(&o.export.Granularity, "granularity", export.GranularityConversation, "sft: one line per conversation or per call")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if format == "" {
		return o, errors.New("--format is required: sft, triplets or trajectories")
	}
	o.export.Format = export.Format(format)
	for _, s := range splitList(status) {
		o.export.Filter.Statuses = append(o.export.Filter.Statuses, model.RolloutStatus(s))
	}
	for _, m := range splitList(mode) {
		o.export.Filter.Modes = append(o.export.Filter.Modes, model.RolloutMode(m))
	}
	o.export.Filter.RolloutIDs = splitList(rollouts)
	o.export.Filter.ResourcesID = resources.v
	o.export.Filter.StartedAfter, o.export.Filter.StartedBefore, o.export.Filter.MinReward = after.v, before.v, minReward.v
	if err := o.export.Validate(); err != nil {
		return o, err
	}
	switch o.backend {
	case "sqlite":
		if _, err := os.Stat(o.path); err != nil {
			return o, fmt.Errorf("--path: %w", err)
		}
	case "postgres":
		if o.dsn == "" {
			return o, errors.New("--dsn (or LIGHTNING_STORE_DSN) is required with --backend postgres")
		}
	default:
		return o, fmt.Errorf("--backend: %q is not sqlite or postgres", o.backend)
	}
	return o, nil
}

func run(ctx context.Context, o options, stdout io.Writer) (export.Summary, error) {
	backend, err := open(ctx, o)
	if err != nil {
		return export.Summary{}, err
	}
	// The store applies Agent Lightning's watchdog before its calls, as it
	// would for any client: an attempt past its timeout is marked so.
	st := store.New(backend, store.Options{})
	defer st.Close()

	out := stdout
	var file *os.File
	if o.output != "" {
		if file, err = os.Create(o.output); err != nil {
			return export.Summary{}, fmt.Errorf("--output: %w", err)
		}
		out = file
	}
	bw := bufio.NewWriterSize(out, 1<<16)
	sum, err := export.Write(ctx, st, bw, o.export)
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write: %w", ferr)
	}
	if file != nil {
		if cerr := file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("--output: %w", cerr)
		}
	}
	return sum, err
}

func open(ctx context.Context, o options) (store.Backend, error) {
	if o.backend == "postgres" {
		b, err := pgstore.Open(ctx, pgstore.Config{DSN: o.dsn, Schema: o.schema})
		if err != nil {
			return nil, fmt.Errorf("open the postgres store: %w", err)
		}
		return b, nil
	}
	b, err := sqlitestore.OpenContext(ctx, o.path)
	if err != nil {
		return nil, fmt.Errorf("open the sqlite store %s: %w", o.path, err)
	}
	return b, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
