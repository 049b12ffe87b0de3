package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/otelcol-lightning/otelcol-lightning/bench/loadgen"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
)

// hostile drives one collector started with request size limits
// (testdata/limits.yaml: 4 MiB everywhere).
type hostile struct {
	c       *managed
	http    loadgen.Sender
	grpc    loadgen.Sender
	canary  int
	started int
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	c := launch(t, t.TempDir(), launchSpec{configs: []string{testdataPath("limits.yaml")}})
	g, err := loadgen.NewGRPCSender(c.GRPCAddr, loadgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &hostile{c: c, http: loadgen.NewHTTPSender(c.otlpHTTP("/v1/traces"), loadgen.HTTPOptions{}), grpc: g}
	t.Cleanup(func() { _ = h.http.Close(); _ = h.grpc.Close() })
	return h
}

// stillServing checks that the collector is alive, healthy and still ingests
// an ordinary span end to end.
func (h *hostile) stillServing(t *testing.T) {
	t.Helper()
	if !h.c.running() {
		t.Fatal("collector exited")
	}
	if !httpOK("http://" + h.c.HealthAddr + "/") {
		t.Fatal("health check fails")
	}
	h.canary++
	if err := h.http.Send(context.Background(), relBatch(h.canary, 1, 1, "ro-canary")); err != nil {
		t.Fatalf("ordinary span refused: %v", err)
	}
	eventually(t, dataTimeout, func() error {
		n, err := spanTotal(context.Background(), "http://"+h.c.APIAddr, "ro-canary-0", "at-1")
		if err != nil || n < h.canary {
			return notYet("canary spans: %d of %d (%v)", n, h.canary, err)
		}
		return nil
	})
}

// startRollout starts a rollout through the API and returns its ids.
func (h *hostile) startRollout(t *testing.T) (string, string) {
	t.Helper()
	var r wireRollout
	postJSONStatus(t, h.c.api("/v1/agl/rollouts"), http.StatusCreated, map[string]any{"input": "hostile"}, &r)
	return r.RolloutID, r.Attempt.AttemptID
}

// labelled is one span of the given rollout whose attributes fill builds.
func labelled(rolloutID, attemptID, name string, fill func(pcommon.Map)) (ptrace.Traces, ptrace.Span) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("agentlightning.rollout_id", rolloutID)
	rs.Resource().Attributes().PutStr("agentlightning.attempt_id", attemptID)
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetTraceID(pcommon.TraceID{0xfe, 1})
	s.SetSpanID(pcommon.SpanID{0xfe, 1})
	s.SetName(name)
	now := time.Now()
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
	if fill != nil {
		fill(s.Attributes())
	}
	return td, s
}

func protoBody(t *testing.T, td ptrace.Traces) []byte {
	t.Helper()
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func gzipped(t *testing.T, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, _ = gz.Write(body)
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// postRaw sends body with the given headers and returns the status and the
// error message: a google.rpc.Status for OTLP, the body otherwise.
func postRaw(t *testing.T, url string, headers map[string]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(resp.Body)
	var st spb.Status
	if strings.Contains(resp.Header.Get("Content-Type"), "protobuf") && proto.Unmarshal(raw.Bytes(), &st) == nil {
		return resp.StatusCode, st.GetMessage()
	}
	return resp.StatusCode, raw.String()
}

const overLimit = 5 << 20 // above the 4 MiB of testdata/limits.yaml

// TestHostileRequestLimits sends bodies beyond the configured limits to
// every endpoint: each is refused with a clear error, and the collector
// keeps serving.
func TestHostileRequestLimits(t *testing.T) {
	requireBinary(t)
	h := newHostile(t)
	big := strings.Repeat("x", overLimit)
	bigSpan, _ := labelled("ro-big", "at-1", "big", func(a pcommon.Map) { a.PutStr("payload", big) })
	manyAttrs, _ := labelled("ro-many", "at-1", "many", func(a pcommon.Map) {
		fillAttrs(t, a, 1_000_000, func(i int) (string, any) { return "k" + strconv.Itoa(i), int64(i) })
	})
	bomb := gzipped(t, make([]byte, 64<<20)) // 64 MiB of zeros in ~64 KiB
	proto := map[string]string{"Content-Type": "application/x-protobuf"}
	protoGzip := map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
	jsonCT := map[string]string{"Content-Type": "application/json"}

	tests := []struct {
		name       string
		url        string
		headers    map[string]string
		body       []byte
		wantStatus []int
		wantMsg    string
	}{
		// The OTLP receiver reports any unreadable body as 400.
		{"OTLP/HTTP body over max_request_body_size", h.c.otlpHTTP("/v1/traces"), proto, protoBody(t, bigSpan), []int{400, 413}, "too large"},
		{"OTLP/HTTP a million attributes", h.c.otlpHTTP("/v1/traces"), proto, protoBody(t, manyAttrs), []int{400, 413}, "too large"},
		{"OTLP/HTTP gzip bomb", h.c.otlpHTTP("/v1/traces"), protoGzip, bomb, []int{400, 413}, "too large"},
		{"store port /v1/traces over the limit", h.c.api("/v1/traces"), proto, protoBody(t, bigSpan), []int{413}, "exceeds"},
		{"store port /v1/traces gzip bomb", h.c.api("/v1/traces"), protoGzip, bomb, []int{413}, "exceeds"},
		{"store API body over max_request_body_size", h.c.api("/v1/agl/rollouts"), jsonCT,
			[]byte(`{"input":"` + big + `"}`), []int{413}, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := postRaw(t, tt.url, tt.headers, tt.body)
			ok := false
			for _, w := range tt.wantStatus {
				ok = ok || code == w
			}
			if !ok || !strings.Contains(strings.ToLower(msg), tt.wantMsg) {
				t.Errorf("status %d %q, want one of %v with %q", code, truncateMsg(msg), tt.wantStatus, tt.wantMsg)
			}
			h.stillServing(t)
		})
	}
	t.Run("OTLP/gRPC message over max_recv_msg_size_mib", func(t *testing.T) {
		err := h.grpc.Send(context.Background(), bigSpan)
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("gRPC export of %d bytes: %v, want ResourceExhausted", overLimit, err)
		}
		h.stillServing(t)
	})
}

func truncateMsg(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// TestHostileStoreAPIBodies sends hostile JSON to the store API: each gets a
// 4xx with FastAPI's error shape, never a crash or a 500.
func TestHostileStoreAPIBodies(t *testing.T) {
	requireBinary(t)
	h := newHostile(t)
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"nesting beyond the depth limit", "/v1/agl/rollouts", `{"input":` + deep + `}`, 400},
		{"wrong type for limit", "/v1/agl/rollouts/search", `{"limit":"ten"}`, 422},
		{"wrong type for rollout_id", "/v1/agl/spans/search", `{"rollout_id":5}`, 422},
		{"wrong type for status", "/v1/agl/rollouts/ro-x/attempts/latest", `{"status":7}`, 422},
		{"unknown status literal", "/v1/agl/rollouts/ro-x/attempts/latest", `{"status":"exploded"}`, 422},
		{"not JSON", "/v1/agl/rollouts", `{"input": nope`, 422},
		{"trailing garbage", "/v1/agl/rollouts", `{"input":1} {}`, 422},
		{"a number where an object goes", "/v1/agl/rollouts/search", `42`, 422},
		{"huge number", "/v1/agl/rollouts/search", `{"limit":1e400}`, 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(t, h.c.api(tt.path), "application/json", []byte(tt.body))
			if code != tt.want {
				t.Errorf("status %d, want %d: %s", code, tt.want, truncateMsg(string(body)))
			}
			var detail struct {
				Detail json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal(body, &detail); err != nil || len(detail.Detail) == 0 {
				t.Errorf("no FastAPI detail in %s", truncateMsg(string(body)))
			}
			h.stillServing(t)
		})
	}
	t.Run("invalid UTF-8 in a JSON string is repaired", func(t *testing.T) {
		var r wireRollout
		status, body := post(t, h.c.api("/v1/agl/rollouts"), "application/json", []byte("{\"input\":\"a\xffb\",\"metadata\":{\"k\xfe\":1}}"))
		if status != http.StatusCreated || json.Unmarshal(body, &r) != nil || !json.Valid(body) {
			t.Fatalf("status %d: %s", status, body)
		}
		h.stillServing(t)
	})
}

// TestHostileSpans sends spans that are valid OTLP but hostile to the
// pipeline: each is stored (or counted as skipped) and the collector keeps
// serving; attempts built from them end, with or without triplets.
func TestHostileSpans(t *testing.T) {
	requireBinary(t)
	h := newHostile(t)
	ctx := context.Background()
	// A victim rollout with one ordinary span: whatever hostile span the
	// subtests send, it stays readable, and so do sorts over every rollout.
	victimRollout, victimAttempt := h.startRollout(t)
	victimTD, _ := labelled(victimRollout, victimAttempt, "victim", nil)
	if err := h.http.Send(ctx, victimTD); err != nil {
		t.Fatal(err)
	}

	// complete marks the attempt succeeded and waits until the triplet
	// processor has dealt with it (built triplets or counted a failure).
	complete := func(t *testing.T, rolloutID string) {
		t.Helper()
		before := h.c.metric(t, "otelcol_processor_triplet_attempts_completed") + h.c.metric(t, "otelcol_processor_triplet_build_failures")
		var out map[string]any
		postJSON(t, h.c.api("/v1/agl/rollouts/"+rolloutID+"/attempts/latest"), map[string]any{"status": "succeeded"}, &out)
		eventually(t, dataTimeout, func() error {
			after := h.c.metric(t, "otelcol_processor_triplet_attempts_completed") + h.c.metric(t, "otelcol_processor_triplet_build_failures")
			if after <= before {
				return notYet("triplet processor has not handled %s", rolloutID)
			}
			return nil
		})
		status, body := post(t, h.c.api("/v1/agl/spans/search"), "application/json", []byte(`{"rollout_id":"`+rolloutID+`"}`))
		if status != http.StatusOK || !json.Valid(body) {
			t.Fatalf("spans of %s: status %d: %s", rolloutID, status, truncateMsg(string(body)))
		}
		code, triplets := getRaw(t, h.c.api("/v1/lightning/rollouts/"+rolloutID+"/triplets"))
		if code != http.StatusOK || !json.Valid(triplets) {
			t.Fatalf("triplets of %s: status %d: %s", rolloutID, code, truncateMsg(string(triplets)))
		}
	}
	send := func(t *testing.T, s loadgen.Sender, td ptrace.Traces) {
		t.Helper()
		if err := s.Send(ctx, td); err != nil {
			t.Fatalf("export refused: %v", err)
		}
	}
	llmAttrs := func(a pcommon.Map) {
		a.PutStr("gen_ai.system", "openai")
		a.PutStr("gen_ai.prompt.0.role", "user")
		a.PutStr("gen_ai.prompt.0.content", "hi")
		a.PutStr("gen_ai.completion.0.role", "assistant")
		a.PutStr("gen_ai.completion.0.content", "hello")
	}

	nested := func(depth int) func(pcommon.Map) {
		return func(a pcommon.Map) {
			llmAttrs(a)
			m := a.PutEmptyMap("deep")
			for range depth {
				m = m.PutEmptyMap("d")
			}
			l := a.PutEmptySlice("deep_list")
			for range depth {
				l = l.AppendEmpty().SetEmptySlice()
			}
		}
	}
	t.Run("AnyValue nested beyond the depth limit", func(t *testing.T) {
		// The requestguard middleware refuses the whole export before the
		// receiver decodes it (depthlimit.Max, 32 levels).
		td, _ := labelled("ro-deep", "at-1", "deep", nested(20_000))
		for _, s := range []loadgen.Sender{h.http, h.grpc} {
			err := s.Send(ctx, td)
			if err == nil || !strings.Contains(err.Error(), "nested deeper than 32 levels") {
				t.Errorf("export of a 20 000-deep value: %v, want the depth limit's refusal", err)
			}
		}
		h.stillServing(t)
	})

	t.Run("AnyValue nested up to the limit", func(t *testing.T) {
		ro, at := h.startRollout(t)
		td, _ := labelled(ro, at, "openai.chat.completion", nested(depthlimit.Max-1)) // the map itself is one level
		send(t, h.http, td)
		waitForSpans(t, h.c.collector, ro, at, 1)
		complete(t, ro)
		h.stillServing(t)
	})

	t.Run("span with 100k attributes", func(t *testing.T) {
		ro, at := h.startRollout(t)
		td, _ := labelled(ro, at, "openai.chat.completion", func(a pcommon.Map) {
			fillAttrs(t, a, 100_000, func(i int) (string, any) { return "gen_ai.prompt." + strconv.Itoa(i+1) + ".content", "m" })
			llmAttrs(a)
		})
		send(t, h.grpc, td)
		spans := waitForSpans(t, h.c.collector, ro, at, 1)
		if n := len(spans[0].Attributes); n < 100_000 {
			t.Errorf("stored %d attributes", n)
		}
		complete(t, ro)
		h.stillServing(t)
	})

	t.Run("sparse huge indexes", func(t *testing.T) {
		ro, at := h.startRollout(t)
		td, _ := labelled(ro, at, "openai.chat.completion", func(a pcommon.Map) {
			llmAttrs(a)
			a.PutStr("gen_ai.prompt.4000000000.content", "far away")
			a.PutStr("gen_ai.completion.999999999999.role", "assistant")
			a.PutStr("agentlightning.reward.2147483647.value", "1")
			a.PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"x"}]}]`)
		})
		send(t, h.http, td)
		waitForSpans(t, h.c.collector, ro, at, 1)
		complete(t, ro)
		if rss := rssOf(t, h.c.cmd.Process.Pid); rss > 1<<30 {
			t.Errorf("RSS grew to %d MiB", rss>>20)
		}
		h.stillServing(t)
	})

	t.Run("parent-id cycle", func(t *testing.T) {
		ro, at := h.startRollout(t)
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("agentlightning.rollout_id", ro)
		rs.Resource().Attributes().PutStr("agentlightning.attempt_id", at)
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		now := time.Now()
		// a → b → c → a, a self-parented d, and an LLM call under the cycle.
		for i, parent := range []byte{3, 1, 2, 4, 1} {
			s := spans.AppendEmpty()
			s.SetTraceID(pcommon.TraceID{0xcc})
			s.SetSpanID(pcommon.SpanID{byte(i + 1)})
			s.SetParentSpanID(pcommon.SpanID{parent})
			s.SetName("step")
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i) * time.Millisecond)))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Second)))
			if i == 4 {
				s.SetName("openai.chat.completion")
				llmAttrs(s.Attributes())
			}
		}
		send(t, h.http, td)
		waitForSpans(t, h.c.collector, ro, at, 5)
		complete(t, ro)
		h.stillServing(t)
	})

	t.Run("invalid UTF-8", func(t *testing.T) {
		ro, at := h.startRollout(t)
		td, s := labelled(ro, at, "bad\xffname", func(a pcommon.Map) {
			llmAttrs(a)
			a.PutStr("key\xfe", "value\xff")
			a.PutStr("gen_ai.prompt.0.content", "\xc3\x28 broken")
			a.PutStr("gen_ai.input.messages", "[{\"role\":\"user\",\"content\":\"\xff\"}]")
		})
		s.Status().SetMessage("\xff")
		// Protobuf over HTTP (gRPC's codec refuses invalid UTF-8 itself).
		send(t, h.http, td)
		spans := waitForSpans(t, h.c.collector, ro, at, 1)
		if spans[0].Name != "bad\uFFFDname" {
			t.Errorf("name %q, want the invalid byte replaced", spans[0].Name)
		}
		complete(t, ro)
		h.stillServing(t)
	})

	t.Run("wrong types", func(t *testing.T) {
		ro, at := h.startRollout(t)
		invalidBefore := h.c.metric(t, "otelcol_exporter_lightningstore_sequence_ids_invalid")
		td, _ := labelled(ro, at, "openai.chat.completion", func(a pcommon.Map) {
			a.PutInt("gen_ai.system", 5)
			a.PutBool("gen_ai.prompt.0.role", true)
			a.PutDouble("gen_ai.prompt.0.content", 1.5)
			a.PutEmptyMap("gen_ai.completion.0.content").PutStr("not", "a string")
			a.PutStr("prompt_token_ids", "1, 2, three")
			a.PutEmptySlice("response_token_ids").AppendEmpty().SetStr("x")
			a.PutBool("gen_ai.usage.input_tokens", true)
			a.PutStr("agentlightning.span_sequence_id", "not a number")
			a.PutStr("agentlightning.reward.0.value", "high")
			a.PutEmptyBytes("gen_ai.input.messages").FromRaw([]byte{0, 1, 2})
		})
		send(t, h.grpc, td)
		waitForSpans(t, h.c.collector, ro, at, 1)
		if after := h.c.metric(t, "otelcol_exporter_lightningstore_sequence_ids_invalid"); after != invalidBefore+1 {
			t.Errorf("sequence_ids_invalid went from %v to %v, want +1", invalidBefore, after)
		}
		complete(t, ro)

		// A rollout id that is a number names the rollout by its decimal form.
		td, _ = labelled("", "", "numbered", nil)
		res := td.ResourceSpans().At(0).Resource().Attributes()
		res.PutInt("agentlightning.rollout_id", 4242)
		res.PutInt("agentlightning.attempt_id", 7)
		send(t, h.http, td)
		waitForSpans(t, h.c.collector, "4242", "7", 1)
		h.stillServing(t)
	})

	t.Run("the victim rollout and every sort stay readable", func(t *testing.T) {
		var page struct {
			Items []map[string]any `json:"items"`
		}
		postJSON(t, h.c.api("/v1/agl/spans/search"), map[string]any{"rollout_id": victimRollout}, &page)
		if len(page.Items) != 1 || page.Items[0]["name"] != "victim" {
			t.Errorf("victim's spans: %v", page.Items)
		}
		for _, field := range []string{"input", "metadata", "config"} {
			status, body := post(t, h.c.api("/v1/agl/rollouts/search"), "application/json", []byte(`{"sort_by":"`+field+`"}`))
			if status != http.StatusOK {
				t.Errorf("rollouts sorted by %s: %d %s", field, status, truncateMsg(string(body)))
			}
		}
		status, body := post(t, h.c.api("/v1/agl/spans/search"), "application/json", []byte(`{"rollout_id":"`+victimRollout+`","sort_by":"attributes"}`))
		if status != http.StatusOK {
			t.Errorf("spans sorted by attributes: %d %s", status, truncateMsg(string(body)))
		}
	})
}

// fillAttrs puts n attributes at once (Map.Put* looks for an existing key
// first, so n calls would take quadratic time).
func fillAttrs(t *testing.T, a pcommon.Map, n int, kv func(int) (string, any)) {
	t.Helper()
	raw := make(map[string]any, n)
	for i := range n {
		k, v := kv(i)
		raw[k] = v
	}
	if err := a.FromRaw(raw); err != nil {
		t.Fatal(err)
	}
}

func getRaw(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

// rssOf is the current resident set size of a process.
func rssOf(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}
