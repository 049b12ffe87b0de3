package messagesconnector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtelemetry"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector/internal/metadatatest"
	"github.com/otelcol-lightning/otelcol-lightning/internal/recentset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

// UPDATE_GOLDEN=1 go test ./connector/messagesconnector/ rewrites the
// expected files.
var updateGolden = os.Getenv("UPDATE_GOLDEN") == "1"

type env struct {
	conn connector.Traces
	sink *consumertest.LogsSink
	tel  *componenttest.Telemetry
}

// policyExt stands in for the lightningstore extension's identity policy.
type policyExt struct {
	component.StartFunc
	component.ShutdownFunc
	policy otlpspan.Config // zero: the extension's defaults
}

func (p policyExt) IdentityPolicy() otlpspan.Config {
	c := p.policy.WithDefaults()
	c.Unknown = ""
	return c
}

type testHost map[component.ID]component.Component

func (h testHost) GetExtensions() map[component.ID]component.Component { return h }

func hostWithPolicy(policy otlpspan.Config) testHost {
	return testHost{component.MustNewID("lightningstore"): policyExt{policy: policy}}
}

// newTestHost is the host of the generated lifecycle test.
func newTestHost(*testing.T) component.Host { return hostWithPolicy(otlpspan.Config{}) }

var envSeq atomic.Int64

func newEnv(t *testing.T, cfg *Config, next ...consumer.Logs) *env {
	t.Helper()
	return newEnvWithPolicy(t, cfg, otlpspan.Config{}, next...)
}

// newEnvWithPolicy starts the connector with the given identity policy on
// its store extension.
func newEnvWithPolicy(t *testing.T, cfg *Config, policy otlpspan.Config, next ...consumer.Logs) *env {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := &consumertest.LogsSink{}
	var out consumer.Logs = sink
	if len(next) > 0 {
		out = next[0]
	}
	// Each env is its own component id: instances of one id share their
	// dedup set and join (sharedState), and a test may hold several envs.
	set := metadatatest.NewSettings(tel)
	set.ID = component.MustNewIDWithName("messages", fmt.Sprintf("env%d", envSeq.Add(1)))
	conn, err := NewFactory().CreateTracesToLogs(context.Background(), set, cfg, out)
	require.NoError(t, err)
	require.NoError(t, conn.Start(context.Background(), hostWithPolicy(policy)))
	t.Cleanup(func() { require.NoError(t, conn.Shutdown(context.Background())) })
	return &env{conn: conn, sink: sink, tel: tel}
}

func readInput(t *testing.T, dir string) ptrace.Traces {
	t.Helper()
	td, err := golden.ReadTraces(filepath.Join("testdata", "traces", dir, "input.yaml"))
	require.NoError(t, err)
	return td
}

// The golden records: one per LLM call, for every convention the parser
// knows, plus the reward, dedup and option cases.
func TestGoldenRecords(t *testing.T) {
	tests := []struct {
		name   string
		input  string // directory under testdata/traces; defaults to name
		config string // id in testdata/config.yaml; defaults to messages
	}{
		{name: "otel"},
		{name: "otel_structured"},
		{name: "otel_details_event"},
		{name: "otel_events"},
		{name: "openllmetry"},
		{name: "litellm"},
		{name: "litellm_raw"},
		{name: "agentops"},
		{name: "openinference"},
		{name: "openai_json"},
		{name: "vercel"},
		{name: "pydantic_ai"},
		{name: "agentlightning_operation", config: "messages/weave"},
		{name: "rewards"},
		{name: "dedup"},
		{name: "options", input: "litellm", config: "messages/options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input, config := tt.input, tt.config
			if input == "" {
				input = tt.name
			}
			if config == "" {
				config = "messages"
			}
			e := newEnv(t, loadConfig(t, config))
			td := readInput(t, input)
			td.MarkReadOnly() // the connector must not modify its input
			require.NoError(t, e.conn.ConsumeTraces(context.Background(), td))

			got := plog.NewLogs()
			for _, ld := range e.sink.AllLogs() {
				ld.ResourceLogs().MoveAndAppendTo(got.ResourceLogs())
			}
			path := filepath.Join("testdata", "traces", tt.name, "expected.yaml")
			if updateGolden {
				require.NoError(t, golden.WriteLogsToFile(path, withoutObservedTime(got)))
			}
			want, err := golden.ReadLogs(path)
			require.NoError(t, err)
			require.NoError(t, plogtest.CompareLogs(want, got, plogtest.IgnoreObservedTimestamp()))
			assertOpenAIShape(t, got)
		})
	}
}

// withoutObservedTime zeroes the observed timestamps (the wall clock) so
// regenerated golden files do not change for nothing.
func withoutObservedTime(ld plog.Logs) plog.Logs {
	out := plog.NewLogs()
	ld.CopyTo(out)
	for _, rl := range out.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				lr.SetObservedTimestamp(0)
			}
		}
	}
	return out
}

// assertOpenAIShape checks what a fine-tuning job needs of every body:
// known roles, tool_calls with string arguments, tool messages with a
// tool_call_id, and an assistant completion.
func assertOpenAIShape(t *testing.T, ld plog.Logs) {
	t.Helper()
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				var body struct {
					Messages   []map[string]any `json:"messages"`
					Tools      []map[string]any `json:"tools"`
					Completion map[string]any   `json:"completion"`
				}
				var raw []byte
				if lr.Body().Type() == pcommon.ValueTypeStr {
					raw = []byte(lr.Body().Str())
				} else {
					var err error
					raw, err = json.Marshal(lr.Body().AsRaw())
					require.NoError(t, err)
				}
				require.NoError(t, json.Unmarshal(raw, &body))
				msgs := body.Messages
				if body.Completion != nil {
					assert.Equal(t, "assistant", body.Completion["role"])
					msgs = append(msgs, body.Completion)
				}
				for _, m := range msgs {
					assert.Contains(t, []string{"system", "developer", "user", "assistant", "tool"}, m["role"])
					if m["role"] == "tool" {
						assert.NotEmpty(t, m["tool_call_id"])
					}
					calls, _ := m["tool_calls"].([]any)
					for _, c := range calls {
						fn := c.(map[string]any)["function"].(map[string]any)
						assert.IsType(t, "", fn["arguments"])
					}
				}
				for _, tool := range body.Tools {
					assert.Equal(t, "function", tool["type"])
				}
			}
		}
	}
}

func counterPoints(reason string, n int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("reason", reason)), Value: n}
}

func TestTelemetry(t *testing.T) {
	e := newEnv(t, createDefaultConfig().(*Config))
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), readInput(t, "rewards")))
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), readInput(t, "dedup")))

	metadatatest.AssertEqualConnectorMessagesRecordsEmitted(t, e.tel, []metricdata.DataPoint[int64]{{Value: 5}},
		metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualConnectorMessagesSpansSkipped(t, e.tel, []metricdata.DataPoint[int64]{
		counterPoints(reasonDuplicate, 1), counterPoints(reasonNoContent, 1), counterPoints(reasonTripletSpan, 1),
	}, metricdatatest.IgnoreTimestamp())
}

// A call seen in an earlier batch is not emitted again, unless that batch
// failed downstream.
func TestDedupAcrossBatches(t *testing.T) {
	failing := true
	sink := &consumertest.LogsSink{}
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		if failing {
			return errors.New("downstream down")
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	require.NoError(t, err)
	e := newEnv(t, createDefaultConfig().(*Config), next)

	require.Error(t, e.conn.ConsumeTraces(context.Background(), readInput(t, "litellm")))
	failing = false
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), readInput(t, "litellm")))
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), readInput(t, "litellm")))
	assert.Equal(t, 1, sink.LogRecordCount(), "the retried batch is emitted once, the replay is dropped")

	cfg := createDefaultConfig().(*Config)
	cfg.DedupCacheSize = 0
	e = newEnv(t, cfg)
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), readInput(t, "litellm")))
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), readInput(t, "litellm")))
	assert.Equal(t, 2, e.sink.LogRecordCount(), "without the cache every batch is emitted")
}

// TestUnlabeledPolicies: the identity policy is the store extension's.
func TestUnlabeledPolicies(t *testing.T) {
	td := readInput(t, "otel") // no rollout labels

	e := newEnv(t, createDefaultConfig().(*Config))
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), td))
	require.Equal(t, 3, e.sink.LogRecordCount())
	lr := e.sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	traceID := lr.TraceID()
	rollout, _ := lr.Attributes().Get(otlpspan.AttrRolloutID)
	assert.Equal(t, otlpspan.AutoRolloutPrefix+otlpspan.TraceIDHex(traceID[:]), rollout.Str())

	e = newEnvWithPolicy(t, createDefaultConfig().(*Config), otlpspan.Config{Unlabeled: otlpspan.UnlabeledDrop})
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), td))
	assert.Zero(t, e.sink.LogRecordCount())
	metadatatest.AssertEqualConnectorMessagesSpansSkipped(t, e.tel, []metricdata.DataPoint[int64]{
		counterPoints(reasonUnlabeled, 3),
	}, metricdatatest.IgnoreTimestamp())

	e = newEnvWithPolicy(t, createDefaultConfig().(*Config), otlpspan.Config{AutoKey: "no.such.attribute"})
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), td))
	require.Equal(t, 3, e.sink.LogRecordCount(), "spans without the key fall back to their trace id")
}

func TestStartNeedsTheStoreExtension(t *testing.T) {
	conn, err := NewFactory().CreateTracesToLogs(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), createDefaultConfig(), &consumertest.LogsSink{})
	require.NoError(t, err)
	require.ErrorContains(t, conn.Start(context.Background(), testHost{}), "extension lightningstore not found")
	require.ErrorContains(t, conn.Start(context.Background(), testHost{component.MustNewID("lightningstore"): struct{ component.Component }{}}),
		"extension lightningstore does not provide the identity policy")
	require.NoError(t, conn.Shutdown(context.Background()))
}

func TestNameMatchOnly(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.LLMCallName = `^litellm_request$`
	e := newEnv(t, cfg)
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), readInput(t, "otel")))
	assert.Zero(t, e.sink.LogRecordCount(), "chat spans do not match the name")
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), readInput(t, "litellm")))
	assert.Equal(t, 1, e.sink.LogRecordCount())
}

func TestNoCallsSendsNothing(t *testing.T) {
	e := newEnv(t, createDefaultConfig().(*Config))
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("GET /")
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), td))
	assert.Empty(t, e.sink.AllLogs())
}

func TestJSONToValueKeepsOrderAndIntegers(t *testing.T) {
	v := pcommon.NewValueEmpty()
	require.NoError(t, jsonToValue([]byte(`{"z":1,"a":[1.5,true,null,"s",{"k":-2}],"big":12345678901234567890}`), v))
	keys := []string{}
	for k := range v.Map().All() {
		keys = append(keys, k)
	}
	assert.Equal(t, []string{"z", "a", "big"}, keys)
	assert.Equal(t, map[string]any{
		"z": int64(1), "a": []any{1.5, true, nil, "s", map[string]any{"k": int64(-2)}}, "big": 12345678901234567890.0,
	}, v.Map().AsRaw())
	assert.Error(t, jsonToValue([]byte(`{"a":1} 2`), pcommon.NewValueEmpty()))
	assert.Error(t, jsonToValue([]byte(`{"a":`), pcommon.NewValueEmpty()))
}

func TestRecentKeysEvictsOldest(t *testing.T) {
	r := recentset.New[callKey](2)
	a, b, c := callKey{responseID: "a"}, callKey{responseID: "b"}, callKey{responseID: "c"}
	r.Add(a, b, a)
	r.Add(c)
	assert.False(t, r.Contains(a))
	assert.True(t, r.Contains(b))
	assert.True(t, r.Contains(c))
}

// The records work with any logs exporter: here the core debug exporter
// writes them to a file, each body one OpenAI chat record as a JSON string.
func TestWorksWithTheDebugExporter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records.txt")
	df := debugexporter.NewFactory()
	dcfg := df.CreateDefaultConfig().(*debugexporter.Config)
	dcfg.Verbosity = configtelemetry.LevelDetailed
	dcfg.UseInternalLogger = false
	dcfg.OutputPaths = []string{path}
	dcfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	debug, err := df.CreateLogs(context.Background(), exportertest.NewNopSettings(df.Type()), dcfg)
	require.NoError(t, err)
	require.NoError(t, debug.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, debug.Shutdown(context.Background())) })

	cfg := createDefaultConfig().(*Config)
	cfg.BodyFormat = BodyFormatJSONString
	e := newEnv(t, cfg, debug)
	require.NoError(t, e.conn.ConsumeTraces(context.Background(), readInput(t, "otel")))

	out, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"tool_calls":[{"id":"call_VSPygqKTWdrhaFErNvMV18Yl","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]`)
	assert.Contains(t, string(out), "agentlightning.rollout_id")
	assert.Equal(t, 3, strings.Count(string(out), "EventName: agentlightning.llm_call"))
}

// A call whose record JSON cannot hold is skipped and counted; the other
// calls of the batch still go out. (The parser drops such values itself;
// this guards the connector against a Call built otherwise.)
func TestUnencodableCallIsSkipped(t *testing.T) {
	e := newEnv(t, createDefaultConfig().(*Config))
	c := e.conn.(*messagesConnector)
	b := c.collect(readInput(t, "otel"))
	require.Len(t, b.calls, 3)
	b.calls[0].parsed.Tools = []genai.Tool{{Type: "function", Function: &genai.FunctionDef{
		Name: "f", Parameters: map[string]any{"maximum": math.NaN()},
	}}}
	ld := c.build(b)
	assert.Equal(t, 2, ld.LogRecordCount())
	assert.Len(t, b.calls, 2, "only emitted calls are remembered and counted")
	assert.Equal(t, 1, b.skipped[reasonUnencodable])
}
