package benchrun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Machine describes where a run happened.
type Machine struct {
	Date           string `json:"date"`
	CPUs           int    `json:"nproc"`
	CPUModel       string `json:"cpu_model"`
	MemoryBytes    int64  `json:"memory_bytes"`
	Kernel         string `json:"kernel"`
	GoVersion      string `json:"go_version"`
	Commit         string `json:"commit"`
	Dirty          bool   `json:"dirty"`
	LoadAverage    string `json:"load_average"` // /proc/loadavg when the run started: other work on the machine
	Python         string `json:"python,omitempty"`
	AgentLightning string `json:"agentlightning,omitempty"`
}

// DescribeMachine gathers Machine from /proc, git and the Python venv.
func DescribeMachine(root, python string) Machine {
	m := Machine{Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.MemoryBytes = kb * 1024
				}
			}
		}
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAverage = strings.Join(strings.Fields(string(raw))[:3], " ")
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(raw))
	}
	m.Commit = output(root, "git", "rev-parse", "--short=12", "HEAD")
	m.Dirty = output(root, "git", "status", "--porcelain", "--untracked-files=no") != ""
	if python != "" {
		v := output(root, python, "-c", "import sys, importlib.metadata as m; print(sys.version.split()[0], m.version('agentlightning'))")
		if py, agl, ok := strings.Cut(v, " "); ok {
			m.Python, m.AgentLightning = py, agl
		}
	}
	return m
}

func output(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Report is everything one bench/run invocation measured.
type Report struct {
	Name    string     `json:"name"`
	Note    string     `json:"note,omitempty"` // anything the machine description misses (--note)
	Machine Machine    `json:"machine"`
	Load    LoadReport `json:"load"`
	Results []Result   `json:"results"`
}

// LoadReport is the load in JSON-friendly units.
type LoadReport struct {
	Rollouts           int     `json:"rollouts"`
	SpansPerRollout    int     `json:"spans_per_rollout"`
	CallsPerRollout    int     `json:"llm_calls_per_rollout"`
	ToolCalls          bool    `json:"tool_calls"`
	Reward             bool    `json:"reward"`
	MessageBytes       int     `json:"message_bytes"`
	PromptTokens       int     `json:"prompt_tokens"`
	ResponseTokens     int     `json:"response_tokens"`
	Workers            int     `json:"workers"`
	SpansPerRequest    int     `json:"spans_per_request"`
	Protocol           string  `json:"protocol"`
	LatencyRate        float64 `json:"latency_phase_spans_per_sec"`
	LatencyDurationSec float64 `json:"latency_phase_seconds"`
	Probers            int     `json:"probers"`
}

// NewLoadReport describes cfg.
func NewLoadReport(cfg LoadConfig) LoadReport {
	w := cfg.Workload
	return LoadReport{
		Rollouts: cfg.Rollouts, SpansPerRollout: w.SpansPerRollout(), CallsPerRollout: w.CallsPerRollout,
		ToolCalls: w.ToolCalls, Reward: w.Reward, MessageBytes: w.MessageBytes,
		PromptTokens: w.PromptTokens, ResponseTokens: w.ResponseTokens,
		Workers: cfg.Workers, SpansPerRequest: cfg.SpansPerRequest, Protocol: cfg.Protocol,
		LatencyRate: cfg.LatencyRate, LatencyDurationSec: cfg.LatencyDuration.Seconds(), Probers: cfg.Probers,
	}
}

// column is one figure of the table.
type column struct {
	title  string
	value  func(Result) *float64
	format func(float64) string
}

func columns() []column {
	rss := func(r Result) *float64 {
		if r.PeakRSSBytes == nil {
			return nil
		}
		v := float64(*r.PeakRSSBytes)
		return &v
	}
	return []column{
		{"spans/s", func(r Result) *float64 { return r.SpansPerSec }, formatCount},
		{"triplets/s", func(r Result) *float64 { return r.TripletsPerSec }, formatCount},
		{"span visible p50", func(r Result) *float64 { return r.VisibleP50Ms }, formatMs},
		{"span visible p99", func(r Result) *float64 { return r.VisibleP99Ms }, formatMs},
		{"triplets p50", func(r Result) *float64 { return r.TripletsP50Ms }, formatMs},
		{"triplets p99", func(r Result) *float64 { return r.TripletsP99Ms }, formatMs},
		{"peak RSS", rss, formatBytes},
		{"CPU per rollout", func(r Result) *float64 { return r.CPUMsPerRollout }, formatMs},
	}
}

// cells renders every figure of every result with its ratios to (a) and (d).
func (rep Report) cells() (header []string, rows [][]string) {
	byKey := map[string]Result{}
	for _, r := range rep.Results {
		byKey[r.Key] = r
	}
	header = []string{"", "target"}
	for _, c := range columns() {
		header = append(header, c.title)
	}
	for _, r := range rep.Results {
		row := []string{r.Key, r.Name}
		if r.Skipped != "" || r.Error != "" {
			msg := "skipped: " + r.Skipped
			if r.Error != "" {
				msg = "failed: " + r.Error
			}
			row = append(row, msg)
			for range len(columns()) - 1 {
				row = append(row, "")
			}
			rows = append(rows, row)
			continue
		}
		for _, c := range columns() {
			v := c.value(r)
			if v == nil {
				row = append(row, "—")
				continue
			}
			cell := c.format(*v)
			var ratios []string
			for _, ref := range []string{"a", "d"} {
				if rv := c.value(byKey[ref]); rv != nil && *rv > 0 && byKey[ref].Skipped == "" && byKey[ref].Error == "" {
					ratios = append(ratios, formatRatio(*v / *rv)+"×"+ref)
				}
			}
			if len(ratios) > 0 {
				cell += " (" + strings.Join(ratios, ", ") + ")"
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	return header, rows
}

// Markdown renders the table.
func (rep Report) Markdown() string {
	header, rows := rep.cells()
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(header)) + "\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// Text renders the table aligned for a terminal.
func (rep Report) Text() string {
	header, rows := rep.cells()
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
	return buf.String()
}

// Details lists what the table leaves out: sample counts, errors, the
// achieved background rate of the latency phase.
func (rep Report) Details() string {
	var b strings.Builder
	for _, r := range rep.Results {
		if r.Skipped != "" || r.Error != "" {
			continue
		}
		fmt.Fprintf(&b, "- (%s) %s over %s: %d rollouts, %d spans", r.Key, r.Name, r.Protocol, r.Rollouts, r.Spans)
		if r.Triplets > 0 {
			fmt.Fprintf(&b, ", %d triplets", r.Triplets)
		}
		fmt.Fprintf(&b, "; exports took %.1f s (%.1f ms per rollout", r.SendSeconds, r.MeanExportMs)
		if r.MeanCompleteMs > 0 {
			fmt.Fprintf(&b, ", update_attempt %.1f ms", r.MeanCompleteMs)
		}
		b.WriteString(")")
		if r.DrainSeconds > 0 {
			fmt.Fprintf(&b, ", the last span was readable %.1f s later", r.DrainSeconds)
		}
		if r.VisibleSamples > 0 {
			fmt.Fprintf(&b, "; latency phase at %.0f spans/s achieved, %d visibility samples", r.LatencyLoadAchieved, r.VisibleSamples)
			if r.TripletsSamples > 0 {
				fmt.Fprintf(&b, ", %d triplet samples", r.TripletsSamples)
			}
		}
		if r.CPUMsPerRollout != nil {
			fmt.Fprintf(&b, "; the server used %.1f CPU seconds in the throughput phase", r.CPUSeconds)
		}
		fmt.Fprintf(&b, "; %d retries, %d failed exports", r.Retries, r.FailedExports)
		if r.MissingSpans+r.MissingTriplets > 0 {
			fmt.Fprintf(&b, ", %d rollouts missing spans, %d missing triplets", r.MissingSpans, r.MissingTriplets)
		}
		if r.FirstError != "" {
			fmt.Fprintf(&b, " (first error: %s)", truncate(r.FirstError, 200))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// MachineLine is a one-line description of the machine.
func (m Machine) MachineLine() string {
	commit := m.Commit
	if m.Dirty {
		commit += " (uncommitted changes)"
	}
	s := fmt.Sprintf("%d CPUs (%s), %s RAM, Linux %s, %s, commit %s", m.CPUs, m.CPUModel,
		formatBytes(float64(m.MemoryBytes)), m.Kernel, m.GoVersion, commit)
	if m.AgentLightning != "" {
		s += fmt.Sprintf(", Python %s with agentlightning %s", m.Python, m.AgentLightning)
	}
	if m.LoadAverage != "" {
		s += ", load average " + m.LoadAverage + " at the start"
	}
	return s
}

// Document is the results file: the table, the details and the method.
func (rep Report) Document() string {
	var b strings.Builder
	l := rep.Load
	fmt.Fprintf(&b, "# Benchmark %s (%s)\n\n", rep.Name, rep.Machine.Date[:10])
	fmt.Fprintf(&b, "Machine: %s. Everything on loopback, the load generator on the same machine.\n\n", rep.Machine.MachineLine())
	if rep.Note != "" {
		b.WriteString(rep.Note + "\n\n")
	}
	fmt.Fprintf(&b, "Load: %d rollouts of %d spans (%d LLM calls with %d-byte messages, %d prompt and %d response token ids and a growing conversation",
		l.Rollouts, l.SpansPerRollout, l.CallsPerRollout, l.MessageBytes, l.PromptTokens, l.ResponseTokens)
	if l.ToolCalls {
		b.WriteString(", a tool call after each")
	}
	if l.Reward {
		b.WriteString(", a reward span")
	}
	fmt.Fprintf(&b, ") over OTLP/%s, %d concurrent senders; latency phase: %.0f spans/s for %.0f s with %d probes at a time.\n\n",
		l.Protocol, l.Workers, l.LatencyRate, l.LatencyDurationSec, l.Probers)
	b.WriteString(rep.Markdown())
	b.WriteString("\nRatios are this row's figure divided by row (a)'s and row (d)'s.\n\n")
	b.WriteString(rep.Details())
	b.WriteString("\n" + methodNotes)
	return b.String()
}

const methodNotes = `## Method

- **spans/s**: throughput phase; every rollout is started through the REST API beforehand (not timed), then sent by
  concurrent senders as fast as the target acknowledges, each followed by the runner's update_attempt(succeeded).
  The figure is the spans of all rollouts divided by the time until the last of them was readable through
  query_spans (POST /v1/agl/spans/search). For the ceiling (a), which stores nothing, it is the time until the last
  export was acknowledged.
- **triplets/s**: the triplets of all rollouts divided by the time until the last rollout's triplets were readable
  (GET /v1/lightning/rollouts/{id}/triplets). Agent Lightning's server builds no triplets (its trainer does, client
  side), so (d) has none.
- **span visible p50/p99**: latency phase; while a steady background load runs, probe rollouts are exported one at a
  time; the time from the start of the export until query_spans returns all of the probe's spans.
- **triplets p50/p99**: then the probe's attempt is marked succeeded (POST /v1/agl/rollouts/{id}/attempts/latest);
  the time until its triplets are readable.
- **peak RSS**: VmHWM of the server process at the end of the run.
- **CPU per rollout**: the CPU time (user + system: utime + stime in /proc/<pid>/stat, in clock ticks of 1/100 s)
  of the server process and its children, read when the throughput phase starts (after the rollouts were created)
  and when it ends (the last span and triplet readable), divided by the phase's rollouts. It includes the server's
  work for the checkers' reads and the runners' update_attempt calls, not the load generator's; for (c) it counts
  the collector, not PostgreSQL.
- Senders retry what an OTLP exporter retries (429, 502, 503, 504, gRPC UNAVAILABLE and RESOURCE_EXHAUSTED) with
  backoff; such retries are counted above.
`

// Write stores the report as <dir>/<date>-<name>.md and .json.
func (rep Report) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	base := filepath.Join(dir, rep.Machine.Date[:10]+"-"+rep.Name)
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode the report: %w", err)
	}
	if err := os.WriteFile(base+".json", append(raw, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write the report: %w", err)
	}
	if err := os.WriteFile(base+".md", []byte(rep.Document()), 0o644); err != nil {
		return "", fmt.Errorf("write the report: %w", err)
	}
	return base + ".md", nil
}

func formatCount(v float64) string {
	return groupThousands(strconv.FormatFloat(v, 'f', 0, 64)) + "/s"
}

func groupThousands(s string) string {
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

func formatMs(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
}

func formatBytes(v float64) string {
	const mib = 1 << 20
	if v >= 10*1024*mib {
		return strconv.FormatFloat(v/(1024*mib), 'f', 0, 64) + " GiB"
	}
	return strconv.FormatFloat(v/mib, 'f', 0, 64) + " MiB"
}

func formatRatio(r float64) string {
	switch {
	case r < 0.1:
		return strconv.FormatFloat(r, 'f', 3, 64)
	case r < 10:
		return strconv.FormatFloat(r, 'f', 2, 64)
	default:
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
}
