package benchrun

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/bench/loadgen"
)

// GrowthConfig is a growth run: one store target filled from empty.
type GrowthConfig struct {
	Workload    loadgen.Workload
	TotalSpans  int64
	SampleEvery int64
	Workers     int
	Protocol    string
	// Timeout bounds the whole run.
	Timeout time.Duration
	// MinFreeBytes stops the run when the data directory's file system has
	// less free space than this, so a run too big for the disk ends with
	// its samples instead of a full disk.
	MinFreeBytes int64
}

// GrowthSample is the ingest rate over the window that ended when the
// store held Stored spans.
type GrowthSample struct {
	Stored      int64   `json:"stored_spans"`
	ElapsedSec  float64 `json:"elapsed_sec"`
	SpansPerSec float64 `json:"spans_per_sec"`
	RSSBytes    int64   `json:"rss_bytes"`
	DBBytes     int64   `json:"db_bytes"`
}

// GrowthReport is the result of a growth run.
type GrowthReport struct {
	Name    string         `json:"name"`
	Target  string         `json:"target"`
	Machine Machine        `json:"machine"`
	Load    LoadReport     `json:"load"`
	Samples []GrowthSample `json:"samples"`
	Note    string         `json:"note,omitempty"`
}

// RunGrowth sends unlabelled agent rollouts (each becomes an automatic
// rollout, so no REST call is needed per rollout) until the store holds
// cfg.TotalSpans spans, recording the stored-span rate every
// cfg.SampleEvery spans. The stored count comes from the exporter's
// spans_stored counter on the collector's Prometheus endpoint, which costs
// nothing to read (statistics() counts rows).
func RunGrowth(ctx context.Context, inst *Instance, dataDir string, cfg GrowthConfig, progress func(GrowthSample)) ([]GrowthSample, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	w := cfg.Workload
	per := int64(w.SpansPerRollout())
	var c counters
	var next atomic.Int64
	var senders sync.WaitGroup
	for range max(1, cfg.Workers) {
		var s loadgen.Sender
		if cfg.Protocol == "grpc" {
			var err error
			if s, err = loadgen.NewGRPCSender(inst.OTLPGRPC, loadgen.Options{}); err != nil {
				return nil, err
			}
		} else {
			s = loadgen.NewHTTPSender(inst.OTLPHTTP, loadgen.HTTPOptions{})
		}
		senders.Go(func() {
			defer s.Close()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i*per >= cfg.TotalSpans {
					return
				}
				if err := sendRollout(ctx, s, w.Rollout(int(i), loadgen.IDs{}, time.Now()), 0, &c); err != nil {
					c.fail(err)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { senders.Wait(); close(done) }()

	var samples []GrowthSample
	begin := time.Now()
	lastCount, lastTime := int64(0), begin
	threshold := cfg.SampleEvery
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return samples, fmt.Errorf("growth run stopped at %d spans: %w", lastCount, ctx.Err())
		case <-tick.C:
		}
		if free, err := freeBytes(dataDir); err == nil && free < cfg.MinFreeBytes {
			cancel()
			<-done
			return samples, fmt.Errorf("growth run stopped at %d spans: %d MiB left on the data directory's disk", lastCount, free>>20)
		}
		stored, err := inst.MetricSum(ctx, "otelcol_exporter_lightningstore_spans_stored")
		if err != nil {
			continue
		}
		now := time.Now()
		if stored >= threshold || stored >= cfg.TotalSpans {
			rss, _ := inst.Proc.PeakRSS()
			s := GrowthSample{
				Stored: stored, ElapsedSec: now.Sub(begin).Seconds(),
				SpansPerSec: float64(stored-lastCount) / now.Sub(lastTime).Seconds(),
				RSSBytes:    rss, DBBytes: dirSize(dataDir),
			}
			samples = append(samples, s)
			if progress != nil {
				progress(s)
			}
			lastCount, lastTime = stored, now
			for threshold <= stored {
				threshold += cfg.SampleEvery
			}
		}
		if stored >= cfg.TotalSpans {
			cancel()
			<-done
			if f := c.failed.Load(); f > 0 {
				return samples, fmt.Errorf("%d exports failed (first: %v)", f, c.first)
			}
			return samples, nil
		}
	}
}

// MetricSum adds up every series of a counter on the collector's own
// Prometheus endpoint (its name without any _total suffix).
func (inst *Instance) MetricSum(ctx context.Context, name string) (int64, error) {
	if inst.MetricsURL == "" {
		return 0, fmt.Errorf("no metrics endpoint")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, inst.MetricsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		// The collector's Prometheus exporter may or may not add _total.
		rest = strings.TrimPrefix(rest, "_total")
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return int64(sum), sc.Err()
}

// freeBytes is the space an unprivileged writer has left on dir's file system.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}

func dirSize(dir string) int64 {
	var total int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total
}

// Document renders the growth run.
func (g GrowthReport) Document() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Growth run %s (%s)\n\n", g.Name, g.Machine.Date[:10])
	fmt.Fprintf(&b, "Machine: %s.\n\n", g.Machine.MachineLine())
	fmt.Fprintf(&b, "Target: %s. Load: unlabelled rollouts of %d spans (%d LLM calls, %d-byte messages, %d/%d token ids), "+
		"%d concurrent senders over OTLP/%s, from an empty store. Each row is the stored-span rate over the window that ended there.\n\n",
		g.Target, g.Load.SpansPerRollout, g.Load.CallsPerRollout, g.Load.MessageBytes, g.Load.PromptTokens, g.Load.ResponseTokens,
		g.Load.Workers, g.Load.Protocol)
	if g.Note != "" {
		b.WriteString(g.Note + "\n\n")
	}
	b.WriteString("| stored spans | elapsed | spans/s in window | peak RSS so far | data on disk |\n|---|---|---|---|---|\n")
	for _, s := range g.Samples {
		fmt.Fprintf(&b, "| %s | %.0f s | %s | %s | %s |\n", groupThousands(strconv.FormatInt(s.Stored, 10)), s.ElapsedSec,
			formatCount(s.SpansPerSec), formatBytes(float64(s.RSSBytes)), formatBytes(float64(s.DBBytes)))
	}
	return b.String()
}

// Write stores the growth report as <dir>/<date>-<name>.md and .json.
func (g GrowthReport) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	base := filepath.Join(dir, g.Machine.Date[:10]+"-"+g.Name)
	raw, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode the report: %w", err)
	}
	if err := os.WriteFile(base+".json", append(raw, '\n'), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".md", []byte(g.Document()), 0o644); err != nil {
		return "", err
	}
	return base + ".md", nil
}
