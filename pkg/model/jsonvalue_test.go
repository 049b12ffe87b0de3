package model

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// sameAsEncodingJSON checks that Attributes.MarshalJSON writes the bytes
// encoding/json writes for the same map.
func sameAsEncodingJSON(t *testing.T, a Attributes) {
	t.Helper()
	want, wantErr := json.Marshal(map[string]any(a))
	got, gotErr := a.MarshalJSON()
	if (wantErr != nil) != (gotErr != nil) {
		t.Fatalf("errors differ: encoding/json %v, ours %v", wantErr, gotErr)
	}
	if string(got) != string(want) {
		t.Fatalf("encoding differs:\n got %s\nwant %s", got, want)
	}
}

func TestAttributesMarshalJSONMatchesEncodingJSON(t *testing.T) {
	for _, a := range []Attributes{
		{},
		{"s": "plain", "html": "<a href=\"x\">&</a>", "ctl": "\x00\x01\b\f\n\r\t\x1f\x7f", "bad": "\xff\xfe ok \xc3",
			"sep": "a\u2028b\u2029c", "uni": "héllo 世界 🚀"},
		{"n": json.Number("42"), "neg": json.Number("-7"), "zero": json.Number("0"), "f": json.Number("0.75"),
			"e": json.Number("1e-05"), "empty": json.Number(""), "lead": json.Number("007")},
		{"b": true, "f": false, "nil": nil, "float": 1.5, "int": 3},
		{"ids": []any{json.Number("1"), json.Number("151935"), json.Number("2")}, "empty": []any{}, "nilList": []any(nil)},
		{"nested": map[string]any{"z": 1, "a": []any{map[string]any{"k": "v", "b": nil}}, "m": map[string]any(nil)}},
		{"bad number": json.Number("1x")},
	} {
		sameAsEncodingJSON(t, a)
	}
	// Random strings over a hostile alphabet.
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "<", ">", "&", "\n", "\x00", "\x1f", "\u2028", "é", "\xff", "\xe2\x80", "🚀"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		sameAsEncodingJSON(t, Attributes{sb.String(): []any{sb.String(), json.Number("12")}})
	}
}

func FuzzAttributesMarshalJSON(f *testing.F) {
	f.Add("key", "value <&> \u2028", "123")
	f.Add("", "\xff", "-0")
	f.Fuzz(func(t *testing.T, k, s, n string) {
		sameAsEncodingJSON(t, Attributes{k: s, "n": json.Number(n), "l": []any{s, map[string]any{s: k}}})
	})
}
