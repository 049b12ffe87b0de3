package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// longTests selects the long versions of the reliability tests (100k spans,
// a 60 s outage). `go test ./internal/e2e -run Reliability -long`, or set
// LIGHTNING_LONG_TESTS=1.
var longTests = flag.Bool("long", false, "run the long versions of the reliability tests")

func isLong() bool {
	return *longTests || os.Getenv("LIGHTNING_LONG_TESTS") == "1"
}

// launchSpec varies how a collector is started: extra configuration files
// merged over the default one (or instead of it), extra environment, and
// how readiness is checked when the endpoints need TLS or a token.
type launchSpec struct {
	configs   []string // files after config/collector.yaml; see replace
	replace   bool     // configs replace config/collector.yaml instead of following it
	env       []string
	scheme    string       // "http" (default) or "https" for the store API
	client    *http.Client // for readiness checks; default httpClient
	authToken string       // bearer token the readiness check sends to the API
}

// managed is a collector whose process can be killed and started again on
// the same ports and data.
type managed struct {
	*collector
	MetricsAddr string
	spec        launchSpec
	ports       []int
}

// launch starts the binary as spec says, with every listener on a free port
// and the data in dataDir. It returns once the health check and the store
// API answer; the process is stopped at cleanup.
func launch(t *testing.T, dataDir string, spec launchSpec) *managed {
	t.Helper()
	m := &managed{spec: spec, ports: freePorts(t, 6)}
	m.start(t, dataDir)
	return m
}

func testdataPath(name string) string {
	return filepath.Join(repoRoot, "internal", "e2e", "testdata", name)
}

func (m *managed) start(t *testing.T, dataDir string) {
	t.Helper()
	var args []string
	if !m.spec.replace {
		args = append(args, "--config", filepath.Join(configDir, "collector.yaml"))
	}
	for _, cfg := range m.spec.configs {
		args = append(args, "--config", cfg)
	}
	env := append([]string{"LIGHTNING_DATA_DIR=" + dataDir}, m.spec.env...)
	m.collector = spawn(t, m.ports, args, env...)
	m.DataDir = dataDir
	m.MetricsAddr = "localhost:" + strconv.Itoa(m.ports[4])
	m.waitReady(t)
}

// waitReady polls the health check and the store API with the spec's
// client, scheme and token.
func (m *managed) waitReady(t *testing.T) {
	t.Helper()
	client := m.spec.client
	if client == nil {
		client = httpClient
	}
	scheme := m.spec.scheme
	if scheme == "" {
		scheme = "http"
	}
	ready := func(url, token string) bool {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-m.exited:
			t.Fatalf("collector exited during startup: %v\n%s", m.err, m.output.String())
		default:
		}
		if ready("http://"+m.HealthAddr+"/", "") && ready(scheme+"://"+m.APIAddr+"/v1/agl/health", m.spec.authToken) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not ready after %s\n%s", startTimeout, m.output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart starts a new process on the same ports and data directory.
func (m *managed) restart(t *testing.T) {
	t.Helper()
	m.start(t, m.DataDir)
}

// metric sums every series of one of the collector's own counters (its
// Prometheus name without any _total suffix).
func (m *managed) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := httpClient.Get("http://" + m.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		// The collector's Prometheus exporter may or may not add _total.
		rest = strings.TrimPrefix(rest, "_total")
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// spanIDsOf lists the span ids the store holds for an attempt, reading the
// spans in pages so that large attempts do not make one huge response.
func spanIDsOf(t *testing.T, base, rolloutID, attemptID string) map[string]int {
	t.Helper()
	const pageSize = 5000
	ids := map[string]int{}
	for offset := 0; ; offset += pageSize {
		var got page[struct {
			SpanID string `json:"span_id"`
		}]
		body, _ := json.Marshal(map[string]any{"rollout_id": rolloutID, "attempt_id": attemptID, "limit": pageSize, "offset": offset})
		status, raw := post(t, base+"/v1/agl/spans/search", "application/json", body)
		if status != http.StatusOK {
			t.Fatalf("spans/search: status %d: %s", status, raw)
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("decode spans: %v", err)
		}
		for _, s := range got.Items {
			ids[s.SpanID]++
		}
		if offset+pageSize >= got.Total {
			return ids
		}
	}
}

// spanTotal is the total query_spans reports for an attempt.
func spanTotal(ctx context.Context, base, rolloutID, attemptID string) (int, error) {
	body := fmt.Sprintf(`{"rollout_id":%q,"attempt_id":%q,"limit":1}`, rolloutID, attemptID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/agl/spans/search", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var got struct {
		Total int `json:"total"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("spans/search: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		return 0, err
	}
	return got.Total, nil
}
