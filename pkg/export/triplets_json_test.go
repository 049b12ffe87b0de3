package export

import (
	"encoding/json"
	"testing"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// AppendJSON must give the bytes json.Marshal gives for the documents the
// store keeps (compact, valid JSON), whatever the ids and reward hold.
func TestTripletLineAppendJSONMatchesMarshal(t *testing.T) {
	reward := 0.125
	tiny := 1e-21
	for _, l := range []TripletLine{
		{RolloutID: "ro-1", AttemptID: "at-1", Index: 3, Revision: 2, SpanID: "abc",
			Prompt:   json.RawMessage(`{"token_ids":[1,2],"messages":[{"role":"user","content":"<b>\"hi\"</b> \u2028"}]}`),
			Response: json.RawMessage(`{"token_ids":[]}`), Reward: &reward, Metadata: json.RawMessage(`{"agent_name":"a"}`)},
		{RolloutID: "ro-\"quoted\"\n<&>", AttemptID: "at-é", SpanID: "", Reward: &tiny},
		{RolloutID: "ro-2", AttemptID: "at-2", Prompt: json.RawMessage(`null`)},
	} {
		want, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		// The store keeps its documents as json.Marshal wrote them.
		stored := func(raw json.RawMessage) json.RawMessage {
			b, err := json.Marshal(model.RawOrNull(raw))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		l.Prompt, l.Response, l.Metadata = stored(l.Prompt), stored(l.Response), stored(l.Metadata)
		if got := string(l.AppendJSON(nil)); got != string(want) {
			t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
		}
	}
}
