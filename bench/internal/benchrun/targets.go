package benchrun

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Env is what starting a target needs.
type Env struct {
	Root    string // repository root
	Binary  string // bin/otelcol-lightning
	Python  string // the interop venv's python, with agentlightning==0.3.0
	WorkDir string // data directories and logs
	PGDSN   string // PostgreSQL DSN; empty skips target (c)
	RunID   uint64
}

// Instance is a started target.
type Instance struct {
	Proc     *Process
	OTLPHTTP string // full URL of OTLP/HTTP /v1/traces
	OTLPGRPC string // host:port of OTLP/gRPC; empty when not served
	API      *API   // nil when the target has no store
	// MetricsURL is the collector's own Prometheus endpoint; empty for
	// Agent Lightning's server.
	MetricsURL string
}

// Target is one column of the comparison.
type Target struct {
	Key      string // a, b, c, d
	Name     string
	Store    bool // serves the Agent Lightning store API
	Triplets bool // builds triplets (our /v1/lightning API)
	// Start starts the target, or returns an error wrapping errSkipped when
	// it cannot run on this machine.
	Start func(env *Env) (*Instance, error)
}

// Targets returns the four targets in table order.
func Targets() []Target {
	return []Target{
		{Key: "a", Name: "ceiling: otlp → nop", Start: startCeiling},
		{Key: "b", Name: "otelcol-lightning, SQLite", Store: true, Triplets: true, Start: startSQLite},
		{Key: "c", Name: "otelcol-lightning, PostgreSQL", Store: true, Triplets: true, Start: startPostgres},
		{Key: "d", Name: "Agent Lightning 0.3.0 server", Store: true, Start: startAgentLightning},
	}
}

func startCeiling(env *Env) (*Instance, error) {
	return startCollector(env, "ceiling", []string{filepath.Join(env.Root, "bench", "configs", "ceiling.yaml")}, false)
}

func startSQLite(env *Env) (*Instance, error) {
	return startCollector(env, "sqlite", []string{filepath.Join(env.Root, "config", "collector.yaml")}, true)
}

// startPostgres runs the default pipeline with the store switched to
// PostgreSQL through a second configuration file merged over the default.
// Each run gets its own schema, so it starts from an empty store.
func startPostgres(env *Env) (*Instance, error) {
	if env.PGDSN == "" {
		return nil, skipped("no PostgreSQL DSN (set LIGHTNING_TEST_POSTGRES_DSN or pass --pg-dsn)")
	}
	overlay := filepath.Join(env.WorkDir, "postgres-overlay.yaml")
	schema := "bench_" + strconv.FormatUint(env.RunID, 36)
	body := fmt.Sprintf("extensions:\n  lightningstore:\n    store:\n      backend: postgres\n      dsn: ${env:LIGHTNING_BENCH_PG_DSN}\n      schema: %s\n", schema)
	if err := os.WriteFile(overlay, []byte(body), 0o600); err != nil {
		return nil, fmt.Errorf("write the postgres overlay: %w", err)
	}
	configs := []string{filepath.Join(env.Root, "config", "collector.yaml"), overlay}
	if err := validateConfig(env, configs); err != nil {
		return nil, skipped("this binary does not accept the postgres backend: %v", err)
	}
	return startCollector(env, "postgres", configs, true)
}

// validateConfig runs `otelcol-lightning validate` on configs.
func validateConfig(env *Env, configs []string) error {
	args := []string{"validate"}
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(env.Binary, args...)
	cmd.Env = append(os.Environ(), "LIGHTNING_BENCH_PG_DSN="+env.PGDSN, "LIGHTNING_DATA_DIR="+env.WorkDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, firstLine(out.String()))
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// startCollector runs our binary with every listener on a free loopback
// port and the data in a fresh directory.
func startCollector(env *Env, name string, configs []string, store bool) (*Instance, error) {
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	dataDir := filepath.Join(env.WorkDir, name+"-data")
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	argv := []string{env.Binary}
	for _, c := range configs {
		argv = append(argv, "--config", c)
	}
	vars := []string{
		"LIGHTNING_OTLP_GRPC_ENDPOINT=" + addr(0),
		"LIGHTNING_OTLP_HTTP_ENDPOINT=" + addr(1),
		"LIGHTNING_API_ENDPOINT=" + addr(2),
		"LIGHTNING_HEALTH_ENDPOINT=" + addr(3),
		"LIGHTNING_METRICS_PORT=" + strconv.Itoa(ports[4]),
		"LIGHTNING_LLMPROXY_ENDPOINT=" + addr(5),
		"LIGHTNING_DATA_DIR=" + dataDir,
		"LIGHTNING_BENCH_PG_DSN=" + env.PGDSN,
	}
	p, err := StartProcess(name, argv, vars, env.Root, filepath.Join(env.WorkDir, name+".log"))
	if err != nil {
		return nil, err
	}
	ready := []string{"http://" + addr(3) + "/"}
	inst := &Instance{
		Proc: p, OTLPHTTP: "http://" + addr(1) + "/v1/traces", OTLPGRPC: addr(0),
		MetricsURL: "http://localhost:" + strconv.Itoa(ports[4]) + "/metrics",
	}
	if store {
		inst.API = NewAPI("http://" + addr(2))
		ready = append(ready, inst.API.base+"/v1/agl/health")
	}
	if err := p.WaitReady(60*time.Second, ready...); err != nil {
		_ = p.Stop(10 * time.Second)
		return nil, err
	}
	return inst, nil
}

// startAgentLightning runs Agent Lightning's own store server (`agl store`,
// in-memory backend) from the interop virtualenv.
func startAgentLightning(env *Env) (*Instance, error) {
	if env.Python == "" {
		return nil, skipped("no Python with agentlightning (run interop/setup.sh, or pass --python)")
	}
	if _, err := os.Stat(env.Python); err != nil {
		return nil, skipped("%s not found (run interop/setup.sh)", env.Python)
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ports[0])
	argv := []string{env.Python, "-m", "agentlightning.cli.store", "--host", "127.0.0.1", "--port", port, "--log-level", "WARNING"}
	// LiteLLM, imported by agentlightning, would otherwise fetch its model
	// cost map from the network at import time.
	p, err := StartProcess("agentlightning", argv, []string{"LITELLM_LOCAL_MODEL_COST_MAP=True"}, env.WorkDir,
		filepath.Join(env.WorkDir, "agentlightning.log"))
	if err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + port
	if err := p.WaitReady(120*time.Second, base+"/v1/agl/health"); err != nil {
		_ = p.Stop(10 * time.Second)
		return nil, err
	}
	return &Instance{Proc: p, OTLPHTTP: base + "/v1/traces", API: NewAPI(base)}, nil
}
