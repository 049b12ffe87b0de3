package llmproxyreceiver

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
)

func TestEditObjectKeepsBytes(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"a":1,"drop":[1,{"x":"}"}],"b":"s"}`, `{"a":1,"b":"s"}`},
		{`{ "drop" : 1 , "a" : "x\"y" }`, `{ "a" : "x\"y" }`},
		{`{"a": 1, "drop": 2}`, `{"a": 1}`},
		{`{"drop":null}`, `{}`},
		{`{}`, `{}`},
		{`{"a":{"drop":1},"b":[]}`, `{"a":{"drop":1},"b":[]}`},
		{`{"dr\u006fp":1,"a":2}`, `{"a":2}`},
	}
	for _, tc := range cases {
		out, err := editObject([]byte(tc.in), func(key string, _ []byte) ([]byte, bool) { return nil, key != "drop" })
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, string(out))
		assert.True(t, json.Valid(out), string(out))
	}
}

func TestSetMembersAndEditArray(t *testing.T) {
	out, err := setMembers([]byte(`{"model":"m", "stream":true}`), keyValue{"stream", jsonTrue}, keyValue{"return_token_ids", jsonTrue})
	require.NoError(t, err)
	assert.Equal(t, `{"model":"m", "stream":true,"return_token_ids":true}`, string(out))
	out, err = setMembers([]byte(`{}`), keyValue{"a", jsonNull})
	require.NoError(t, err)
	assert.Equal(t, `{"a":null}`, string(out))

	arr, err := editArray([]byte(`[1, {"k":2} ,"]"]`), func(i int, _ []byte) []byte {
		if i == 1 {
			return []byte(`0`)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, `[1, 0 ,"]"]`, string(arr))
}

func TestEditRejectsMalformed(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"a"}`, `{"a":}`, `{"a":1`, `{"a":"x}`, `{"a":1 "b":2}`} {
		_, err := editObject([]byte(in), func(string, []byte) ([]byte, bool) { return nil, true })
		assert.Error(t, err, in)
	}
}

func TestStripRestoresWhatVLLMSendsWithoutTheFlags(t *testing.T) {
	p := plan{api: apiChat, tokenIDs: true, logprobs: true}
	out, drop := p.strip([]byte(`{"id":"x","choices":[{"index":0,"logprobs":{"content":[]},"token_ids":[1]}],"prompt_token_ids":[5]}`))
	assert.False(t, drop)
	assert.Equal(t, `{"id":"x","choices":[{"index":0,"logprobs":null,"token_ids":null}],"prompt_token_ids":null}`, string(out))

	s := plan{api: apiChat, stream: true, tokenIDs: true, usage: true}
	out, drop = s.strip([]byte(`{"choices":[{"index":0,"delta":{"content":"a"},"token_ids":[1]}],"prompt_token_ids":[5]}`))
	assert.False(t, drop)
	assert.Equal(t, `{"choices":[{"index":0,"delta":{"content":"a"}}]}`, string(out))
	_, drop = s.strip([]byte(`{"choices":[],"usage":{"prompt_tokens":1}}`))
	assert.True(t, drop, "the usage chunk the proxy asked for")
	_, drop = s.strip([]byte(`{"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":null,"token_ids":[7]}]}`))
	assert.True(t, drop, "an id-only chunk vLLM sends while a parser holds text back")

	sg := plan{api: apiChat, stream: true, sglext: true}
	_, drop = sg.strip([]byte(`{"choices":[],"sglext":{"input_ids":[1],"output_ids":[[2]]}}`))
	assert.True(t, drop)
}

func TestSGLangStreamedChatIdsFromSglext(t *testing.T) {
	a := newAssembler()
	for _, chunk := range []string{
		`{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"}}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
		`{"id":"c","choices":[],"sglext":{"input_ids":[1,2],"output_ids":[[3,4]]}}`,
	} {
		var w wireObject
		require.NoError(t, json.Unmarshal([]byte(chunk), &w))
		a.add(&w)
	}
	assert.Equal(t, []int64{1, 2}, a.prompt())
	assert.Equal(t, []int64{3, 4}, a.sortedChoices()[0].tokenIDs)

	// SGLang's non-streamed chat names the completion ids response_token_ids.
	var w wireObject
	require.NoError(t, json.Unmarshal([]byte(`{"choices":[{"index":0,"message":{"content":"x"},"prompt_token_ids":[9],"response_token_ids":[8]}]}`), &w))
	b := newAssembler()
	b.add(&w)
	assert.Equal(t, []int64{9}, b.prompt())
	assert.Equal(t, []int64{8}, b.sortedChoices()[0].tokenIDs)
}

func TestPrepareRequestPerKind(t *testing.T) {
	req := `{"model":"m","messages":[],"stream":true}`
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(req), &top))
	out, p := prepareRequest(apiChat, KindSGLang, ModeTrain, []byte(req), top)
	assert.JSONEq(t, `{"model":"m","messages":[],"stream":true,"return_input_ids":true,"return_output_ids":true,"logprobs":true,"stream_options":{"include_usage":true}}`, string(out))
	assert.True(t, p.sglext && p.logprobs && p.usage && !p.tokenIDs)

	out, p = prepareRequest(apiCompletions, KindVLLM, ModeVal, []byte(`{"prompt":"x","logprobs":2,"stream_options":{"continuous_usage_stats":true},"stream":true}`),
		map[string]json.RawMessage{"prompt": []byte(`"x"`), "logprobs": []byte(`2`), "stream": jsonTrue, "stream_options": []byte(`{"continuous_usage_stats":true}`)})
	assert.Equal(t, `{"prompt":"x","logprobs":2,"stream_options":{"continuous_usage_stats":true,"include_usage":true},"stream":true,"return_token_ids":true}`, string(out))
	assert.False(t, p.logprobs, "the client asked for log-probs itself")
}

func FuzzStrip(f *testing.F) {
	f.Add([]byte(`{"choices":[{"index":0,"delta":{},"token_ids":[1]}],"prompt_token_ids":[1],"usage":null}`))
	f.Add([]byte(`{"a": [1, "x\\"]"], "b" : {"c":{}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		same, err := editObject(b, func(string, []byte) ([]byte, bool) { return nil, true })
		if err == nil && string(same) != string(b) {
			t.Fatalf("an edit that keeps everything changed %q into %q", b, same)
		}
		p := plan{api: apiChat, stream: true, tokenIDs: true, logprobs: true, usage: true, sglext: true}
		out, drop := p.strip(b)
		if !drop && json.Valid(b) && !json.Valid(out) {
			t.Fatalf("valid %q became invalid %q", b, out)
		}
	})
}

func TestStreamChunkThatIsNotJSONToGo(t *testing.T) {
	// Python's json writes -Infinity for a log-prob of -inf: the chunk
	// reaches the client stripped, and the span is marked partial.
	_, up := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(up)))
	c := &call{r: env.rcv, plan: plan{api: apiChat, stream: true, tokenIDs: true}, rec: &callRecord{}}
	asm := newAssembler()
	out, done := c.processEvent(asm, []byte(`data: {"choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[{"logprob":-Infinity}]},"token_ids":[5]}]}`+"\n"), nil)
	assert.False(t, done)
	assert.Equal(t, `data: {"choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[{"logprob":-Infinity}]}}]}`+"\n\n", string(out))
	assert.Equal(t, 1, asm.badChunks)
}
