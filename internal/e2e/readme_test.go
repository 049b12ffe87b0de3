package e2e

import (
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The ids used in the README's "Send a first trace" body.
const (
	readmeUnlabelledTrace = "5b8efff798038103d269b633813fc60c"
	readmeRolloutID       = "ro-quickstart"
	readmeAttemptID       = "at-quickstart"
)

// readmeTraceBody returns the OTLP/JSON body of the README's first curl to
// /v1/traces (the here-document after the curl line), so the documented
// example is exactly what this test sends.
func readmeTraceBody(t *testing.T) []byte {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	lines := strings.Split(string(readme), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "curl ") && strings.Contains(l, ":4318/v1/traces") && strings.HasSuffix(l, "<<'EOF'") {
			start = i + 1
			break
		}
	}
	if start < 0 {
		t.Fatal("README has no `curl ... :4318/v1/traces ... <<'EOF'` example")
	}
	for i := start; i < len(lines); i++ {
		if lines[i] == "EOF" {
			body := []byte(strings.Join(lines[start:i], "\n"))
			if !json.Valid(body) {
				t.Fatalf("README's OTLP/JSON example is not valid JSON:\n%s", body)
			}
			return body
		}
	}
	t.Fatal("README's OTLP/JSON example has no closing EOF line")
	return nil
}

// TestReadmeFirstTrace posts the README's OTLP/JSON example with net/http, as
// the README's curl does, and reads it back as the README describes.
func TestReadmeFirstTrace(t *testing.T) {
	requireBinary(t)
	c := startCollector(t, t.TempDir())

	status, resp := post(t, c.otlpHTTP("/v1/traces"), "application/json", readmeTraceBody(t))
	if status != http.StatusOK {
		t.Fatalf("POST /v1/traces: status %d: %s", status, resp)
	}

	unlabelled := waitForSpans(t, c, "ro-"+readmeUnlabelledTrace, "", 1)[0]
	if unlabelled.Name != "chat gpt-4o-mini" || unlabelled.SequenceID != 1 || unlabelled.AttemptID != "at-"+readmeUnlabelledTrace {
		t.Errorf("unlabelled span = %+v", unlabelled)
	}
	if unlabelled.TraceID != readmeUnlabelledTrace || unlabelled.SpanID != "eee19b7ec3c1b174" || unlabelled.ParentID != nil {
		t.Errorf("unlabelled span ids = %s/%s parent %v", unlabelled.TraceID, unlabelled.SpanID, unlabelled.ParentID)
	}
	if unlabelled.Attributes["gen_ai.request.model"] != "gpt-4o-mini" || unlabelled.Attributes["gen_ai.usage.input_tokens"] != float64(42) {
		t.Errorf("unlabelled span attributes = %v", unlabelled.Attributes)
	}
	// Nanoseconds become float seconds, as Agent Lightning stores them; a
	// microsecond of slack absorbs float64 rounding of the division.
	if !near(unlabelled.StartTime, 1767225600) || !near(unlabelled.EndTime, 1767225601.25) {
		t.Errorf("unlabelled span times = %s..%s, want 1767225600..1767225601.25", fmtTime(unlabelled.StartTime), fmtTime(unlabelled.EndTime))
	}

	labelled := waitForSpans(t, c, readmeRolloutID, readmeAttemptID, 1)[0]
	if labelled.Name != "agent.run" || labelled.SequenceID != 1 || labelled.Status.StatusCode != "OK" {
		t.Errorf("labelled span = %+v", labelled)
	}
	if labelled.Attributes["agentlightning.reward.0.value"] != 1.0 {
		t.Errorf("labelled span attributes = %v", labelled.Attributes)
	}

	// The README's `rollouts/search -d '{}'` lists both rollouts, running.
	var all page[wireRollout]
	postJSON(t, c.api("/v1/agl/rollouts/search"), map[string]any{}, &all)
	found := map[string]string{}
	for _, r := range all.Items {
		found[r.RolloutID] = r.Status
	}
	for _, id := range []string{"ro-" + readmeUnlabelledTrace, readmeRolloutID} {
		if found[id] != "running" {
			t.Errorf("rollouts search: %s status %q, want running (got %v)", id, found[id], found)
		}
	}
}

func near(got *float64, want float64) bool {
	return got != nil && math.Abs(*got-want) < 1e-6
}

func fmtTime(f *float64) string {
	if f == nil {
		return "null"
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}
