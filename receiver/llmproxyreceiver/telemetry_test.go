package llmproxyreceiver

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
	"github.com/otelcol-lightning/otelcol-lightning/receiver/llmproxyreceiver/internal/metadata"
)

// sumOf adds the points of a counter whose attributes include want.
func sumOf(t *testing.T, tel *componenttest.Telemetry, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var total int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		match := true
		for _, kv := range want {
			if v, ok := dp.Attributes.Value(kv.Key); !ok || v != kv.Value {
				match = false
			}
		}
		if match {
			total += dp.Value
		}
	}
	return total
}

func TestSelfTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	m, up := mockServer(t, llmmock.VLLMOptions{FailFirst: 1})
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Retry.InitialBackoff, cfg.Retry.MaxBackoff = time.Millisecond, time.Millisecond
	cfg.Upstreams = []UpstreamConfig{upstreamTo(up)}
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	rcv, err := NewFactory().CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, rcv.Shutdown(context.Background())) }()
	url := "http://" + rcv.(*proxyReceiver).addr.String()

	resp, _ := postBody(t, url+"/v1/chat/completions", chatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_ = readSSE(t, url+"/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	resp, _ = postBody(t, url+"/v1/chat/completions", `{`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Len(t, m.Requests(), 3)

	ok := attribute.String("outcome", outcomeOK)
	assert.Equal(t, int64(2), sumOf(t, tel, "otelcol_receiver_llmproxy_calls", ok, attribute.String("api", apiChat)))
	assert.Equal(t, int64(1), sumOf(t, tel, "otelcol_receiver_llmproxy_calls", attribute.String("outcome", outcomeClientError)))
	assert.Equal(t, int64(1), sumOf(t, tel, "otelcol_receiver_llmproxy_errors", attribute.String("reason", "status_429")))
	assert.Equal(t, int64(1), sumOf(t, tel, "otelcol_receiver_llmproxy_retries"))
	assert.Zero(t, sumOf(t, tel, "otelcol_receiver_llmproxy_inflight"), "nothing in flight after the calls")
	assert.Positive(t, sumOf(t, tel, "otelcol_receiver_llmproxy_bytes", attribute.String("direction", "response")))
	lat, err := tel.GetMetric("otelcol_receiver_llmproxy_added_latency")
	require.NoError(t, err)
	var count uint64
	for _, dp := range lat.Data.(metricdata.Histogram[float64]).DataPoints {
		count += dp.Count
	}
	assert.Equal(t, uint64(2), count)
}
