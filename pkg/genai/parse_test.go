package genai

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// fixtureNames lists testdata/*.json fixtures (not the goldens).
func fixtureNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	var names []string
	for _, p := range paths {
		if !strings.HasSuffix(p, ".golden.json") {
			names = append(names, strings.TrimSuffix(filepath.Base(p), ".json"))
		}
	}
	require.NotEmpty(t, names)
	return names
}

// modelSpan decodes a fixture the way the store hands spans out: JSON
// attributes with json.Number values.
func modelSpan(t testing.TB, name string) model.Span {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	require.NoError(t, err)
	var f fixture
	require.NoError(t, json.Unmarshal(b, &f))
	span := model.Span{Name: f.Name}
	span.Attributes = decodeAttrs(t, f.Attributes)
	span.Resource.Attributes = decodeAttrs(t, f.Resource)
	for _, e := range f.Events {
		span.Events = append(span.Events, model.Event{Name: e.Name, Attributes: decodeAttrs(t, e.Attributes)})
	}
	return span
}

func decodeAttrs(t testing.TB, raw json.RawMessage) model.Attributes {
	t.Helper()
	out := model.Attributes{}
	if len(raw) == 0 {
		return out
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&out))
	return out
}

func TestParseSpanMatchesParse(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			l := loadFixture(t, name)
			want, wantStats := l.parse()
			var opts []Option
			if l.logEvents != nil {
				opts = append(opts, WithLogEvents(l.logEvents))
			}
			got, gotStats := ParseSpan(modelSpan(t, name), opts...)
			assert.Equal(t, wantStats.Total(), gotStats.Total())
			assert.JSONEq(t, toJSON(t, want), toJSON(t, got))
		})
	}
}

func TestEveryFixtureParsesCleanly(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			call, stats := loadFixture(t, name).parse()
			assert.Zero(t, stats.Total(), stats.Warnings)
			assert.True(t, call.HasContent())
			assert.NotEqual(t, ConventionNone, call.Convention)
		})
	}
}

func TestResourceProviderFallback(t *testing.T) {
	span := newSpan(t, "chat m", map[string]any{"gen_ai.operation.name": "chat"})
	res := newResource()
	res.Attributes().PutStr("gen_ai.system", "VLLM")
	call, _ := Parse(span, res)
	assert.Equal(t, "vllm", call.Provider)
	call, _ = ParseSpan(model.Span{Name: "chat m", Resource: model.OtelResource{Attributes: model.Attributes{"gen_ai.provider.name": "openai"}}})
	assert.Equal(t, "openai", call.Provider)
}

func TestOperationDefaults(t *testing.T) {
	call, _ := parseAttrs(t, "openai.completion", map[string]any{"llm.request.type": "completion"})
	assert.Equal(t, "text_completion", call.Operation)
	call, _ = parseAttrs(t, "ChatCompletion", map[string]any{"openinference.span.kind": "LLM"})
	assert.Equal(t, "chat", call.Operation)
	call, _ = parseAttrs(t, "tool", nil)
	assert.Empty(t, call.Operation)
}
