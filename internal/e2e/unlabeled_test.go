package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The root-less fixture: a script whose two LLM calls and reward span are
// three traces, with no rollout labels, only service.instance.id naming
// the run (interop/fixtures/scenarios/rootless_agent.py).
const rootlessFixture = "rootless"

func postRootless(t *testing.T, c *collector) []byte {
	t.Helper()
	traces, err := os.ReadFile(filepath.Join(repoRoot, fixturesDir, rootlessFixture+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := post(t, c.otlpHTTP("/v1/traces"), "application/json", traces); status != http.StatusOK {
		t.Fatalf("POST %s.json: status %d: %s", rootlessFixture, status, body)
	}
	return traces
}

// rolloutsOf lists the rollouts whose spans came from the fixture.
func rolloutsOf(t *testing.T, c *collector) map[string]string {
	t.Helper()
	var page struct {
		Items []struct {
			RolloutID string `json:"rollout_id"`
			Status    string `json:"status"`
		} `json:"items"`
	}
	postJSON(t, c.api("/v1/agl/rollouts/search"), map[string]any{}, &page)
	out := map[string]string{}
	for _, r := range page.Items {
		out[r.RolloutID] = r.Status
	}
	return out
}

// Without grouping (the default, D18) each trace of a root-less script is
// a rollout of its own, and each ends (D17: its only span is its root, so it
// settles).
func TestRootlessScriptDefaultIsOneRolloutPerTrace(t *testing.T) {
	requireBinary(t)
	c := startCollector(t, t.TempDir())
	postRootless(t, c)
	eventually(t, dataTimeout, func() error {
		got := rolloutsOf(t, c)
		if len(got) != 3 {
			return notYet("%d rollouts, want one per trace (3): %v", len(got), got)
		}
		for id, status := range got {
			if !strings.HasPrefix(id, "ro-") || status != "succeeded" {
				return notYet("rollout %s is %s, want an automatic rollout that succeeded", id, status)
			}
		}
		return nil
	})
}

// With identity.auto_rollout_key naming the run's resource attribute (D18),
// the script is one rollout: one attempt with both calls as triplets, the
// reward span's reward on the second (first_occurrence across traces). The
// attempt ends by itself once its spans settle (D17), so an export filtered
// on status=succeeded has the run.
func TestRootlessScriptGroupedByRunAndEnded(t *testing.T) {
	requireBinary(t)
	c := launch(t, t.TempDir(), launchSpec{configs: []string{testdataPath("group-by-run.yaml")}})
	postRootless(t, c.collector)
	const rolloutID, attemptID = "ro-run-fx-rootless", "at-run-fx-rootless"
	waitForSpans(t, c.collector, rolloutID, attemptID, 3)
	eventually(t, dataTimeout, func() error {
		got := rolloutsOf(t, c.collector)
		if len(got) != 1 || got[rolloutID] != "succeeded" {
			return notYet("rollouts %v, want only %s, succeeded", got, rolloutID)
		}
		return nil
	})
	triplets := waitForTriplets(t, c.api("/v1/lightning/rollouts/"+rolloutID+"/triplets?attempt_id="+attemptID))
	if len(triplets) != 2 {
		t.Fatalf("%d triplets, want 2: %s", len(triplets), indentJSON(triplets))
	}
	var rewards []any
	var ids []any
	for _, item := range triplets {
		tr := item.(map[string]any)
		rewards = append(rewards, tr["reward"])
		ids = append(ids, tr["metadata"].(map[string]any)["response_id"])
	}
	if rewards[0] != nil || rewards[1] != 1.0 {
		t.Errorf("rewards %v, want [nil 1]", rewards)
	}
	if ids[0] != "chatcmpl-mock-1" || ids[1] != "chatcmpl-mock-2" {
		t.Errorf("response ids %v, want the two calls in order", ids)
	}

	resp, err := httpClient.Get(c.api("/v1/lightning/export?format=sft&granularity=call&status=succeeded&summary=true"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		lines = append(lines, line)
	}
	if len(lines) != 3 || lines[2]["summary"] == nil {
		t.Fatalf("export of succeeded attempts: %d lines, want two calls and the summary: %v", len(lines), lines)
	}
	if n := len(lines[1]["messages"].([]any)); n != 5 {
		t.Errorf("second SFT line has %d messages, want the whole history and the answer (5)", n)
	}
}
