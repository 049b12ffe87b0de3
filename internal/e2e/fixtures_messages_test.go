package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/export"
)

// TestFixtureMessages sends every recorded fixture to the collector and
// checks its chat records: one per LLM call (duplicates removed), each, with
// its completion, a line an OpenAI fine-tuning job accepts (roles, system
// first, tool_calls with JSON-string arguments, tool_call_id pairing), and
// the second call carrying the first call's tool round trip in its history.
func TestFixtureMessages(t *testing.T) {
	requireBinary(t)
	c := startCollector(t, t.TempDir())
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rolloutID, attemptID, spanCount := postFixture(t, c, name)
			waitForSpans(t, c, rolloutID, attemptID, spanCount)
			if name == "openai-v2-legacy" {
				// Its content travels only as log events; the connector reads
				// spans and skips calls without content (the triplets have the
				// messages, see TestFixtureTriplets).
				return
			}
			records := waitForMessages(t, c, rolloutID)
			if len(records) != 2 {
				t.Fatalf("%d chat records, want one per call (2)", len(records))
			}
			for i, rec := range records {
				line := sftLine(t, rec)
				if err := export.CheckSFTLine(line); err != nil {
					t.Errorf("record %d is not a valid fine-tuning line: %v\n%s", i, err, line)
				}
			}
			if !hasToolRoundTrip(records[1]) {
				t.Errorf("the second call's history lacks the tool call and its result: %v", records[1]["messages"])
			}
		})
	}
}

func waitForMessages(t *testing.T, c *collector, rolloutID string) []map[string]any {
	t.Helper()
	var items []map[string]any
	eventually(t, dataTimeout, func() error {
		resp, err := http.Get(c.api("/v1/lightning/rollouts/" + rolloutID + "/messages?attempt_id=latest"))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var page struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			return err
		}
		if len(page.Items) < 2 {
			return notYet("%d chat records", len(page.Items))
		}
		items = page.Items
		return nil
	})
	return items
}

// sftLine turns a chat record into a fine-tuning line: its prompt messages
// followed by its completion message.
func sftLine(t *testing.T, rec map[string]any) []byte {
	t.Helper()
	msgs, _ := rec["messages"].([]any)
	completion, ok := rec["completion"].(map[string]any)
	if !ok {
		t.Fatalf("record without completion: %v", rec)
	}
	msg := map[string]any{}
	for k, v := range completion {
		if k != "finish_reason" {
			msg[k] = v
		}
	}
	line := map[string]any{"messages": append(append([]any{}, msgs...), msg)}
	if tools, ok := rec["tools"].([]any); ok && len(tools) > 0 {
		line["tools"] = tools
	}
	b, err := json.Marshal(line)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hasToolRoundTrip(rec map[string]any) bool {
	msgs, _ := rec["messages"].([]any)
	calls, results := 0, 0
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		if tc, ok := mm["tool_calls"].([]any); ok && len(tc) > 0 {
			calls++
		}
		if mm["role"] == "tool" && fmt.Sprint(mm["tool_call_id"]) != "" {
			results++
		}
	}
	return calls > 0 && results > 0
}
