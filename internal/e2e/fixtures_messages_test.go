package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
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
	update := os.Getenv("UPDATE_GOLDEN") != ""
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rolloutID, attemptID, spanCount := postFixture(t, c, name)
			// Spans first, then the log events, as the fixture test sends
			// them: calls whose content travels as log events (openai-v2
			// legacy, 2.2b0 and event_only) wait for it in the connector.
			rewardRecords := postFixtureLogs(t, c, filepath.Join(repoRoot, fixturesDir, name+".logs.json"))
			waitForSpans(t, c, rolloutID, attemptID, spanCount+rewardRecords)
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
			checkMessagesGolden(t, c, name, rolloutID, update)
		})
	}
}

// messagesGolden is <name>.messages.json: the chat records of the fixture's
// rollout as the messages API returns them, and the lines of its SFT export
// (one per call) with the export's summary.
type messagesGolden struct {
	Records []any `json:"records"`
	SFT     []any `json:"sft"`
}

// checkMessagesGolden compares the chat records and the SFT export of a
// fixture field by field with its golden file (UPDATE_GOLDEN=1 rewrites it).
func checkMessagesGolden(t *testing.T, c *collector, name, rolloutID string, update bool) {
	t.Helper()
	path := filepath.Join(repoRoot, fixturesDir, name+".messages.json")
	read := func() (messagesGolden, error) {
		var g messagesGolden
		resp, err := httpClient.Get(c.api("/v1/lightning/rollouts/" + rolloutID + "/messages?attempt_id=latest"))
		if err != nil {
			return g, err
		}
		var page struct {
			Items []any `json:"items"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return g, err
		}
		g.Records = page.Items
		resp, err = httpClient.Get(c.api("/v1/lightning/export?format=sft&granularity=call&summary=true&rollout_id=" + rolloutID))
		if err != nil {
			return g, err
		}
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for dec.More() {
			var line any
			if err := dec.Decode(&line); err != nil {
				return g, err
			}
			g.SFT = append(g.SFT, line)
		}
		return g, nil
	}
	if update {
		g, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(indentJSON(g), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (record it with UPDATE_GOLDEN=1 and review it)", err)
	}
	var want messagesGolden
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	var got messagesGolden
	err = poll(dataTimeout, func() error {
		var err error
		if got, err = read(); err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			return errNotYet
		}
		return nil
	})
	if err != nil {
		t.Fatalf("chat records / SFT lines of %s differ from %s (UPDATE_GOLDEN=1 rewrites it after review)\ngot:\n%s\nwant:\n%s",
			name, filepath.Base(path), indentJSON(got), indentJSON(want))
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
