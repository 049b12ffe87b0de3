package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 20 * time.Second
	// dataTimeout bounds how long a test waits for spans to reach the store:
	// the exporter queue batches for ~200 ms, so this is generous.
	dataTimeout = 15 * time.Second
)

// collector is one running otelcol-lightning process.
type collector struct {
	GRPCAddr   string // OTLP/gRPC
	HTTPAddr   string // OTLP/HTTP
	APIAddr    string // store REST API (lightningstore extension)
	HealthAddr string // health_check extension
	ProxyAddr  string // llmproxy receiver
	DataDir    string

	cmd    *exec.Cmd
	output *syncBuffer
	exited chan struct{}
	err    error // set before exited is closed
}

// startCollector runs the binary with config/collector.yaml, every listener
// on a free port, and the SQLite database in dataDir. It returns once the
// health check and the store API answer; the process is stopped at cleanup.
func startCollector(t *testing.T, dataDir string) *collector {
	t.Helper()
	c := startCollectorConfig(t, "collector.yaml", "LIGHTNING_DATA_DIR="+dataDir)
	c.DataDir = dataDir
	return c
}

// startCollectorConfig runs the binary with config/<config> (which reads the
// same LIGHTNING_* listen variables as collector.yaml), every listener on a
// free loopback port and env added to the environment.
func startCollectorConfig(t *testing.T, config string, env ...string) *collector {
	t.Helper()
	c := spawn(t, freePorts(t, 6), []string{"--config", filepath.Join(configDir, config)}, env...)
	c.waitReady(t)
	return c
}

// spawn starts the binary with args, its listeners on ports (OTLP gRPC, OTLP
// HTTP, store API, health check, metrics, LLM proxy) and env added to the environment.
// The process is stopped at cleanup, its output logged if the test failed.
func spawn(t *testing.T, ports []int, args []string, env ...string) *collector {
	t.Helper()
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	c := &collector{
		GRPCAddr: addr(0), HTTPAddr: addr(1), APIAddr: addr(2), HealthAddr: addr(3), ProxyAddr: addr(5),
		output: &syncBuffer{}, exited: make(chan struct{}),
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(),
		"LIGHTNING_OTLP_GRPC_ENDPOINT="+c.GRPCAddr,
		"LIGHTNING_OTLP_HTTP_ENDPOINT="+c.HTTPAddr,
		"LIGHTNING_API_ENDPOINT="+c.APIAddr,
		"LIGHTNING_HEALTH_ENDPOINT="+c.HealthAddr,
		"LIGHTNING_METRICS_PORT="+strconv.Itoa(ports[4]),
		"LIGHTNING_LLMPROXY_ENDPOINT="+addr(5),
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = c.output, c.output
	if err := cmd.Start(); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	c.cmd = cmd
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.stop(t)
		if t.Failed() {
			t.Logf("collector output:\n%s", c.output.String())
		}
	})
	return c
}

// waitReady polls the health check and the store API's own health route.
func (c *collector) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-c.exited:
			t.Fatalf("collector exited during startup: %v\n%s", c.err, c.output.String())
		default:
		}
		if httpOK("http://"+c.HealthAddr+"/") && httpOK(c.api("/v1/agl/health")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not healthy after %s\n%s", startTimeout, c.output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit; it kills the process if the
// graceful shutdown takes too long. Stopping twice is harmless.
func (c *collector) stop(t *testing.T) {
	t.Helper()
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		if c.err != nil {
			t.Errorf("collector exited with %v\n%s", c.err, c.output.String())
		}
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.exited
		t.Errorf("collector did not stop within %s", stopTimeout)
	}
}

// kill ends the process with SIGKILL, as a crash or the OOM killer would:
// no shutdown, no flushing.
func (c *collector) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill collector: %v", err)
	}
	<-c.exited
}

// running reports whether the process is still alive.
func (c *collector) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

func (c *collector) api(path string) string { return "http://" + c.APIAddr + path }

func (c *collector) otlpHTTP(path string) string { return "http://" + c.HTTPAddr + path }

// freePorts reserves n distinct ports by listening on them at the same time,
// then releases them for the collector.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve port: %v", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func httpOK(url string) bool {
	resp, err := httpClient.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// post sends body with the given content type and returns the status code and
// the response body.
func post(t *testing.T, url, contentType string, body []byte) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response of POST %s: %v", url, err)
	}
	return resp.StatusCode, respBody
}

// postJSON posts req as JSON, requires a 200 and decodes the answer into out.
func postJSON(t *testing.T, url string, req, out any) {
	t.Helper()
	postJSONStatus(t, url, http.StatusOK, req, out)
}

// postJSONStatus posts req as JSON, requires the given status and decodes
// the answer into out.
func postJSONStatus(t *testing.T, url string, want int, req, out any) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("encode request: %v", err)
	}
	status, respBody := post(t, url, "application/json", body)
	if status != want {
		t.Fatalf("POST %s: status %d: %s", url, status, respBody)
	}
	if err := json.Unmarshal(respBody, out); err != nil {
		t.Fatalf("decode response of POST %s: %v\n%s", url, err, respBody)
	}
}

// eventually polls check until it returns nil or the deadline passes, and
// then fails the test with check's last error.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	if err := poll(timeout, check); err != nil {
		t.Fatalf("condition not met after %s: %v", timeout, err)
	}
}

// syncBuffer collects the process output from two pipes at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var errNotYet = errors.New("not yet")

func notYet(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errNotYet, fmt.Sprintf(format, args...))
}
