package tripletspan

import (
	"encoding/json"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

func TestWriteReadRoundTrip(t *testing.T) {
	in := Record{Index: 2, Count: 3, Revision: 4, Triplet: model.Triplet{
		Prompt:   json.RawMessage(`{"token_ids":[1,2],"raw_content":null}`),
		Response: json.RawMessage(`{"token_ids":[3]}`),
		Reward:   model.Ptr(0.5),
		Metadata: json.RawMessage(`{"response_id":"r-1","agent_name":"solver"}`),
	}}
	m := pcommon.NewMap()
	Write(m, in)
	out, err := Read(m)
	if err != nil {
		t.Fatal(err)
	}
	if out.Index != 2 || out.Count != 3 || out.Revision != 4 || *out.Triplet.Reward != 0.5 || string(out.Triplet.Prompt) != string(in.Triplet.Prompt) {
		t.Fatalf("round trip: %+v", out)
	}
	if v, _ := m.Get(AttrAgentName); v.Str() != "solver" {
		t.Fatal("agent name attribute")
	}
	if v, _ := m.Get(AttrPromptTokenIDs); v.Slice().Len() != 2 {
		t.Fatal("prompt token ids attribute")
	}
	if v, _ := m.Get(AttrResponseID); v.Str() != "r-1" {
		t.Fatal("response id attribute")
	}
}

func TestReadRejectsBrokenSpans(t *testing.T) {
	m := pcommon.NewMap()
	if _, err := Read(m); err == nil {
		t.Fatal("empty map accepted")
	}
	Write(m, Record{Triplet: model.Triplet{Prompt: json.RawMessage(`{}`), Response: json.RawMessage(`{}`), Metadata: json.RawMessage(`{}`)}})
	m.PutStr(AttrPrompt, "{not json")
	if _, err := Read(m); err == nil {
		t.Fatal("invalid JSON accepted")
	}
	m.PutStr(AttrPrompt, "{}")
	m.PutInt(AttrIndex, -1)
	if _, err := Read(m); err == nil {
		t.Fatal("negative index accepted")
	}
}
