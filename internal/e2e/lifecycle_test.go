package e2e

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	yaml "go.yaml.in/yaml/v3"
)

// TestRestartKeepsData stops the collector after spans are stored and finds
// them again after a restart on the same data directory; new spans continue
// the attempt's sequence.
func TestRestartKeepsData(t *testing.T) {
	requireBinary(t)
	dataDir := t.TempDir()
	labels := []attribute.KeyValue{
		attribute.String("agentlightning.rollout_id", "ro-e2e-restart"),
		attribute.String("agentlightning.attempt_id", "at-e2e-restart"),
	}

	first := startCollector(t, dataDir)
	run1 := sendAgentRun(t, newHTTPExporter(t, first), labels...)
	waitForSpans(t, first, "ro-e2e-restart", "at-e2e-restart", len(run1.names))
	first.stop(t)

	if _, err := os.Stat(filepath.Join(dataDir, "lightning.db")); err != nil {
		t.Fatalf("the SQLite database is not where LIGHTNING_DATA_DIR says: %v", err)
	}

	second := startCollector(t, dataDir)
	requireRunningRollout(t, second, "ro-e2e-restart", "at-e2e-restart")
	spans, _ := querySpans(t, second, "ro-e2e-restart", "at-e2e-restart")
	if spans.Total != len(run1.names) {
		t.Fatalf("after restart: %d spans, want %d", spans.Total, len(run1.names))
	}
	requireSequence(t, spans.Items, run1.names)

	run2 := sendAgentRun(t, newGRPCExporter(t, second), labels...)
	all := waitForSpans(t, second, "ro-e2e-restart", "at-e2e-restart", len(run1.names)+len(run2.names))
	requireSequence(t, all, slices.Concat(run1.names, run2.names))
}

// TestMalformedOTLPIsRejected posts bodies that are not OTLP and expects a 400
// for each, with the collector still serving afterwards.
func TestMalformedOTLPIsRejected(t *testing.T) {
	requireBinary(t)
	c := startCollector(t, t.TempDir())

	tests := []struct {
		name        string
		contentType string
		body        []byte
	}{
		{name: "garbage protobuf", contentType: "application/x-protobuf", body: []byte("this is not a protobuf message")},
		{name: "truncated protobuf", contentType: "application/x-protobuf", body: []byte{0x0a, 0x10, 0x0a}},
		{name: "garbage JSON", contentType: "application/json", body: []byte(`{"resourceSpans": [ {"scopeSpans": `)},
		{name: "JSON of the wrong shape", contentType: "application/json", body: []byte(`{"resourceSpans": "nope"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, resp := post(t, c.otlpHTTP("/v1/traces"), tt.contentType, tt.body)
			if status != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %s", status, resp)
			}
			if !c.running() {
				t.Fatal("collector exited")
			}
		})
	}

	if !httpOK("http://" + c.HealthAddr + "/") {
		t.Error("health check fails after malformed requests")
	}
	status, resp := post(t, c.otlpHTTP("/v1/traces"), "application/json", readmeTraceBody(t))
	if status != http.StatusOK {
		t.Fatalf("valid request after malformed ones: status %d: %s", status, resp)
	}
	waitForSpans(t, c, readmeRolloutID, readmeAttemptID, 1)
}

// TestComponentsSubcommand checks that our components are compiled in.
func TestComponentsSubcommand(t *testing.T) {
	requireBinary(t)
	out, err := exec.Command(binary, "components").Output()
	if err != nil {
		t.Fatalf("components: %v", err)
	}
	type entry struct {
		Name   string `yaml:"name"`
		Module string `yaml:"module"`
	}
	var listed struct {
		Receivers  []entry `yaml:"receivers"`
		Processors []entry `yaml:"processors"`
		Exporters  []entry `yaml:"exporters"`
		Extensions []entry `yaml:"extensions"`
		Connectors []entry `yaml:"connectors"`
	}
	if err := yaml.Unmarshal(out, &listed); err != nil {
		t.Fatalf("parse components output: %v\n%s", err, out)
	}
	names := func(es []entry) []string {
		var n []string
		for _, e := range es {
			n = append(n, e.Name)
		}
		return n
	}
	for _, want := range []struct {
		kind string
		got  []entry
		name string
	}{
		{"receiver", listed.Receivers, "otlp"},
		{"processor", listed.Processors, "memory_limiter"},
		{"processor", listed.Processors, "batch"},
		{"exporter", listed.Exporters, "lightningstore"},
		{"exporter", listed.Exporters, "debug"},
		{"extension", listed.Extensions, "lightningstore"},
		{"extension", listed.Extensions, "trainer"},
		{"receiver", listed.Receivers, "lightningstore"},
		{"receiver", listed.Receivers, "llmproxy"},
		{"extension", listed.Extensions, "health_check"},
		{"extension", listed.Extensions, "file_storage"},
		{"connector", listed.Connectors, "forward"},
	} {
		if !slices.Contains(names(want.got), want.name) {
			t.Errorf("%s %q not listed; have %v", want.kind, want.name, names(want.got))
		}
	}
}

// TestValidateDefaultConfig runs `validate` on config/collector.yaml.
func TestValidateDefaultConfig(t *testing.T) {
	requireBinary(t)
	cmd := exec.Command(binary, "validate", "--config", filepath.Join(configDir, "collector.yaml"))
	cmd.Env = append(cmd.Environ(), "LIGHTNING_DATA_DIR="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("validate config/collector.yaml: %v\n%s", err, out.String())
	}
}
