package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
)

// span is one span of a synthetic OTLP/JSON request (times in seconds from
// the request's base time).
type synthSpan struct {
	id, parent, name string
	start, end       float64
	attrs            map[string]any
}

// postSpans sends spans labelled with a rollout and attempt to the OTLP/HTTP
// receiver and waits until they are stored.
func postSpans(t *testing.T, c *collector, rolloutID, attemptID, traceID string, spans []synthSpan) {
	t.Helper()
	base := time.Now().Add(-time.Minute).UnixNano()
	var out []map[string]any
	for _, s := range spans {
		var attrs []map[string]any
		keys := make([]string, 0, len(s.attrs))
		for k := range s.attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var v map[string]any
			switch x := s.attrs[k].(type) {
			case string:
				v = map[string]any{"stringValue": x}
			case float64:
				v = map[string]any{"doubleValue": x}
			case int:
				v = map[string]any{"intValue": strconv.Itoa(x)}
			default:
				t.Fatalf("attribute %s: unsupported %T", k, x)
			}
			attrs = append(attrs, map[string]any{"key": k, "value": v})
		}
		sp := map[string]any{
			"traceId": traceID, "spanId": s.id, "name": s.name, "kind": 1,
			"startTimeUnixNano": strconv.FormatInt(base+int64(s.start*1e9), 10),
			"endTimeUnixNano":   strconv.FormatInt(base+int64(s.end*1e9), 10),
			"attributes":        attrs, "status": map[string]any{"code": 1},
		}
		if s.parent != "" {
			sp["parentSpanId"] = s.parent
		}
		out = append(out, sp)
	}
	body, _ := json.Marshal(map[string]any{"resourceSpans": []any{map[string]any{
		"resource": map[string]any{"attributes": []any{
			map[string]any{"key": "service.name", "value": map[string]any{"stringValue": "dashboard-e2e"}},
			map[string]any{"key": "agentlightning.rollout_id", "value": map[string]any{"stringValue": rolloutID}},
			map[string]any{"key": "agentlightning.attempt_id", "value": map[string]any{"stringValue": attemptID}},
		}},
		"scopeSpans": []any{map[string]any{"scope": map[string]any{"name": "e2e"}, "spans": out}},
	}}})
	if status, resp := post(t, c.otlpHTTP("/v1/traces"), "application/json", body); status != http.StatusOK {
		t.Fatalf("POST spans: %d %s", status, resp)
	}
	waitForSpans(t, c, rolloutID, attemptID, len(spans))
}

func completeAttempt(t *testing.T, c *collector, rolloutID string) {
	t.Helper()
	var attempt map[string]any
	postJSON(t, c.api("/v1/agl/rollouts/"+rolloutID+"/attempts/latest"), map[string]any{"status": "succeeded"}, &attempt)
}

func chatCall(id, parent string, start float64, user string) synthSpan {
	return synthSpan{id: id, parent: parent, name: "chat gpt-4o-mini", start: start, end: start + 1, attrs: map[string]any{
		"gen_ai.operation.name":  "chat",
		"gen_ai.request.model":   "gpt-4o-mini",
		"gen_ai.input.messages":  `[{"role":"user","parts":[{"type":"text","content":` + strconv.Quote(user) + `}]}]`,
		"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"ok"}],"finish_reason":"stop"}]`,
	}}
}

func rewardSpan(id, parent string, start, value float64) synthSpan {
	return synthSpan{id: id, parent: parent, name: "agentlightning.annotation", start: start, end: start + 0.1, attrs: map[string]any{
		"agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": value,
	}}
}

// The hostile content of the escaping check: were any of it run as markup,
// window.__xss would be set.
const (
	xssName    = `<script>window.__xss=1</script>`
	xssAttr    = `<img src=x onerror="window.__xss=2">`
	xssMessage = `<b>bold</b><img src=x onerror="window.__xss=3">`
)

// seedDiagnosisRollouts stores one rollout per cause the diagnosis must
// name, and returns the rollout id expected for each cause.
func seedDiagnosisRollouts(t *testing.T, c *collector) map[string]string {
	t.Helper()
	// Spans but no LLM call: tool and HTTP spans only.
	postSpans(t, c, "ro-diag-nollm", "at-diag-nollm", "11111111111111111111111111111111", []synthSpan{
		{id: "1111111111111101", name: "agent.plan", start: 0, end: 3},
		{id: "1111111111111102", parent: "1111111111111101", name: "tool.search", start: 0.5, end: 1, attrs: map[string]any{"http.method": "GET"}},
		{id: "1111111111111103", parent: "1111111111111101", name: "tool.search", start: 1.5, end: 2, attrs: map[string]any{"http.method": "GET"}},
	})
	completeAttempt(t, c, "ro-diag-nollm")
	// A reward emitted before the only LLM call: first_occurrence matches
	// it to no call.
	postSpans(t, c, "ro-diag-unmatched", "at-diag-unmatched", "22222222222222222222222222222222", []synthSpan{
		{id: "2222222222222201", name: "agent.run", start: 0, end: 6},
		rewardSpan("2222222222222202", "2222222222222201", 0.5, 1),
		chatCall("2222222222222203", "2222222222222201", 2, "What is 2+2?"),
	})
	completeAttempt(t, c, "ro-diag-unmatched")
	// No reward at all, and hostile content in a name, an attribute and a
	// message.
	postSpans(t, c, "ro-diag-xss", "at-diag-xss", "33333333333333333333333333333333", []synthSpan{
		{id: "3333333333333301", name: xssName, start: 0, end: 4, attrs: map[string]any{"note": xssAttr}},
		chatCall("3333333333333302", "3333333333333301", 1, xssMessage),
	})
	completeAttempt(t, c, "ro-diag-xss")
	// Never completed: spans arrive, nobody ends the attempt, and the agent's
	// root span never arrives, so identity.auto_complete waits for its idle
	// timeout (10 min by default) rather than settling the attempt.
	postSpans(t, c, "ro-diag-running", "at-diag-running", "44444444444444444444444444444444", []synthSpan{
		chatCall("4444444444444401", "44444444444444ff", 0, "Still thinking?"),
	})
	// The diagnosis of a reward that matched no call needs the (unrewarded)
	// triplets built.
	for _, id := range []string{"ro-diag-unmatched", "ro-diag-xss"} {
		eventually(t, dataTimeout, func() error {
			if len(apiTriplets(t, c, id)) == 0 {
				return notYet("no triplets yet for %s", id)
			}
			return nil
		})
	}
	return map[string]string{
		"no_llm_call":             "ro-diag-nollm",
		"reward_matched_no_call":  "ro-diag-unmatched",
		"calls_without_token_ids": "ro-diag-unmatched",
		"no_reward":               "ro-diag-xss",
		"attempt_not_completed":   "ro-diag-running",
	}
}

type apiRollout struct {
	RolloutID string  `json:"rollout_id"`
	Status    string  `json:"status"`
	StartTime float64 `json:"start_time"`
}

func apiRollouts(t *testing.T, c *collector, query string) []apiRollout {
	t.Helper()
	var got page[apiRollout]
	getJSON(t, c.api("/v1/agl/rollouts?limit=-1&"+query), &got)
	return got.Items
}

type apiTriplet struct {
	Index  int      `json:"index"`
	SpanID string   `json:"span_id"`
	Reward *float64 `json:"reward"`
}

func apiTriplets(t *testing.T, c *collector, rolloutID string) []apiTriplet {
	t.Helper()
	var got struct {
		Items []apiTriplet `json:"items"`
	}
	getJSON(t, c.api("/v1/lightning/rollouts/"+rolloutID+"/triplets?attempt_id=latest"), &got)
	return got.Items
}

// shown formats a value the way the page does (fmtNum with 3 digits).
func shown(v *float64) string {
	if v == nil {
		return "—"
	}
	if *v == float64(int64(*v)) {
		return strconv.FormatInt(int64(*v), 10)
	}
	return strconv.FormatFloat(*v, 'f', 3, 64)
}

// TestDashboardBrowser fills the collector with every recorded fixture and
// one rollout per diagnosis cause, then checks in Chromium that each page
// shows what the API holds.
func TestDashboardBrowser(t *testing.T) {
	requireBinary(t)
	m := launch(t, t.TempDir(), launchSpec{})
	c := m.collector

	fixtures := map[string]string{} // fixture -> rollout id
	attempts := map[string]string{} // rollout id -> attempt id
	for _, name := range fixtureNames(t) {
		rolloutID, attemptID, n := postFixture(t, c, name)
		waitForSpans(t, c, rolloutID, attemptID, n)
		completeAttempt(t, c, rolloutID)
		fixtures[name], attempts[rolloutID] = rolloutID, attemptID
	}
	causes := seedDiagnosisRollouts(t, c)
	// Triplets are built once the attempts complete: wait for the fixtures'.
	for name, id := range fixtures {
		eventually(t, dataTimeout, func() error {
			if len(apiTriplets(t, c, id)) == 0 {
				return notYet("no triplets yet for %s", name)
			}
			return nil
		})
	}

	b := newBrowser(t, false)
	b.open("http://" + c.APIAddr + "/#/overview")
	b.eval(`document.getElementById('live').checked = false`)

	t.Run("overview", func(t *testing.T) {
		b.t = t
		var stats map[string]any
		// The triplet processor may still be writing: compare once both
		// sides agree on a settled store.
		eventually(t, dataTimeout, func() error {
			getJSON(t, c.api("/v1/agl/statistics"), &stats)
			b.show(fmt.Sprintf("#/overview?t=%d", time.Now().UnixNano()))
			for _, k := range []string{"total_rollouts", "total_spans", "total_triplets", "total_messages", "total_attempts"} {
				want := strconv.Itoa(int(stats[k].(float64)))
				if got := digits(b.text(`[data-k="` + k + `"]`)); got != want {
					return notYet("%s: page %s, API %s", k, got, want)
				}
			}
			return nil
		})
		byStatus := map[string]int{}
		for _, r := range apiRollouts(t, c, "") {
			byStatus[r.Status]++
		}
		for status, n := range byStatus {
			if got := digits(b.text(`[data-k="status-` + status + `"]`)); got != strconv.Itoa(n) {
				t.Errorf("rollouts %s: page %s, API %d", status, got, n)
			}
		}
		// The collector's own metrics: spans the receiver accepted.
		if got := digits(b.text(`[data-metric="otelcol_receiver_accepted_spans"]`)); got == "" || got == "0" {
			t.Errorf("receiver accepted spans shown as %q", got)
		}
		// Every seeded cause shows up in the summed diagnosis.
		for cause := range causes {
			if b.text(`[data-k="cause-`+cause+`"]`) == "" {
				t.Errorf("overview diagnosis lacks %s", cause)
			}
		}
		var points int
		b.evalJSON(`document.querySelectorAll('[data-k="reward-curve"] circle').length`, &points)
		if points == 0 {
			t.Error("reward curve has no point")
		}
		b.screenshot("overview")
	})

	t.Run("rollouts pagination and filters", func(t *testing.T) {
		b.t = t
		all := apiRollouts(t, c, "sort_by=start_time&sort_order=asc")
		var want []string
		for _, r := range all {
			want = append(want, r.RolloutID)
		}
		b.show("#/rollouts?limit=5&order=asc")
		var got [][]string
		for range 100 {
			var ids []string
			b.evalJSON(`[...document.querySelectorAll('[data-k="rollouts"] [data-rollout]')].map(e => e.textContent)`, &ids)
			got = append(got, ids)
			if b.eval(`document.getElementById('next').disabled`) == "true" {
				break
			}
			before := b.eval(`document.getElementById('view').dataset.ready`)
			b.eval(`document.getElementById('next').click()`)
			b.waitRendered(before)
		}
		var flat []string
		for _, p := range got {
			if len(p) > 5 {
				t.Fatalf("page of %d rows, limit 5", len(p))
			}
			flat = append(flat, p...)
		}
		if strings.Join(flat, " ") != strings.Join(want, " ") {
			t.Fatalf("paged rollouts differ from the API's\npage: %v\napi:  %v", flat, want)
		}
		// Back one page.
		if len(got) > 2 {
			before := b.eval(`document.getElementById('view').dataset.ready`)
			b.eval(`document.getElementById('prev').click()`)
			b.waitRendered(before)
			var ids []string
			b.evalJSON(`[...document.querySelectorAll('[data-k="rollouts"] [data-rollout]')].map(e => e.textContent)`, &ids)
			if strings.Join(ids, " ") != strings.Join(got[len(got)-2], " ") {
				t.Errorf("previous page %v, want %v", ids, got[len(got)-2])
			}
		}

		// Status filter through the form.
		b.show("#/rollouts")
		before := b.eval(`document.getElementById('view').dataset.ready`)
		b.eval(`(() => { const f = document.getElementById('filters'); f.status.value = 'running'; f.requestSubmit(); })()`)
		b.waitRendered(before)
		var running []string
		b.evalJSON(`[...document.querySelectorAll('[data-k="rollouts"] [data-rollout]')].map(e => e.textContent)`, &running)
		var wantRunning []string
		for _, r := range apiRollouts(t, c, "status_in=running&sort_by=start_time&sort_order=desc") {
			wantRunning = append(wantRunning, r.RolloutID)
		}
		if strings.Join(running, " ") != strings.Join(wantRunning, " ") || len(running) == 0 {
			t.Errorf("running: page %v, API %v", running, wantRunning)
		}
		b.screenshot("rollouts-running")

		// Id prefix and reward range, against the triplets API's rewards.
		b.show("#/rollouts?q=ro-diag&order=asc")
		var diag []string
		b.evalJSON(`[...document.querySelectorAll('[data-k="rollouts"] [data-rollout]')].map(e => e.textContent)`, &diag)
		if len(diag) != 4 {
			t.Errorf("q=ro-diag: %v, want the 4 seeded rollouts", diag)
		}
		b.show("#/rollouts?min_reward=0.5&limit=500&order=asc")
		var rewarded []string
		b.evalJSON(`[...document.querySelectorAll('[data-k="rollouts"] [data-rollout]')].map(e => e.textContent)`, &rewarded)
		var wantRewarded []string
		for _, r := range all {
			var last *float64
			for _, tr := range apiTriplets(t, c, r.RolloutID) {
				if tr.Reward != nil {
					last = tr.Reward
				}
			}
			if last != nil && *last >= 0.5 {
				wantRewarded = append(wantRewarded, r.RolloutID)
			}
			if last != nil {
				if got := b.text(`[data-reward="` + r.RolloutID + `"]`); got != "" && got != shown(last) {
					t.Errorf("%s reward shown %s, triplets say %s", r.RolloutID, got, shown(last))
				}
			}
		}
		if strings.Join(rewarded, " ") != strings.Join(wantRewarded, " ") || len(rewarded) == 0 {
			t.Errorf("min_reward=0.5: page %v, API %v", rewarded, wantRewarded)
		}

		// Sorted by reward, highest first: the rewards shown never increase.
		b.show("#/rollouts?sort=reward&order=desc&limit=500")
		var shownRewards []string
		b.evalJSON(`[...document.querySelectorAll('[data-k="rollouts"] [data-reward]')].map(e => e.textContent)`, &shownRewards)
		if len(shownRewards) == 0 {
			t.Error("no rewarded rollout listed when sorting by reward")
		}
		for i := 1; i < len(shownRewards); i++ {
			a, _ := strconv.ParseFloat(shownRewards[i-1], 64)
			z, _ := strconv.ParseFloat(shownRewards[i], 64)
			if z > a {
				t.Errorf("sorted by reward: %v", shownRewards)
				break
			}
		}

		// Start-time range: the later half of the rollouts.
		cut := all[len(all)/2].StartTime
		b.show("#/rollouts?started_after=" + strconv.FormatFloat(cut, 'f', -1, 64) + "&order=asc&limit=500")
		var later []string
		b.evalJSON(`[...document.querySelectorAll('[data-k="rollouts"] [data-rollout]')].map(e => e.textContent)`, &later)
		var wantLater []string
		for _, r := range all {
			if r.StartTime >= cut {
				wantLater = append(wantLater, r.RolloutID)
			}
		}
		if strings.Join(later, " ") != strings.Join(wantLater, " ") {
			t.Errorf("started_after: page %v, API %v", later, wantLater)
		}
	})

	t.Run("rollout pages", func(t *testing.T) {
		b.t = t
		for name, id := range fixtures {
			b.show("#/rollout/" + id)
			triplets := apiTriplets(t, c, id)
			if got := digits(b.text(`[data-k="triplet-count"]`)); got != strconv.Itoa(len(triplets)) {
				t.Errorf("%s: %s triplets shown, API %d", name, got, len(triplets))
			}
			total, err := spanTotal(t.Context(), "http://"+c.APIAddr, id, attempts[id])
			if err != nil {
				t.Fatal(err)
			}
			if got := digits(b.text(`[data-k="span-count"]`)); got != strconv.Itoa(total) {
				t.Errorf("%s: %s spans shown, API %d", name, got, total)
			}
			for _, tr := range triplets {
				if got := b.text(fmt.Sprintf(`[data-triplet-reward="%d"]`, tr.Index)); got != shown(tr.Reward) {
					t.Errorf("%s triplet %d: reward %s shown, API %s", name, tr.Index, got, shown(tr.Reward))
				}
				if got := b.text(`[data-call-reward="` + tr.SpanID + `"]`); got != shown(tr.Reward) {
					t.Errorf("%s call %s: reward %s shown, API %s", name, tr.SpanID, got, shown(tr.Reward))
				}
			}
			var llmBars int
			b.evalJSON(`document.querySelectorAll('[data-k="waterfall"] .wf-row.llm').length`, &llmBars)
			if calls := digits(b.text(`[data-k="call-count"]`)); calls != strconv.Itoa(llmBars) || llmBars == 0 {
				t.Errorf("%s: %s calls, %d highlighted spans", name, calls, llmBars)
			}
			b.screenshot("rollout-" + name)
		}
		// The raw span behind a waterfall row.
		b.show("#/rollout/" + fixtures["openinference"])
		spanID := b.eval(`document.querySelector('[data-k="waterfall"] .wf-row.llm').dataset.span`)
		b.eval(`document.querySelector('[data-k="waterfall"] .wf-row.llm').click()`)
		raw := b.waitText(`[data-k="raw-span"]`, func(s string) bool { return strings.Contains(s, spanID) })
		if !strings.Contains(raw, `"attributes"`) {
			t.Errorf("raw span lacks attributes: %.200s", raw)
		}
	})

	t.Run("diagnostics", func(t *testing.T) {
		b.t = t
		for cause, id := range causes {
			b.show("#/rollout/" + id + "?c=" + cause)
			var found []string
			b.evalJSON(`[...document.querySelectorAll('[data-k="diagnostics"] [data-cause]')].map(e => e.dataset.cause)`, &found)
			if !contains(found, cause) {
				t.Errorf("%s: diagnostics %v lack %s", id, found, cause)
			}
			b.screenshot("diagnostics-" + cause)
		}
		// The no-LLM-call finding names the spans seen.
		b.show("#/rollout/ro-diag-nollm")
		if text := b.text(`[data-cause="no_llm_call"]`); !strings.Contains(text, "tool.search ×2") || !strings.Contains(text, "http") {
			t.Errorf("no_llm_call finding lacks the span names and families: %s", text)
		}
		// A healthy fixture has nothing missing.
		b.show("#/rollout/" + fixtures["openinference"])
		if text := b.text(`[data-k="diagnostics"]`); !strings.Contains(text, "nothing missing") {
			t.Errorf("openinference: %s", text)
		}
	})

	t.Run("stored content is text", func(t *testing.T) {
		b.t = t
		b.show("#/rollout/ro-diag-xss")
		b.eval(`document.querySelector('[data-k="waterfall"] .wf-row').click()`)
		b.waitText(`[data-k="raw-span"]`, func(s string) bool { return strings.Contains(s, "onerror") })
		body := b.eval(`document.body.innerText`)
		for _, s := range []string{xssName, "<b>bold</b>", `<img src=x onerror=\"window.__xss=2\">`} {
			if !strings.Contains(body, s) {
				t.Errorf("page text lacks %q", s)
			}
		}
		if got := b.eval(`String(window.__xss)`); got != "undefined" {
			t.Fatalf("stored content ran as script: window.__xss = %s", got)
		}
		var injected int
		b.evalJSON(`document.querySelectorAll('main script, main img, main b').length`, &injected)
		if injected != 0 {
			t.Errorf("%d elements made from stored content", injected)
		}
		b.screenshot("escaped")
	})

	t.Run("resources workers export", func(t *testing.T) {
		b.t = t
		seed := addResources(t, c, map[string]any{"prompt": map[string]any{"resource_type": "prompt_template", "engine": "f-string",
			"template": "You are a calculator.\nAnswer with a number."}})
		next := addResources(t, c, map[string]any{"prompt": map[string]any{"resource_type": "prompt_template", "engine": "f-string",
			"template": "You are a calculator.\nThink step by step.\nAnswer with a number."}})
		b.show("#/resources?a=" + seed + "&b=" + next + "&name=prompt")
		var added, removed []string
		b.evalJSON(`[...document.querySelectorAll('[data-k="diff"] .add')].map(e => e.textContent)`, &added)
		b.evalJSON(`[...document.querySelectorAll('[data-k="diff"] .del')].map(e => e.textContent)`, &removed)
		if strings.Join(added, "|") != "+ Think step by step." || len(removed) != 0 {
			t.Errorf("diff: added %q removed %q", added, removed)
		}
		b.screenshot("resources")

		var w map[string]any
		postJSON(t, c.api("/v1/agl/workers/w-e2e"), map[string]any{"heartbeat_stats": map[string]any{"cpu": 1}}, &w)
		b.show("#/workers")
		if got := b.text(`[data-worker-status="w-e2e"]`); got != w["status"] {
			t.Errorf("worker status %q, API %v", got, w["status"])
		}

		// Export with the rollouts page's filter (status=succeeded).
		b.show("#/rollouts?status=succeeded")
		b.show("#/export")
		if got := b.text(`[data-k="export-filter"]`); got != "status=succeeded" {
			t.Errorf("export filter %q", got)
		}
		b.eval(`(() => { const f = document.querySelector('form.filters'); f.format.value = 'triplets'; f.requestSubmit(); })()`)
		status := b.waitText(`[data-k="export-status"]`, func(s string) bool { return strings.HasPrefix(s, "downloaded") })
		resp, err := httpClient.Get(c.api("/v1/lightning/export?format=triplets&attempts=latest&status=succeeded"))
		if err != nil {
			t.Fatal(err)
		}
		lines := countLines(t, resp.Body)
		resp.Body.Close()
		if !strings.Contains(status, fmt.Sprintf("(%d lines)", lines)) || lines == 0 {
			t.Errorf("export: page says %q, API gives %d lines", status, lines)
		}
	})

	t.Run("live update", func(t *testing.T) {
		b.t = t
		b.show("#/overview?live")
		before := digits(b.text(`[data-k="total_rollouts"]`))
		b.eval(`document.getElementById('live').checked = true`)
		var r map[string]any
		postJSONStatus(t, c.api("/v1/agl/rollouts"), http.StatusCreated, map[string]any{"input": map[string]any{"task": "live"}}, &r)
		n, _ := strconv.Atoi(before)
		b.waitText(`[data-k="total_rollouts"]`, func(s string) bool { return digits(s) == strconv.Itoa(n+1) })
		b.eval(`document.getElementById('live').checked = false`)
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func countLines(t *testing.T, r io.Reader) int {
	t.Helper()
	n := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDashboardSecure runs the collector with config/secure.yaml: the shell
// (the page and its scripts, no data) loads without the token so that the
// browser can ask for it; every data route answers 401 without it; the
// page, given the token, shows the store's data.
func TestDashboardSecure(t *testing.T) {
	requireBinary(t)
	certFile, keyFile, pool := selfSigned(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	m := launch(t, t.TempDir(), launchSpec{
		configs: []string{filepath.Join(configDir, "secure.yaml")},
		env:     secureEnv(certFile, keyFile),
		scheme:  "https", client: client, authToken: secureToken,
	})
	base := "https://" + m.APIAddr
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// Data to hide: a rollout whose id must not leak.
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/agl/rollouts", strings.NewReader(`{"input":{"secret":"s3cr3t-input"}}`))
	req.Header.Set("Authorization", "Bearer "+secureToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		RolloutID string `json:"rollout_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create rollout: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	for _, path := range []string{"/", "/ui/app.js", "/ui/style.css"} {
		status, body := get(path, "")
		if status != http.StatusOK {
			t.Errorf("GET %s without token: %d, want the shell", path, status)
		}
		if strings.Contains(body, created.RolloutID) || strings.Contains(body, "s3cr3t") {
			t.Errorf("GET %s without token leaks stored data", path)
		}
	}
	dataRoutes := []string{
		"/v1/lightning/dashboard/overview", "/v1/lightning/dashboard/rollouts",
		"/v1/lightning/dashboard/rollouts/" + created.RolloutID, "/v1/lightning/dashboard/resources",
		"/v1/lightning/dashboard/workers", "/v1/lightning/export?format=sft", "/v1/agl/rollouts",
	}
	for _, path := range dataRoutes {
		if status, body := get(path, ""); status != http.StatusUnauthorized {
			t.Errorf("GET %s without token: %d %.100s, want 401", path, status, body)
		}
		if status, _ := get(path, "wrong-token"); status != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d, want 401", path, status)
		}
		if status, _ := get(path, secureToken); status != http.StatusOK {
			t.Errorf("GET %s with the token: %d, want 200", path, status)
		}
	}
	// Only GET and HEAD of the shell skip the authenticator.
	for _, method := range []string{http.MethodPost, http.MethodDelete} {
		req, _ := http.NewRequest(method, base+"/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s / without token: %d, want 401", method, resp.StatusCode)
		}
	}

	b := newBrowser(t, true)
	b.run(chromedp.Navigate(base + "/#/overview"))
	b.waitText(`#login`, func(string) bool { return b.eval(`document.getElementById('login').hidden`) == "false" })
	if got := b.eval(`document.getElementById('view').textContent`); got != "" {
		t.Errorf("view shows %q before the token is given", got)
	}
	b.screenshot("secure-login")
	// A wrong token is refused and asked again.
	b.eval(`document.getElementById('token').value = 'wrong'; document.getElementById('login').requestSubmit()`)
	b.waitText(`#login-error`, func(s string) bool { return strings.Contains(s, "refused") })
	b.eval(`document.getElementById('token').value = ` + strconv.Quote(secureToken) + `; document.getElementById('login').requestSubmit()`)
	b.waitText(`[data-k="total_rollouts"]`, func(s string) bool { return digits(s) == "1" })
	if got := b.eval(`sessionStorage.getItem('lightning.token')`); got != secureToken {
		t.Errorf("token kept as %q", got)
	}
	b.screenshot("secure-overview")
}

// TestDashboardAPO runs the APO example (config/trainer-apo.yaml, the
// arithmetic agent against the mock LLM) and checks the Algorithm,
// Resources and Overview pages against the algorithm's report and the
// store.
func TestDashboardAPO(t *testing.T) {
	requireBinary(t)
	m := launchAPO(t)
	c := m.collector
	st := waitAlgorithm(t, c)

	b := newBrowser(t, false)
	b.open("http://" + c.APIAddr + "/#/algorithm")
	b.eval(`document.getElementById('live').checked = false`)
	if got := b.text(`[data-k="algorithm-name"]`); got != st.Name {
		t.Errorf("algorithm %q, report %q", got, st.Name)
	}
	if got := b.text(`[data-k="best-score"]`); got != shown(st.BestScore) {
		t.Errorf("best score %s, report %s", got, shown(st.BestScore))
	}
	if got := b.text(`[data-k="baseline-score"]`); got != shown(st.BaselineScore) {
		t.Errorf("baseline %s, report %s", got, shown(st.BaselineScore))
	}
	var scores []string
	b.evalJSON(`[...document.querySelectorAll('[data-k="history"] [data-score]')].map(e => e.textContent)`, &scores)
	if len(scores) != len(st.History) {
		t.Fatalf("%d history rows, report has %d", len(scores), len(st.History))
	}
	for i, h := range st.History {
		if s := h.Score; scores[i] != shown(&s) {
			t.Errorf("history %d: score %s, report %s", i, scores[i], shown(&s))
		}
	}
	var points int
	b.evalJSON(`document.querySelectorAll('[data-k="algorithm-chart"] circle').length`, &points)
	if points != len(st.History) {
		t.Errorf("%d chart points, %d history entries", points, len(st.History))
	}
	b.screenshot("apo-algorithm")

	// The prompt optimiser's rewrite: the seed against the best version.
	var res page[struct {
		ResourcesID string `json:"resources_id"`
		Version     int    `json:"version"`
	}]
	getJSON(t, c.api("/v1/agl/resources?sort_by=update_time&sort_order=asc"), &res)
	if len(res.Items) < 2 {
		t.Fatalf("%d resources versions", len(res.Items))
	}
	b.show("#/resources?a=" + res.Items[0].ResourcesID + "&b=" + *st.BestResourcesID + "&name=system_prompt")
	var added []string
	b.evalJSON(`[...document.querySelectorAll('[data-k="diff"] .add')].map(e => e.textContent)`, &added)
	if !strings.Contains(strings.Join(added, "\n"), llmmock.StepByStepInstruction) {
		t.Errorf("diff seed → best adds %q, want the instruction %q", added, llmmock.StepByStepInstruction)
	}
	b.screenshot("apo-resources")

	// The reward curve has a series per resources version the rollouts ran
	// with, each point the mean of the rollouts' rewards.
	b.show("#/overview")
	var series []string
	b.evalJSON(`[...new Set([...document.querySelectorAll('[data-k="reward-curve"] circle')].map(e => e.dataset.series))]`, &series)
	var d struct {
		RewardCurve struct {
			Points []struct {
				ResourcesID string `json:"resources_id"`
			} `json:"points"`
		} `json:"reward_curve"`
	}
	getJSON(t, c.api("/v1/lightning/dashboard/overview"), &d)
	versions := map[string]bool{}
	for _, p := range d.RewardCurve.Points {
		versions[p.ResourcesID] = true
	}
	if len(series) != len(versions) || len(series) < 2 {
		t.Errorf("reward curve series %v, versions with rewards %v", series, versions)
	}
	b.screenshot("apo-overview")
}
