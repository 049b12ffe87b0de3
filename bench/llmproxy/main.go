// Command llmproxy measures what the collector's LLM proxy (the llmproxy
// receiver) adds to a model call, against calling the same vLLM mock
// directly, in one run:
//
//	go run ./bench/llmproxy            # writes bench/results/<date>-llmproxy.{md,json}
//	go run ./bench/llmproxy -quick
//
// Targets: (direct) the mock itself; (nop) the proxy with its spans dropped
// (bench/configs/llmproxy-nop.yaml), the proxy's own cost; (default)
// config/collector.yaml on SQLite, where each call's span is committed to
// the store before the answer ends (D19). Phases: sequential non-streamed
// calls (latency p50/p99), sequential streamed calls (time to the end and
// to the first event; the added time per chunk), then -concurrent streams
// at once against a mock that paces its chunks (errors, wall time, and the
// proxy's peak RSS growth per in-flight stream).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/bench/internal/benchrun"
	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
)

type options struct {
	root       string
	calls      int
	streams    int
	concurrent int
	chunkDelay time.Duration
	words      int
	out        string
	name       string
}

// slowModel is the model name whose streams the mock paces (the
// concurrency phase).
const slowModel = "slow"

type targetResult struct {
	Name            string  `json:"name"`
	CallP50Ms       float64 `json:"call_p50_ms"`
	CallP99Ms       float64 `json:"call_p99_ms"`
	StreamP50Ms     float64 `json:"stream_p50_ms"`
	StreamP99Ms     float64 `json:"stream_p99_ms"`
	FirstEventP50Ms float64 `json:"first_event_p50_ms"`
	Chunks          int     `json:"chunks_per_stream"`
	Concurrent      int     `json:"concurrent_streams"`
	ConcurrentErrs  int     `json:"concurrent_errors"`
	ConcurrentWallS float64 `json:"concurrent_wall_seconds"`
	RSSBeforeMiB    float64 `json:"peak_rss_before_mib,omitempty"`
	RSSAfterMiB     float64 `json:"peak_rss_after_mib,omitempty"`
	RSSPerStreamKiB float64 `json:"peak_rss_per_stream_kib,omitempty"`
}

type report struct {
	Date    string         `json:"date"`
	Commit  string         `json:"commit"`
	CPUs    int            `json:"cpus"`
	Go      string         `json:"go"`
	Options map[string]any `json:"options"`
	Targets []targetResult `json:"targets"`
}

func main() {
	var o options
	quick := flag.Bool("quick", false, "fewer calls and streams (under a minute)")
	flag.StringVar(&o.root, "root", "", "repository root (default: the main module's directory)")
	flag.IntVar(&o.calls, "calls", 500, "sequential non-streamed calls per target")
	flag.IntVar(&o.streams, "streams", 300, "sequential streamed calls per target")
	flag.IntVar(&o.concurrent, "concurrent", 1000, "streams in flight at once")
	flag.DurationVar(&o.chunkDelay, "chunk-delay", 50*time.Millisecond, "the mock's pause before each chunk in the concurrency phase")
	flag.IntVar(&o.words, "words", 32, "words (tokens) of every answer")
	flag.StringVar(&o.out, "out", "", "results directory (default: bench/results)")
	flag.StringVar(&o.name, "name", "llmproxy", "results file name suffix")
	flag.Parse()
	if *quick {
		o.calls, o.streams, o.name = 100, 60, "llmproxy-quick"
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "llmproxy bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.root == "" {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			return fmt.Errorf("go env GOMOD: %w", err)
		}
		o.root = filepath.Dir(strings.TrimSpace(string(out)))
	}
	if o.out == "" {
		o.out = filepath.Join(o.root, "bench", "results")
	}
	work, err := os.MkdirTemp("", "llmproxy-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	binary := filepath.Join(work, "otelcol-lightning")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "./cmd/otelcol-lightning")
	build.Dir, build.Stderr = o.root, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		return fmt.Errorf("build the collector: %w", err)
	}

	reply := strings.TrimSpace(strings.Repeat("token ", o.words))
	mock := llmmock.NewVLLM(llmmock.VLLMOptions{Options: llmmock.Options{Reply: reply}, ChunkDelay: o.chunkDelay, DelayModel: slowModel})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mock, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	upstream := "http://" + ln.Addr().String() + "/v1"

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * o.concurrent, MaxIdleConnsPerHost: 2 * o.concurrent}}
	rep := report{Date: time.Now().UTC().Format("2006-01-02"), Commit: commit(o.root), CPUs: runtime.NumCPU(), Go: runtime.Version(),
		Options: map[string]any{"calls": o.calls, "streams": o.streams, "concurrent": o.concurrent, "chunk_delay": o.chunkDelay.String(), "words": o.words}}

	targets := []struct {
		name   string
		config string
	}{{"direct", ""}, {"nop", "bench/configs/llmproxy-nop.yaml"}, {"default", "config/collector.yaml"}}
	for _, tg := range targets {
		fmt.Fprintf(os.Stderr, "llmproxy bench: target %s\n", tg.name)
		base := upstream
		var proc *benchrun.Process
		if tg.config != "" {
			p, proxyURL, err := startCollector(o, binary, work, tg.name, tg.config, upstream)
			if err != nil {
				return err
			}
			proc, base = p, proxyURL
		}
		res, err := measure(client, o, tg.name, base, proc)
		if proc != nil {
			_ = proc.Stop(20 * time.Second)
		}
		if err != nil {
			return fmt.Errorf("target %s: %w", tg.name, err)
		}
		rep.Targets = append(rep.Targets, res)
	}
	return write(o, rep)
}

// startCollector runs the binary with config on free ports, the proxy's
// upstream set to the mock.
func startCollector(o options, binary, work, name, config, upstream string) (*benchrun.Process, string, error) {
	// Reserve the ports all at once, then free them for the collector.
	ports := make([]int, 6)
	listeners := make([]net.Listener, 0, len(ports))
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", err
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		listeners = append(listeners, l)
	}
	for _, l := range listeners {
		_ = l.Close()
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	env := []string{
		"LIGHTNING_OTLP_GRPC_ENDPOINT=" + addr(0), "LIGHTNING_OTLP_HTTP_ENDPOINT=" + addr(1),
		"LIGHTNING_API_ENDPOINT=" + addr(2), "LIGHTNING_HEALTH_ENDPOINT=" + addr(3),
		"LIGHTNING_METRICS_PORT=" + strconv.Itoa(ports[4]), "LIGHTNING_LLMPROXY_ENDPOINT=" + addr(5),
		"LIGHTNING_DATA_DIR=" + filepath.Join(work, name+"-data"), "LIGHTNING_LLM_UPSTREAM=" + upstream,
	}
	p, err := benchrun.StartProcess(name, []string{binary, "--config", filepath.Join(o.root, config)}, env, work,
		filepath.Join(work, name+".log"))
	if err != nil {
		return nil, "", err
	}
	if err := p.WaitReady(60*time.Second, "http://"+addr(3)+"/"); err != nil {
		return nil, "", err
	}
	return p, "http://" + addr(5) + "/v1", nil
}

func measure(client *http.Client, o options, name, base string, proc *benchrun.Process) (targetResult, error) {
	res := targetResult{Name: name}
	call := func(i int) error {
		body := fmt.Sprintf(`{"model":"m","messages":[{"role":"user","content":"question %d"}]}`, i)
		resp, err := client.Post(base+"/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	for i := range 20 { // warm-up: connections, caches
		if err := call(i); err != nil {
			return res, err
		}
	}
	calls := make([]time.Duration, 0, o.calls)
	for i := range o.calls {
		t0 := time.Now()
		if err := call(i); err != nil {
			return res, err
		}
		calls = append(calls, time.Since(t0))
	}
	res.CallP50Ms, res.CallP99Ms = ms(pct(calls, 50)), ms(pct(calls, 99))

	totals := make([]time.Duration, 0, o.streams)
	firsts := make([]time.Duration, 0, o.streams)
	for i := range o.streams {
		total, first, chunks, err := stream(context.Background(), client, base, "m", i)
		if err != nil {
			return res, err
		}
		totals, firsts, res.Chunks = append(totals, total), append(firsts, first), chunks
	}
	res.StreamP50Ms, res.StreamP99Ms, res.FirstEventP50Ms = ms(pct(totals, 50)), ms(pct(totals, 99)), ms(pct(firsts, 50))

	if proc != nil {
		if hwm, err := proc.PeakRSS(); err == nil {
			res.RSSBeforeMiB = float64(hwm) / (1 << 20)
		}
	}
	res.Concurrent = o.concurrent
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := make(chan struct{})
	for i := range o.concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			_, _, _, err := stream(ctx, client, base, slowModel, i)
			if err != nil {
				mu.Lock()
				res.ConcurrentErrs++
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	res.ConcurrentWallS = time.Since(t0).Seconds()
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "llmproxy bench: %s: %d of %d streams failed, first: %v\n", name, res.ConcurrentErrs, o.concurrent, firstErr)
	}
	if proc != nil {
		if hwm, err := proc.PeakRSS(); err == nil {
			res.RSSAfterMiB = float64(hwm) / (1 << 20)
			res.RSSPerStreamKiB = (res.RSSAfterMiB - res.RSSBeforeMiB) * 1024 / float64(o.concurrent)
		}
	}
	return res, nil
}

// stream reads one streamed answer to its [DONE]; it returns the time to
// the end, to the first event and the number of data events.
func stream(ctx context.Context, client *http.Client, base, model string, i int) (time.Duration, time.Duration, int, error) {
	body := fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":"question %d"}]}`, model, i)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/completions", strings.NewReader(body))
	if err != nil {
		return 0, 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	var first time.Duration
	chunks := 0
	for {
		line, err := br.ReadBytes('\n')
		if bytes.HasPrefix(line, []byte("data: ")) {
			if chunks == 0 {
				first = time.Since(t0)
			}
			chunks++
			if bytes.HasPrefix(line, []byte("data: [DONE]")) {
				return time.Since(t0), first, chunks, nil
			}
		}
		if err != nil {
			return 0, 0, 0, errors.New("stream ended without [DONE]")
		}
	}
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func commit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// write renders the report as Markdown (ratios to the direct calls of the
// same run) and JSON.
func write(o options, rep report) error {
	if err := os.MkdirAll(o.out, 0o750); err != nil {
		return err
	}
	stem := filepath.Join(o.out, rep.Date+"-"+o.name)
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(stem+".json", append(js, '\n'), 0o640); err != nil {
		return err
	}
	direct := rep.Targets[0]
	var b strings.Builder
	fmt.Fprintf(&b, "# LLM proxy benchmark, %s\n\n", rep.Date)
	fmt.Fprintf(&b, "`go run ./bench/llmproxy` at commit %s, %d CPUs, %s; the vLLM mock and the load generator in one process on the same machine. "+
		"%d sequential calls, %d sequential streams of %d data events, then %d streams at once (the mock paces chunks by %s). "+
		"*added* is the target's p50 minus the direct call's p50 in the same run; ratios are to the direct calls.\n\n",
		rep.Commit, rep.CPUs, rep.Go, o.calls, o.streams, direct.Chunks, o.concurrent, o.chunkDelay)
	b.WriteString("| target | call p50 | call p99 | added per call (p50) | stream p50 | added per chunk (p50) | first event p50 | concurrent streams: errors | wall | peak RSS growth per stream |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range rep.Targets {
		addedCall := t.CallP50Ms - direct.CallP50Ms
		addedChunk := (t.StreamP50Ms - direct.StreamP50Ms) / float64(max(1, t.Chunks))
		rss := "—"
		if t.RSSAfterMiB > 0 {
			rss = fmt.Sprintf("%.1f KiB (%.0f → %.0f MiB)", t.RSSPerStreamKiB, t.RSSBeforeMiB, t.RSSAfterMiB)
		}
		fmt.Fprintf(&b, "| %s | %.2f ms (%.2f×) | %.2f ms (%.2f×) | %.3f ms | %.2f ms (%.2f×) | %.4f ms | %.2f ms (%.2f×) | %d of %d | %.2f s (%.2f×) | %s |\n",
			t.Name, t.CallP50Ms, t.CallP50Ms/direct.CallP50Ms, t.CallP99Ms, t.CallP99Ms/direct.CallP99Ms, addedCall,
			t.StreamP50Ms, t.StreamP50Ms/direct.StreamP50Ms, addedChunk, t.FirstEventP50Ms, t.FirstEventP50Ms/direct.FirstEventP50Ms,
			t.ConcurrentErrs, t.Concurrent, t.ConcurrentWallS, t.ConcurrentWallS/direct.ConcurrentWallS, rss)
	}
	if err := os.WriteFile(stem+".md", []byte(b.String()), 0o640); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}
