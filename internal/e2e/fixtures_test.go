package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The recorded fixtures live in testdata/fixtures at the repository root:
// <name>.json is what a real instrumentation package exported (OTLP/JSON,
// recorded by interop/fixtures/record.sh), <name>.logs.json the log records it
// exported beside the spans, and <name>.triplets.json the golden triplets.
const fixturesDir = "testdata/fixtures"

// volatileTripletKeys are the triplet fields that may differ between two
// runs over the same fixture: the revision counts rebuilds, which depends on
// whether the settle timer or the attempt status completed the attempt first.
var volatileTripletKeys = []string{"revision"}

// TestFixtureTriplets sends every recorded fixture to the collector on its
// default configuration, completes the attempt the way a runner does, and
// compares the triplets API with the golden file. UPDATE_GOLDEN=1 rewrites
// the golden files from what the collector returns (review the diff: each
// golden says which calls, token ids and rewards the collector recovers from
// that instrumentation's spans).
func TestFixtureTriplets(t *testing.T) {
	requireBinary(t)
	names := fixtureNames(t)
	c := startCollector(t, t.TempDir())
	update := os.Getenv("UPDATE_GOLDEN") != ""
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkFixtureTriplets(t, c, name, update)
		})
	}
}

// ownTestFixtures are the fixtures without rollout labels, which a test of
// their own sends with the configuration they need.
var ownTestFixtures = map[string]bool{"rootless": true}

// fixtureNames lists the labelled fixtures (<name>.json) in sorted order.
func fixtureNames(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, fixturesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		base := filepath.Base(p)
		if strings.HasSuffix(base, ".logs.json") || strings.HasSuffix(base, ".triplets.json") ||
			strings.HasSuffix(base, ".messages.json") {
			continue
		}
		if ownTestFixtures[strings.TrimSuffix(base, ".json")] {
			continue
		}
		names = append(names, strings.TrimSuffix(base, ".json"))
	}
	if len(names) == 0 {
		t.Fatalf("no fixtures in %s", fixturesDir)
	}
	sort.Strings(names)
	return names
}

// postFixture sends the recorded traces of fixture name to the collector's
// OTLP/HTTP receiver and returns their rollout, attempt and span count.
func postFixture(t *testing.T, c *collector, name string) (rolloutID, attemptID string, spanCount int) {
	t.Helper()
	traces, err := os.ReadFile(filepath.Join(repoRoot, fixturesDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	rolloutID, attemptID, spanCount = fixtureLabels(t, traces)
	if status, body := post(t, c.otlpHTTP("/v1/traces"), "application/json", traces); status != http.StatusOK {
		t.Fatalf("POST %s.json to /v1/traces: status %d: %s", name, status, body)
	}
	return rolloutID, attemptID, spanCount
}

func checkFixtureTriplets(t *testing.T, c *collector, name string, update bool) {
	dir := filepath.Join(repoRoot, fixturesDir)
	rolloutID, attemptID, spanCount := postFixture(t, c, name)
	rewardRecords := postFixtureLogs(t, c, filepath.Join(dir, name+".logs.json"))
	// Each reward log record is stored as a reward span of the rollout.
	waitForSpans(t, c, rolloutID, attemptID, spanCount+rewardRecords)
	var attempt map[string]any
	postJSON(t, c.api("/v1/agl/rollouts/"+rolloutID+"/attempts/latest"), map[string]any{"status": "succeeded"}, &attempt)

	goldenPath := filepath.Join(dir, name+".triplets.json")
	tripletsURL := c.api("/v1/lightning/rollouts/" + rolloutID + "/triplets?attempt_id=latest")
	if update {
		got := waitForTriplets(t, tripletsURL)
		writeGolden(t, goldenPath, got)
		return
	}
	want := readGolden(t, goldenPath)
	var got []any
	err := poll(dataTimeout, func() error {
		items, err := fetchTriplets(tripletsURL)
		if err != nil {
			return err
		}
		got = items
		if !reflect.DeepEqual(got, want) {
			return errNotYet
		}
		return nil
	})
	if err != nil {
		t.Fatalf("triplets of %s differ from %s (UPDATE_GOLDEN=1 rewrites it after review)\ngot:\n%s\nwant:\n%s",
			name, filepath.Base(goldenPath), indentJSON(got), indentJSON(want))
	}
}

// fixtureLabels reads the rollout and attempt ids (resource attributes, as
// OTEL_RESOURCE_ATTRIBUTES set them) and counts the spans.
func fixtureLabels(t *testing.T, traces []byte) (rolloutID, attemptID string, spans int) {
	t.Helper()
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(traces)
	if err != nil {
		t.Fatalf("decode fixture: %v", err)
	}
	for _, rs := range td.ResourceSpans().All() {
		attrs := rs.Resource().Attributes()
		if v, ok := attrs.Get("agentlightning.rollout_id"); ok {
			rolloutID = v.Str()
		}
		if v, ok := attrs.Get("agentlightning.attempt_id"); ok {
			attemptID = v.Str()
		}
	}
	if rolloutID == "" || attemptID == "" {
		t.Fatalf("fixture has no agentlightning.rollout_id / attempt_id resource attributes")
	}
	return rolloutID, attemptID, td.SpanCount()
}

// postFixtureLogs sends the log records an SDK exported beside its spans
// (GenAI events on the logs signal) to the default configuration's logs
// pipeline, and returns how many of them are gen_ai.evaluation.result
// records (rewards, which the store keeps as reward spans).
func postFixtureLogs(t *testing.T, c *collector, path string) int {
	t.Helper()
	logs, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	status, body := post(t, c.otlpHTTP("/v1/logs"), "application/json", logs)
	if status != http.StatusOK {
		t.Fatalf("POST %s to /v1/logs: status %d: %s", filepath.Base(path), status, bytes.TrimSpace(body))
	}
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(logs)
	if err != nil {
		t.Fatalf("decode %s: %v", filepath.Base(path), err)
	}
	n := 0
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if lr.EventName() == "gen_ai.evaluation.result" {
					n++
				}
			}
		}
	}
	return n
}

// waitForTriplets polls until the attempt has triplets. An attempt whose
// spans yield none is only known after the deadline, so UPDATE_GOLDEN then
// takes dataTimeout for it.
func waitForTriplets(t *testing.T, url string) []any {
	t.Helper()
	var got []any
	err := poll(dataTimeout, func() error {
		items, err := fetchTriplets(url)
		if err != nil {
			return err
		}
		got = items
		if len(items) == 0 {
			return errNotYet
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNotYet) {
		t.Fatal(err)
	}
	return got
}

// fetchTriplets reads the triplets route and drops the volatile fields.
func fetchTriplets(url string) ([]any, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	var body struct {
		Items []any `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode triplets: %w", err)
	}
	return stripVolatile(body.Items), nil
}

func stripVolatile(items []any) []any {
	if items == nil {
		items = []any{}
	}
	for _, item := range items {
		if m, ok := item.(map[string]any); ok {
			for _, k := range volatileTripletKeys {
				delete(m, k)
			}
		}
	}
	return items
}

// poll calls check until it returns nil or the timeout passes; it returns
// check's last error.
func poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// goldenTriplets is the golden file's shape: the triplets route's answer
// without its volatile fields.
type goldenTriplets struct {
	Items []any `json:"items"`
}

func readGolden(t *testing.T, path string) []any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (record it with UPDATE_GOLDEN=1 and review it)", err)
	}
	var g goldenTriplets
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return stripVolatile(g.Items)
}

func writeGolden(t *testing.T, path string, items []any) {
	t.Helper()
	out := append(indentJSON(goldenTriplets{Items: items}), '\n')
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d triplets)", path, len(items))
}

// numberList matches an indented JSON array of numbers. Encoded strings
// never hold a raw newline, so only real arrays match.
var numberList = regexp.MustCompile(`\[\n\s*(-?[0-9][0-9.eE+-]*(?:,\n\s*-?[0-9][0-9.eE+-]*)*)\n\s*\]`)

// indentJSON renders v indented, with number lists (token ids) on one line
// so golden files stay readable.
func indentJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(fmt.Sprintf("<%v>", err))
	}
	out := numberList.ReplaceAllFunc(bytes.TrimRight(buf.Bytes(), "\n"), func(m []byte) []byte {
		items := numberList.FindSubmatch(m)[1]
		return []byte("[" + strings.Join(strings.Fields(strings.ReplaceAll(string(items), ",", " ")), ", ") + "]")
	})
	return out
}
