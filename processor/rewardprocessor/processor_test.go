package rewardprocessor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
	"github.com/otelcol-lightning/otelcol-lightning/processor/rewardprocessor/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/processor/rewardprocessor/internal/metadatatest"
)

// UPDATE_GOLDEN=1 go test ./processor/rewardprocessor/ rewrites the expected files.
var updateGolden = os.Getenv("UPDATE_GOLDEN") == "1"

var ignoreTime = []metricdatatest.Option{metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars()}

type tracesEnv struct {
	proc processor.Traces
	sink *consumertest.TracesSink
	tel  *componenttest.Telemetry
}

func startTraces(t *testing.T, cfg *Config) *tracesEnv {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.TracesSink)
	proc, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	require.True(t, proc.Capabilities().MutatesData)
	require.NoError(t, proc.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, proc.Shutdown(context.Background())) })
	return &tracesEnv{proc: proc, sink: sink, tel: tel}
}

func namedConfig(t *testing.T, name string) *Config {
	t.Helper()
	cfg := loadConfig(t, component.NewIDWithName(metadata.Type, name))
	require.NoError(t, cfg.Validate())
	return cfg
}

// counts is the expected telemetry of one batch.
type counts struct {
	normalized map[rewards.Source]int64
	skipped    map[skipKey]int64
	rewritten  int64
}

func assertCounts(t *testing.T, tel *componenttest.Telemetry, want counts) {
	t.Helper()
	if len(want.normalized) > 0 {
		var dps []metricdata.DataPoint[int64]
		for src, n := range want.normalized {
			dps = append(dps, metricdata.DataPoint[int64]{
				Value: n, Attributes: attribute.NewSet(attribute.String("source", string(src))),
			})
		}
		metadatatest.AssertEqualProcessorRewardDimensionsNormalized(t, tel, dps, ignoreTime...)
	} else {
		assertNoMetric(t, tel, "otelcol_processor_reward_dimensions_normalized")
	}
	if len(want.skipped) > 0 {
		var dps []metricdata.DataPoint[int64]
		for k, n := range want.skipped {
			dps = append(dps, metricdata.DataPoint[int64]{
				Value: n,
				Attributes: attribute.NewSet(
					attribute.String("source", string(k.source)), attribute.String("reason", string(k.reason))),
			})
		}
		metadatatest.AssertEqualProcessorRewardValuesSkipped(t, tel, dps, ignoreTime...)
	} else {
		assertNoMetric(t, tel, "otelcol_processor_reward_values_skipped")
	}
	if want.rewritten > 0 {
		metadatatest.AssertEqualProcessorRewardItemsRewritten(t, tel,
			[]metricdata.DataPoint[int64]{{Value: want.rewritten}}, ignoreTime...)
	} else {
		assertNoMetric(t, tel, "otelcol_processor_reward_items_rewritten")
	}
}

func assertNoMetric(t *testing.T, tel *componenttest.Telemetry, name string) {
	t.Helper()
	_, err := tel.GetMetric(name)
	assert.Error(t, err, "metric %s should not have been recorded", name)
}

func TestTracesGolden(t *testing.T) {
	ao, v02, ev, oi, al, rule := rewards.SourceAgentOps, rewards.SourceAnnotationV02, rewards.SourceEvaluationEvent,
		rewards.SourceOpenInference, rewards.SourceAgentLightning, rewards.SourceRule
	tests := []struct {
		dir    string
		config string
		want   counts
	}{
		{
			dir: "agentlightning", config: "golden",
			want: counts{normalized: map[rewards.Source]int64{al: 3}},
		},
		{
			dir: "agentops", config: "golden",
			want: counts{normalized: map[rewards.Source]int64{ao: 2}, rewritten: 2},
		},
		{
			dir: "annotation_v02", config: "golden",
			want: counts{normalized: map[rewards.Source]int64{v02: 1}, rewritten: 1},
		},
		{
			dir: "evaluation_events", config: "golden",
			want: counts{normalized: map[rewards.Source]int64{ev: 3}, rewritten: 2},
		},
		{
			dir: "openinference", config: "golden",
			want: counts{
				normalized: map[rewards.Source]int64{oi: 3},
				skipped:    map[skipKey]int64{{oi, rewards.ReasonNoScore}: 1},
				rewritten:  3,
			},
		},
		{
			dir: "rules", config: "golden",
			want: counts{normalized: map[rewards.Source]int64{rule: 3}, rewritten: 3},
		},
		{
			dir: "weighted_sum", config: "weighted",
			want: counts{normalized: map[rewards.Source]int64{al: 3, oi: 1}, rewritten: 2},
		},
		{
			dir: "bad_values", config: "golden",
			want: counts{
				normalized: map[rewards.Source]int64{ev: 1},
				skipped: map[skipKey]int64{
					{al, rewards.ReasonInvalidStructure}: 1,
					{ao, rewards.ReasonNonNumeric}:       1,
					{ao, rewards.ReasonInvalidJSON}:      1,
					{v02, rewards.ReasonNonNumeric}:      1,
					{ev, rewards.ReasonNonFinite}:        1,
					{ev, rewards.ReasonInvalidStructure}: 1,
					{ev, rewards.ReasonNoScore}:          1,
					{ev, reasonConflictingTarget}:        1,
					{oi, rewards.ReasonWrongType}:        1,
					{rule, rewards.ReasonNonNumeric}:     1,
				},
				rewritten: 1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", "traces", tt.dir)
			input, err := golden.ReadTraces(filepath.Join(dir, "input.yaml"))
			require.NoError(t, err)
			before := primaries(input)

			cfg := namedConfig(t, tt.config)
			env := startTraces(t, cfg)
			require.NoError(t, env.proc.ConsumeTraces(context.Background(), input))
			require.Len(t, env.sink.AllTraces(), 1, "passed through at once")
			actual := env.sink.AllTraces()[0]

			expectedFile := filepath.Join(dir, "expected.yaml")
			if updateGolden {
				require.NoError(t, golden.WriteTracesToFile(expectedFile, actual))
			}
			expected, err := golden.ReadTraces(expectedFile)
			require.NoError(t, err)
			require.NoError(t, ptracetest.CompareTraces(expected, actual))
			assertCounts(t, env.tel, tt.want)

			// What Agent Lightning's get_reward_value read before, it still
			// reads after, unless a weighted sum replaced the primary.
			if cfg.Combine.Mode != CombineWeightedSum {
				after := primaries(actual)
				for id, v := range before {
					assert.Equal(t, v, after[id], "primary reward of span %s", id)
				}
			}

			// Normalising again changes nothing.
			again := startTraces(t, cfg)
			rerun, err := golden.ReadTraces(expectedFile)
			require.NoError(t, err)
			require.NoError(t, again.proc.ConsumeTraces(context.Background(), rerun))
			require.NoError(t, ptracetest.CompareTraces(expected, again.sink.AllTraces()[0]))
			_, err = again.tel.GetMetric("otelcol_processor_reward_items_rewritten")
			assert.Error(t, err, "a second pass rewrites nothing")
		})
	}
}

// primaries maps span ids to the primary reward Agent Lightning reads.
func primaries(td ptrace.Traces) map[string]float64 {
	out := map[string]float64{}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				if v, ok, err := rewards.Value(rewards.SpanOf(span)); ok && err == nil {
					out[span.SpanID().String()] = v
				}
			}
		}
	}
	return out
}

func TestLogsGolden(t *testing.T) {
	ev := rewards.SourceEvaluationEvent
	dir := filepath.Join("testdata", "logs", "evaluation")
	input, err := golden.ReadLogs(filepath.Join(dir, "input.yaml"))
	require.NoError(t, err)

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	proc, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tel), namedConfig(t, "golden"), sink)
	require.NoError(t, err)
	require.NoError(t, proc.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, proc.Shutdown(context.Background())) })

	require.NoError(t, proc.ConsumeLogs(context.Background(), input))
	require.Len(t, sink.AllLogs(), 1)
	actual := sink.AllLogs()[0]

	expectedFile := filepath.Join(dir, "expected.yaml")
	if updateGolden {
		require.NoError(t, golden.WriteLogsToFile(expectedFile, actual))
	}
	expected, err := golden.ReadLogs(expectedFile)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, actual))
	assertCounts(t, tel, counts{
		normalized: map[rewards.Source]int64{ev: 2},
		skipped:    map[skipKey]int64{{ev, rewards.ReasonNonNumeric}: 1},
		rewritten:  2,
	})
}

func TestLogsEvaluationEventsDisabled(t *testing.T) {
	cfg := namedConfig(t, "golden")
	cfg.Sources.EvaluationEvents = false
	sink := new(consumertest.LogsSink)
	proc, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), cfg, sink)
	require.NoError(t, err)
	input, err := golden.ReadLogs(filepath.Join("testdata", "logs", "evaluation", "input.yaml"))
	require.NoError(t, err)
	want := plog.NewLogs()
	input.CopyTo(want)
	require.NoError(t, proc.ConsumeLogs(context.Background(), input))
	require.NoError(t, plogtest.CompareLogs(want, sink.AllLogs()[0]))
}

// With every built-in source off, only the canonical list is read.
func TestTracesSourcesDisabled(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Sources = SourcesConfig{}
	for _, dir := range []string{"agentops", "annotation_v02", "evaluation_events", "openinference"} {
		t.Run(dir, func(t *testing.T) {
			input, err := golden.ReadTraces(filepath.Join("testdata", "traces", dir, "input.yaml"))
			require.NoError(t, err)
			want := ptrace.NewTraces()
			input.CopyTo(want)
			env := startTraces(t, cfg)
			require.NoError(t, env.proc.ConsumeTraces(context.Background(), input))
			require.NoError(t, ptracetest.CompareTraces(want, env.sink.AllTraces()[0]))
			assertCounts(t, env.tel, counts{})
		})
	}
}
