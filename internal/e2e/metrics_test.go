package e2e

import (
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// TestOTLPMetricsAccepted: SDKs that export metrics by default
// (opentelemetry-instrument, OpenLLMetry) get 200 from the default
// configuration instead of a 404 every interval, and the points are counted
// by the otlp receiver's own telemetry. The store port keeps Agent
// Lightning's answer for /v1/metrics (501, reserved).
func TestOTLPMetricsAccepted(t *testing.T) {
	requireBinary(t)
	c := launch(t, t.TempDir(), launchSpec{})

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "metrics-agent")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("gen_ai.client.token.usage")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i := range 3 {
		dp := sum.DataPoints().AppendEmpty()
		dp.SetIntValue(int64(10 * (i + 1)))
		dp.SetTimestamp(1767225600000000000)
		dp.Attributes().PutInt("i", int64(i))
	}
	req := pmetricotlp.NewExportRequestFromMetrics(md)
	proto, err := req.MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	js, err := req.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if status, body := post(t, c.otlpHTTP("/v1/metrics"), "application/x-protobuf", proto); status != http.StatusOK {
		t.Fatalf("OTLP/HTTP protobuf metrics: status %d: %s", status, body)
	}
	if status, body := post(t, c.otlpHTTP("/v1/metrics"), "application/json", js); status != http.StatusOK {
		t.Fatalf("OTLP/HTTP JSON metrics: status %d: %s", status, body)
	}
	eventually(t, 10*time.Second, func() error {
		if got := c.metric(t, "otelcol_receiver_accepted_metric_points"); got < 6 {
			return notYet("accepted metric points %v, want 6", got)
		}
		return nil
	})
	if status, _ := post(t, c.api("/v1/metrics"), "application/x-protobuf", proto); status != http.StatusNotImplemented {
		t.Errorf("store port /v1/metrics: status %d, want Agent Lightning's 501", status)
	}
}
