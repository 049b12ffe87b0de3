package storeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"
	"github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/export"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/tripletspan"
)

// storeHost provides the store and the default identity policy to the
// exporter as the lightningstore extension does.
type storeHost struct{ st store.Store }

type storeExt struct {
	component.StartFunc
	component.ShutdownFunc
	st store.Store
}

func (e storeExt) LightningStore() store.Store { return e.st }

func (e storeExt) IdentityPolicy() otlpspan.Config {
	return otlpspan.Config{Unlabeled: otlpspan.UnlabeledAuto, AutoKey: otlpspan.AutoKeyTraceID}
}

func (h storeHost) GetExtensions() map[component.ID]component.Component {
	return map[component.ID]component.Component{component.MustNewID("lightningstore"): storeExt{st: h.st}}
}

// ingest sends td through the distribution's pipeline: the traces go to
// the lightningstore exporter and to the messages connector, whose records
// go to the same exporter's logs side.
func ingest(t *testing.T, st store.Store, td ptrace.Traces) {
	t.Helper()
	ctx := context.Background()
	host := storeHost{st: st}
	ef := lightningstoreexporter.NewFactory()
	cfg := ef.CreateDefaultConfig().(*lightningstoreexporter.Config)
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig.Enabled = false
	set := exportertest.NewNopSettings(ef.Type())

	traces, err := ef.CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	logs, err := ef.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	cf := messagesconnector.NewFactory()
	conn, err := cf.CreateTracesToLogs(ctx, connectortest.NewNopSettings(cf.Type()), cf.CreateDefaultConfig(), logs)
	require.NoError(t, err)
	for _, c := range []component.Component{traces, logs, conn} {
		require.NoError(t, c.Start(ctx, host))
	}
	for _, c := range []consumer.Traces{traces, conn} {
		cp := ptrace.NewTraces()
		td.CopyTo(cp)
		require.NoError(t, c.ConsumeTraces(ctx, cp))
	}
	for _, c := range []component.Component{conn, logs, traces} {
		require.NoError(t, c.Shutdown(ctx))
	}
}

const (
	msgsFirst  = `[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]`
	outFirst   = `[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"location":"Paris"}}],"finish_reason":"tool_call"}]`
	msgsSecond = `[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]},` +
		`{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"location":"Paris"}}]},` +
		`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":"rainy"}]}]`
	outSecond = `[{"role":"assistant","parts":[{"type":"text","content":"Rainy."}],"finish_reason":"stop"}]`
	tools     = `[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}]`
)

// agentRun is one attempt of a tool-using agent as OTel GenAI spans: two
// chat calls with token ids, a reward annotation, and the triplets the
// triplet processor would emit for them.
func agentRun(rollout, attempt string, traceByte byte) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(otlpspan.AttrRolloutID, rollout)
	rs.Resource().Attributes().PutStr(otlpspan.AttrAttemptID, attempt)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	traceID := pcommon.TraceID{0: traceByte, 15: traceByte}
	add := func(n byte, name string, start, end uint64) ptrace.Span {
		s := spans.AppendEmpty()
		s.SetName(name)
		s.SetTraceID(traceID)
		s.SetSpanID(pcommon.SpanID{0: traceByte, 7: n})
		s.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + start*1e9))
		s.SetEndTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + end*1e9))
		return s
	}
	chat := func(n byte, start uint64, in, out string, prompt, response []int64) {
		s := add(n, "chat qwen", start, start+1)
		a := s.Attributes()
		a.PutStr("gen_ai.operation.name", "chat")
		a.PutStr("gen_ai.request.model", "qwen")
		a.PutStr("gen_ai.input.messages", in)
		a.PutStr("gen_ai.output.messages", out)
		a.PutStr("gen_ai.tool.definitions", tools)
		putIDs(a.PutEmptySlice("prompt_token_ids"), prompt)
		putIDs(a.PutEmptySlice("response_token_ids"), response)
	}
	chat(1, 1, msgsFirst, outFirst, []int64{1, 2}, []int64{3, 4})
	chat(2, 3, msgsSecond, outSecond, []int64{1, 2, 3, 4, 5, 6}, []int64{7})
	reward := add(3, "agentlightning.annotation", 5, 5)
	reward.Attributes().PutStr("agentlightning.reward.0.name", "primary")
	reward.Attributes().PutDouble("agentlightning.reward.0.value", 1)

	for i, tr := range []struct {
		parent   byte
		prompt   string
		response string
		reward   *float64
	}{
		{1, `{"token_ids":[1,2]}`, `{"token_ids":[3,4],"logprobs":[{"token":"a","logprob":-0.5},{"token":"b","logprob":-0.5}]}`, nil},
		{2, `{"token_ids":[1,2,3,4,5,6]}`, `{"token_ids":[7],"logprobs":[{"token":"c","logprob":-1}]}`, model.Ptr(1.0)},
	} {
		s := add(10+byte(i), tripletspan.SpanName, 6, 6)
		s.SetParentSpanID(pcommon.SpanID{0: traceByte, 7: tr.parent})
		tripletspan.Write(s.Attributes(), tripletspan.Record{Index: i, Count: 2, Revision: 1, Triplet: model.Triplet{
			Prompt: json.RawMessage(tr.prompt), Response: json.RawMessage(tr.response), Reward: tr.reward,
			Metadata: json.RawMessage(`{"agent_name":"*"}`),
		}})
	}
	return td
}

func putIDs(s pcommon.Slice, ids []int64) {
	for _, id := range ids {
		s.AppendEmpty().SetInt(id)
	}
}

type exportResponse struct {
	status  int
	header  http.Header
	lines   []json.RawMessage
	body    []byte
	summary export.Summary
}

func (a *testAPI) export(t *testing.T, query string) exportResponse {
	t.Helper()
	resp, err := http.Get(a.url + LightningPrefix + "/export?" + query)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := exportResponse{status: resp.StatusCode, header: resp.Header, body: body}
	if resp.StatusCode != http.StatusOK {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		require.Truef(t, json.Valid(sc.Bytes()), "line %s", sc.Text())
		out.lines = append(out.lines, append(json.RawMessage{}, sc.Bytes()...))
	}
	// Trailers are readable once the body is consumed.
	require.NoError(t, json.Unmarshal([]byte(resp.Trailer.Get(ExportSummaryTrailer)), &out.summary))
	return out
}

func TestExportRoute(t *testing.T) {
	a := newTestAPI(t)
	ingest(t, a.store, agentRun("ro-1", "at-1", 0x11))
	ingest(t, a.store, agentRun("ro-2", "at-1", 0x22))
	_, err := a.store.UpdateRollout(context.Background(), "ro-1", store.RolloutUpdate{Status: store.To(model.RolloutSucceeded)})
	require.NoError(t, err)

	t.Run("sft", func(t *testing.T) {
		r := a.export(t, "format=sft&status=succeeded")
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		assert.Equal(t, "application/x-ndjson", r.header.Get("Content-Type"))
		require.Len(t, r.lines, 1)
		require.NoError(t, export.CheckSFTLine(r.lines[0]))
		assert.JSONEq(t, `{"messages":[
			{"role":"user","content":"Weather in Paris?"},
			{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
			{"role":"tool","content":"rainy","tool_call_id":"call_1"},
			{"role":"assistant","content":"Rainy."}],
			"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}]}`,
			string(r.lines[0]))
		assert.Equal(t, export.Summary{Format: export.FormatSFT, Lines: 1, Rollouts: 1, Attempts: 1}, r.summary)

		r = a.export(t, "format=sft&granularity=call")
		require.Len(t, r.lines, 4)
		for _, l := range r.lines {
			require.NoError(t, export.CheckSFTLine(l))
		}
	})

	t.Run("triplets agree with the triplets route", func(t *testing.T) {
		r := a.export(t, "format=triplets&rollout_id=ro-1")
		require.Len(t, r.lines, 2)
		items := a.get(LightningPrefix + "/rollouts/ro-1/triplets").object(http.StatusOK)["items"].([]any)
		require.Len(t, items, 2)
		for i, it := range items {
			want, err := json.Marshal(it)
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(r.lines[i]))
		}
	})

	t.Run("trajectories", func(t *testing.T) {
		r := a.export(t, "format=trajectories&min_reward=0.5&summary=true")
		require.Len(t, r.lines, 3, "two rows and the summary line")
		var row export.TrajectoryLine
		require.NoError(t, json.Unmarshal(r.lines[0], &row))
		assert.Equal(t, []int64{1, 2}, row.PromptIDs)
		assert.Equal(t, []int64{3, 4, 5, 6, 7}, row.ResponseIDs)
		assert.Equal(t, []int{1, 1, 0, 0, 1}, row.LossMask)
		assert.Equal(t, []float64{-0.5, -0.5, 0, 0, -1}, row.Logprobs)
		assert.Equal(t, model.Ptr(1.0), row.Reward)
		var last struct {
			Summary export.Summary `json:"summary"`
		}
		require.NoError(t, json.Unmarshal(r.lines[2], &last))
		assert.Equal(t, r.summary, last.Summary)
		assert.Equal(t, 2, last.Summary.Lines)
	})

	t.Run("messages route", func(t *testing.T) {
		items := a.get(LightningPrefix + "/rollouts/ro-1/messages").object(http.StatusOK)["items"].([]any)
		require.Len(t, items, 2)
		assert.Equal(t, "Rainy.", dig(items, 1, "completion", "content"))
		assert.Equal(t, "call_1", dig(items, 1, "messages", 2, "tool_call_id"))
		assert.Equal(t, 1.0, dig(items, 1, "attributes", "agentlightning.reward.0.value"), "the reward arrived in the same batch")
		assert.Less(t, dig(items, 0, "sequence_id").(float64), dig(items, 1, "sequence_id").(float64))
	})

	t.Run("empty export", func(t *testing.T) {
		r := a.export(t, "format=sft&mode=val")
		require.Equal(t, http.StatusOK, r.status)
		assert.Empty(t, r.lines)
		assert.Equal(t, export.FormatSFT, r.summary.Format, "the trailer arrived")
		assert.Zero(t, r.summary.Rollouts, "no rollout has mode val")
		assert.Zero(t, r.summary.Lines)
	})

	t.Run("bad parameters", func(t *testing.T) {
		for query, field := range map[string]string{
			"":                                "format",
			"format=csv":                      "format",
			"format=sft&status=done":          "status",
			"format=sft&min_reward=high":      "min_reward",
			"format=sft&started_after=x":      "started_after",
			"format=sft&granularity=sentence": "granularity",
			"format=sft&summary=maybe":        "summary",
		} {
			r := a.export(t, query)
			require.Equal(t, http.StatusBadRequest, r.status, query)
			var body map[string]string
			require.NoError(t, json.Unmarshal(r.body, &body))
			assert.Contains(t, body["detail"], field, query)
		}
	})
}

// slowTriplets makes every triplet read take delay, so an export lasts
// longer than the server's write timeout.
type slowTriplets struct {
	store.Store
	delay time.Duration
}

func (s slowTriplets) QueryTriplets(ctx context.Context, rolloutID, attemptID string) ([]model.TripletRecord, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.QueryTriplets(ctx, rolloutID, attemptID)
}

// TestExportOutlivesTheWriteTimeout: an export that keeps producing lines
// is not cut by the server's write or read timeout (1 s here; it lasts
// 2.4 s).
func TestExportOutlivesTheWriteTimeout(t *testing.T) {
	core := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { _ = core.Close() })
	for i := range 6 {
		ingest(t, core, agentRun(fmt.Sprintf("ro-%d", i), "at-1", byte(0x10+i)))
	}
	srv := httptest.NewUnstartedServer(NewHandler(slowTriplets{Store: core, delay: 400 * time.Millisecond}))
	srv.Config.WriteTimeout = time.Second
	srv.Config.ReadTimeout = time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	a := &testAPI{t: t, url: srv.URL, store: core}
	r := a.export(t, "format=triplets")
	require.Equal(t, http.StatusOK, r.status)
	assert.Len(t, r.lines, 12)
	assert.Equal(t, 12, r.summary.Lines)
}
