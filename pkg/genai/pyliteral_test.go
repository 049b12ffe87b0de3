package genai

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePythonLiteral(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`None`, nil},
		{`True`, true},
		{`False`, false},
		{`42`, int64(42)},
		{`-7`, int64(-7)},
		{`+3`, int64(3)},
		{`1_000`, int64(1000)},
		{`0x1F`, int64(31)},
		{`0o17`, int64(15)},
		{`0b101`, int64(5)},
		{`123456789012345678901234567890`, json.Number("123456789012345678901234567890")},
		{`-123456789012345678901234567890`, json.Number("-123456789012345678901234567890")},
		{`-9223372036854775808`, int64(-9223372036854775808)},
		{`1.5`, 1.5},
		{`-0.0002`, -0.0002},
		{`1e-05`, 1e-05},
		{`2.5E+3`, 2500.0},
		{`.5`, 0.5},
		{`inf`, "Infinity"},
		{`-inf`, "-Infinity"},
		{`nan`, "NaN"},
		{`'single'`, "single"},
		{`"double"`, "double"},
		{`'it\'s'`, "it's"},
		{`"it's"`, "it's"},
		{`'say "hi"'`, `say "hi"`},
		{`'a\nb\tc\\d'`, "a\nb\tc\\d"},
		{`'\x41\u00e9\U0001F600'`, "Aé😀"},
		{`'\101'`, "A"},
		{`'\d stays'`, `\d stays`},
		{`'''tri'ple'''`, "tri'ple"},
		{`"""multi
line"""`, "multi\nline"},
		{`r'\n raw'`, `\n raw`},
		{`b'bytes\x41'`, "bytesA"},
		{`u'unicode'`, "unicode"},
		{`'con' 'cat'`, "concat"},
		{`'é direct'`, "é direct"},
		{`[]`, []any{}},
		{`[1, 'a', None]`, []any{int64(1), "a", nil}},
		{`[1, 2,]`, []any{int64(1), int64(2)}},
		{`()`, []any{}},
		{`(1,)`, []any{int64(1)}},
		{`(1)`, int64(1)},
		{`(1, 2)`, []any{int64(1), int64(2)}},
		{`{}`, map[string]any{}},
		{`{'a': 1, "b": [True, False]}`, map[string]any{"a": int64(1), "b": []any{true, false}}},
		{`{1: 'one', None: 'none', True: 't', 2.5: 'f'}`, map[string]any{"1": "one", "None": "none", "True": "t", "2.5": "f"}},
		{`{1, 2}`, []any{int64(1), int64(2)}},
		{`{'x-rollout-id': 'ro-1', 'x-attempt-id': 'at-1', 'x-sequence-id': '3'}`,
			map[string]any{"x-rollout-id": "ro-1", "x-attempt-id": "at-1", "x-sequence-id": "3"}},
		{`Message(content='4', role='assistant', tool_calls=None)`, map[string]any{"content": "4", "role": "assistant", "tool_calls": nil}},
		{`litellm.types.utils.Usage(prompt_tokens=5)`, map[string]any{"prompt_tokens": int64(5)}},
		{"  [ 1 ,\n 2 ]  ", []any{int64(1), int64(2)}},
		{`[[19, 151645]]`, []any{[]any{int64(19), int64(151645)}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePythonLiteral(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParsePythonLiteralErrors(t *testing.T) {
	for _, in := range []string{
		``, `[`, `[1,`, `{'a' 1}`, `{'a': }`, `'unterminated`, "'new\nline'", `[1 2]`, `foo`, `f(1)`,
		`1j`, `{[1]: 2}`, `- 'x'`, `+None`, `0xZZ`, `'\x4'`, `'\N{DASH}'`, `1 2`, `{'a': 1, 2}`, `{1, 'a': 2}`,
		strings.Repeat("[", 200) + strings.Repeat("]", 200),
		strings.Repeat("-", 500) + "1",
	} {
		t.Run(in[:min(len(in), 20)], func(t *testing.T) {
			_, err := ParsePythonLiteral(in)
			assert.Error(t, err)
		})
	}
}

func TestParsePythonLiteralInvalidUTF8IsRepaired(t *testing.T) {
	got, err := ParsePythonLiteral("'a\xffb'")
	require.NoError(t, err)
	assert.Equal(t, "a\uFFFDb", got)
	got, err = ParsePythonLiteral(`b'\xff'`)
	require.NoError(t, err)
	assert.Equal(t, "\uFFFD", got)
}

func FuzzParsePythonLiteral(f *testing.F) {
	for _, seed := range []string{
		`{'x-rollout-id': 'ro-1', 'x-sequence-id': '3'}`,
		`[{'index': 0, 'token_ids': [19, 151645], 'message': {'role': 'assistant', 'content': None}}]`,
		`[[1, 2], (3,), {4}]`,
		`Message(content='4', role="assistant", extra={'a': -1.5e-3})`,
		`'\x41\u00e9\U0001F600\101\
'`,
		`b'\xff' r'\n' u'x' '''t''' """q"""`,
		`-inf`, `0x1F`, `123456789012345678901234567890`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParsePythonLiteral(s)
		if err != nil {
			return
		}
		// Every result encodes as JSON (valid UTF-8, string keys, no NaN).
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("result of %q does not encode: %v", s, err)
		}
	})
}
