package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

// fixture fills an in-memory store. Every rollout starts one second after
// the previous one (start_time 1000, 1001, ...).
type fixture struct {
	t  *testing.T
	st *store.Core
	at time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, at: time.Unix(999, 0)}
	f.st = store.New(memstore.New(), store.Options{Clock: func() time.Time { return f.at }})
	t.Cleanup(func() { require.NoError(t, f.st.Close()) })
	return f
}

type rolloutSpec struct {
	mode      model.RolloutMode
	resources string
	status    model.RolloutStatus
}

// rollout starts a rollout with one attempt and returns the ids.
func (f *fixture) rollout(spec rolloutSpec) (string, string) {
	f.t.Helper()
	f.at = f.at.Add(time.Second)
	req := store.StartRolloutRequest{Input: json.RawMessage(`{"task":"2+2"}`)}
	if spec.mode != "" {
		req.Mode = model.Ptr(spec.mode)
	}
	if spec.resources != "" {
		req.ResourcesID = model.Ptr(spec.resources)
	}
	r, err := f.st.StartRollout(context.Background(), req)
	require.NoError(f.t, err)
	if spec.status != "" {
		_, err = f.st.UpdateRollout(context.Background(), r.RolloutID, store.RolloutUpdate{Status: store.To(spec.status)})
		require.NoError(f.t, err)
	}
	return r.RolloutID, r.Attempt.AttemptID
}

func (f *fixture) retry(rolloutID string) string {
	f.t.Helper()
	r, err := f.st.StartAttempt(context.Background(), rolloutID, nil)
	require.NoError(f.t, err)
	return r.Attempt.AttemptID
}

// call is an LLM call stored as a message record and, when it has token
// ids, as a triplet.
type call struct {
	span     string
	body     string
	reward   *float64
	prompt   []int64
	response []int64
	logprobs string // raw JSON of the triplet's response.logprobs
}

func (f *fixture) messages(rollout, attempt string, calls ...call) {
	f.t.Helper()
	var recs []model.MessageRecord
	for i, c := range calls {
		attrs := map[string]any{"agentlightning.rollout_id": rollout}
		if c.reward != nil {
			attrs["agentlightning.reward.0.name"] = "primary"
			attrs["agentlightning.reward.0.value"] = *c.reward
		}
		if c.prompt != nil {
			attrs["agentlightning.prompt_token_ids"] = c.prompt
			attrs["agentlightning.response_token_ids"] = c.response
		}
		a, err := json.Marshal(attrs)
		require.NoError(f.t, err)
		recs = append(recs, model.MessageRecord{
			RolloutID: rollout, AttemptID: attempt, SpanID: c.span, TraceID: "t", SequenceID: i + 1,
			Body: json.RawMessage(c.body), Attributes: a,
		})
	}
	require.NoError(f.t, f.st.AddMessages(context.Background(), recs))
}

func (f *fixture) triplets(rollout, attempt string, calls ...call) {
	f.t.Helper()
	var recs []model.TripletRecord
	for i, c := range calls {
		resp := map[string]any{"token_ids": c.response}
		if c.logprobs != "" {
			resp["logprobs"] = json.RawMessage(c.logprobs)
		}
		p, _ := json.Marshal(map[string]any{"token_ids": c.prompt})
		r, _ := json.Marshal(resp)
		recs = append(recs, model.TripletRecord{
			RolloutID: rollout, AttemptID: attempt, Index: i, SpanID: c.span,
			Triplet: model.Triplet{Prompt: p, Response: r, Reward: c.reward, Metadata: json.RawMessage(`{"agent_name":"solver"}`)},
		})
	}
	require.NoError(f.t, f.st.ReplaceTriplets(context.Background(), rollout, attempt, 1, recs))
}

func (f *fixture) export(opts Options) ([]json.RawMessage, Summary) {
	f.t.Helper()
	var buf bytes.Buffer
	sum, err := Write(context.Background(), f.st, &buf, opts)
	require.NoError(f.t, err)
	return splitLines(f.t, buf.Bytes()), sum
}

func splitLines(t *testing.T, b []byte) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		require.True(t, json.Valid(sc.Bytes()), "line %q", sc.Text())
		out = append(out, append(json.RawMessage{}, sc.Bytes()...))
	}
	require.NoError(t, sc.Err())
	return out
}

// A two-call tool conversation: the weather call, then the answer.
const (
	bodyToolCall = `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Paris?"}],
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}],
		"completion":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}],"reasoning_content":"I need the tool.","finish_reason":"tool_calls"}}`
	bodyAnswer = `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Paris?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}],"reasoning_content":"I need the tool."},
		{"role":"tool","content":"rainy, 57°F","tool_call_id":"call_1"}],
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}],
		"completion":{"role":"assistant","content":"Rainy, 57°F.","finish_reason":"stop"}}`
	bodyGrader   = `{"messages":[{"role":"user","content":"Grade: Rainy, 57°F."}],"tools":null,"completion":{"role":"assistant","content":"1"}}`
	bodyNoOutput = `{"messages":[{"role":"user","content":"Hi"}],"tools":null,"completion":null}`
)

func TestSFTConversation(t *testing.T) {
	f := newFixture(t)
	r1, a1 := f.rollout(rolloutSpec{status: model.RolloutSucceeded})
	f.messages(r1, a1, call{span: "s1", body: bodyToolCall}, call{span: "s2", body: bodyAnswer})
	r2, a2 := f.rollout(rolloutSpec{})
	f.messages(r2, a2, call{span: "s3", body: bodyNoOutput})
	f.rollout(rolloutSpec{}) // no messages

	lines, sum := f.export(Options{Format: FormatSFT})
	require.Len(t, lines, 1)
	require.NoError(t, CheckSFTLine(lines[0]))
	assert.JSONEq(t, `{"messages":[
		{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Paris?"},
		{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
		{"role":"tool","content":"rainy, 57°F","tool_call_id":"call_1"},
		{"role":"assistant","content":"Rainy, 57°F."}],
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}]}`,
		string(lines[0]))
	assert.Equal(t, Summary{Format: FormatSFT, Lines: 1, Rollouts: 3, Attempts: 3, AttemptsWithoutData: 1, CallsWithoutCompletion: 1}, sum)
}

func TestSFTPerCall(t *testing.T) {
	f := newFixture(t)
	r, a := f.rollout(rolloutSpec{})
	// s2 was stored twice (a replayed batch): it is exported once.
	f.messages(r, a, call{span: "s1", body: bodyToolCall}, call{span: "s2", body: bodyAnswer}, call{span: "s2", body: bodyAnswer})
	lines, sum := f.export(Options{Format: FormatSFT, Granularity: GranularityCall})
	require.Len(t, lines, 2)
	for _, l := range lines {
		require.NoError(t, CheckSFTLine(l))
	}
	var first sftLine
	require.NoError(t, json.Unmarshal(lines[0], &first))
	last := first.Messages[len(first.Messages)-1]
	assert.Equal(t, "assistant", last.Role)
	assert.Nil(t, last.Content, "a tool-calling completion has no content")
	assert.NotContains(t, string(lines[0]), "reasoning_content")
	assert.NotContains(t, string(lines[0]), "finish_reason")
	assert.Equal(t, 2, sum.Lines)
}

// With triplets, the conversation ends at the last triplet's call: an LLM
// grader called inside the reward span afterwards is not the agent's turn.
func TestSFTConversationEndsAtTheLastTriplet(t *testing.T) {
	f := newFixture(t)
	r, a := f.rollout(rolloutSpec{})
	f.messages(r, a, call{span: "s1", body: bodyToolCall}, call{span: "s2", body: bodyAnswer}, call{span: "grader", body: bodyGrader})
	f.triplets(r, a, call{span: "s1"}, call{span: "s2", reward: model.Ptr(1.0)})
	lines, _ := f.export(Options{Format: FormatSFT})
	require.Len(t, lines, 1)
	assert.Contains(t, string(lines[0]), "Rainy, 57°F.")
	assert.NotContains(t, string(lines[0]), "Grade")
}

func TestFilters(t *testing.T) {
	f := newFixture(t)
	var all []string
	add := func(spec rolloutSpec, reward *float64) string {
		r, a := f.rollout(spec)
		f.messages(r, a, call{span: "s-" + r, body: bodyAnswer})
		f.triplets(r, a, call{span: "s-" + r, prompt: ids(1), response: ids(2), reward: reward})
		all = append(all, r)
		return r
	}
	train := add(rolloutSpec{mode: model.ModeTrain, resources: "rs-1", status: model.RolloutSucceeded}, model.Ptr(1.0)) // t=1000
	val := add(rolloutSpec{mode: model.ModeVal, resources: "rs-1", status: model.RolloutFailed}, model.Ptr(0.0))        // t=1001
	late := add(rolloutSpec{mode: model.ModeTrain, resources: "rs-2", status: model.RolloutSucceeded}, nil)             // t=1002

	rolloutsOf := func(opts Options) []string {
		t.Helper()
		opts.Format = FormatTriplets
		lines, _ := f.export(opts)
		var out []string
		for _, l := range lines {
			var tl TripletLine
			require.NoError(t, json.Unmarshal(l, &tl))
			out = append(out, tl.RolloutID)
		}
		return out
	}
	assert.Equal(t, all, rolloutsOf(Options{}))
	assert.Equal(t, []string{train, late}, rolloutsOf(Options{Filter: Filter{Statuses: []model.RolloutStatus{model.RolloutSucceeded}}}))
	assert.Equal(t, []string{val}, rolloutsOf(Options{Filter: Filter{Modes: []model.RolloutMode{model.ModeVal}}}))
	assert.Equal(t, []string{train, val}, rolloutsOf(Options{Filter: Filter{ResourcesID: model.Ptr("rs-1")}}))
	assert.Equal(t, []string{val, late}, rolloutsOf(Options{Filter: Filter{StartedAfter: model.Ptr(1001.0)}}))
	assert.Equal(t, []string{train}, rolloutsOf(Options{Filter: Filter{StartedBefore: model.Ptr(1001.0)}}))
	assert.Equal(t, []string{late}, rolloutsOf(Options{Filter: Filter{RolloutIDs: []string{late}}}))

	var buf bytes.Buffer
	sum, err := Write(context.Background(), f.st, &buf, Options{Format: FormatTriplets, Filter: Filter{MinReward: model.Ptr(0.5)}})
	require.NoError(t, err)
	assert.Equal(t, []string{train}, rolloutsOf(Options{Filter: Filter{MinReward: model.Ptr(0.5)}}))
	assert.Equal(t, 1, sum.AttemptsBelowMinReward)
	assert.Equal(t, 1, sum.AttemptsWithoutReward)
}

func TestAttemptsAll(t *testing.T) {
	f := newFixture(t)
	r, a1 := f.rollout(rolloutSpec{})
	f.triplets(r, a1, call{span: "x", prompt: ids(1), response: ids(2)})
	a2 := f.retry(r)
	f.triplets(r, a2, call{span: "y", prompt: ids(1), response: ids(3)})

	lines, _ := f.export(Options{Format: FormatTriplets})
	require.Len(t, lines, 1)
	assert.Contains(t, string(lines[0]), a2, "the latest attempt by default")
	lines, sum := f.export(Options{Format: FormatTriplets, Attempts: AttemptsAll})
	require.Len(t, lines, 2)
	assert.Equal(t, 2, sum.Attempts)
}

func TestTripletsMatchTheStore(t *testing.T) {
	f := newFixture(t)
	r, a := f.rollout(rolloutSpec{})
	f.triplets(r, a, call{span: "s1", prompt: ids(1, 2), response: ids(3), reward: model.Ptr(0.5)}, call{span: "s2", prompt: ids(1, 2, 3, 4), response: ids(5)})
	lines, _ := f.export(Options{Format: FormatTriplets})
	stored, err := f.st.QueryTriplets(context.Background(), r, a)
	require.NoError(t, err)
	require.Len(t, lines, len(stored))
	for i, rec := range stored {
		want, err := json.Marshal(NewTripletLine(rec))
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(lines[i]))
	}
}

func TestTrajectories(t *testing.T) {
	f := newFixture(t)
	r, a := f.rollout(rolloutSpec{mode: model.ModeTrain})
	f.triplets(r, a,
		call{span: "s1", prompt: ids(1, 2), response: ids(3, 4), logprobs: `[{"token":"a","logprob":-0.5},{"token":"b","logprob":-0.25}]`},
		call{span: "s2", prompt: ids(1, 2, 3, 4, 7), response: ids(8), logprobs: `[{"token":"c","logprob":-1}]`, reward: model.Ptr(0.75)},
		call{span: "s3"}, // the model server returned no token ids
		call{span: "s4", prompt: ids(9), response: ids(10)},
	)
	lines, sum := f.export(Options{Format: FormatTrajectories})
	require.Len(t, lines, 2)
	var rows []TrajectoryLine
	for _, l := range lines {
		var row TrajectoryLine
		require.NoError(t, json.Unmarshal(l, &row))
		rows = append(rows, row)
	}
	assert.Equal(t, TrajectoryLine{
		RolloutID: r, AttemptID: a, Row: 0, Mode: model.Ptr(model.ModeTrain), Input: json.RawMessage(`{"task":"2+2"}`),
		SpanIDs: []string{"s1", "s2"}, NumTurns: 2,
		PromptIDs: ids(1, 2), ResponseIDs: ids(3, 4, 7, 8), LossMask: []int{1, 1, 0, 1},
		Logprobs: []float64{-0.5, -0.25, 0, -1}, Reward: model.Ptr(0.75), TurnRewards: []*float64{nil, model.Ptr(0.75)},
	}, rows[0])
	assert.Equal(t, 1, rows[1].Row)
	assert.Equal(t, []string{"s4"}, rows[1].SpanIDs)
	assert.Nil(t, rows[1].Logprobs)
	assert.Equal(t, model.Ptr(0.75), rows[1].Reward, "every row carries the attempt's reward")
	assert.Equal(t, 1, sum.CallsWithoutTokenIDs)
	assert.Equal(t, []string{"s3"}, sum.SpansWithoutTokenIDs)
}

// Without triplets (no triplet processor), token ids come from message
// records written with include_token_ids.
func TestTrajectoriesFromMessages(t *testing.T) {
	f := newFixture(t)
	r, a := f.rollout(rolloutSpec{})
	f.messages(r, a,
		call{span: "s1", body: bodyToolCall, prompt: ids(1), response: ids(2)},
		call{span: "s2", body: bodyAnswer, prompt: ids(1, 2, 3), response: ids(4), reward: model.Ptr(1.0)},
		call{span: "s3", body: bodyGrader},
	)
	lines, sum := f.export(Options{Format: FormatTrajectories})
	require.Len(t, lines, 1)
	var row TrajectoryLine
	require.NoError(t, json.Unmarshal(lines[0], &row))
	assert.Equal(t, ids(2, 3, 4), row.ResponseIDs)
	assert.Equal(t, []int{1, 0, 1}, row.LossMask)
	assert.Equal(t, model.Ptr(1.0), row.Reward)
	assert.Equal(t, 1, sum.CallsWithoutTokenIDs)
}

func TestPagination(t *testing.T) {
	f := newFixture(t)
	var want []string
	for range 7 {
		r, a := f.rollout(rolloutSpec{})
		f.triplets(r, a, call{span: r, prompt: ids(1), response: ids(2)})
		want = append(want, r)
	}
	var buf bytes.Buffer
	sum, err := Write(context.Background(), f.st, &buf, Options{Format: FormatTriplets, PageSize: 3})
	require.NoError(t, err)
	var got []string
	for _, l := range splitLines(t, buf.Bytes()) {
		var tl TripletLine
		require.NoError(t, json.Unmarshal(l, &tl))
		got = append(got, tl.RolloutID)
	}
	assert.Equal(t, want, got)
	assert.Equal(t, 7, sum.Rollouts)
}

func TestInvalidOptions(t *testing.T) {
	f := newFixture(t)
	_, err := Write(context.Background(), f.st, &bytes.Buffer{}, Options{
		Format: "csv", Attempts: "some", Granularity: "word",
		Filter: Filter{Statuses: []model.RolloutStatus{"done"}, Modes: []model.RolloutMode{"prod"}},
	})
	var invalid *store.InvalidArgumentError
	require.ErrorAs(t, err, &invalid)
	for _, field := range []string{"format", "attempts", "granularity", "status", "mode"} {
		assert.Contains(t, invalid.Message, field)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorStops(t *testing.T) {
	f := newFixture(t)
	r, a := f.rollout(rolloutSpec{})
	f.triplets(r, a, call{span: "s", prompt: ids(1), response: ids(2)})
	_, err := Write(context.Background(), f.st, failingWriter{}, Options{Format: FormatTriplets})
	assert.ErrorContains(t, err, "disk full")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Write(ctx, f.st, &bytes.Buffer{}, Options{Format: FormatTriplets})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestCheckSFTLine(t *testing.T) {
	ok := `{"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]},` +
		`{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"c1","content":"r"},{"role":"assistant","content":"done"}],` +
		`"tools":[{"type":"function","function":{"name":"f"}}]}`
	require.NoError(t, CheckSFTLine([]byte(ok)))
	bad := map[string]string{
		"not an object":         `[1]`,
		"unexpected key":        `{"messages":[{"role":"assistant","content":"x"}],"rollout_id":"r"}`,
		"no messages":           `{"messages":[]}`,
		"bad role":              `{"messages":[{"role":"bot","content":"x"}]}`,
		"last is not assistant": `{"messages":[{"role":"user","content":"x"}]}`,
		"object arguments":      `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{}}}]}]}`,
		"unpaired tool result":  `{"messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"c9","content":"r"},{"role":"assistant","content":"y"}]}`,
		"missing content":       `{"messages":[{"role":"user"},{"role":"assistant","content":"y"}]}`,
		"late system":           `{"messages":[{"role":"user","content":"x"},{"role":"system","content":"s"},{"role":"assistant","content":"y"}]}`,
		"extra message key":     `{"messages":[{"role":"assistant","content":"y","reasoning_content":"r"}]}`,
		"bad tools":             `{"messages":[{"role":"assistant","content":"y"}],"tools":[{"type":"function"}]}`,
	}
	for name, line := range bad {
		assert.Error(t, CheckSFTLine([]byte(line)), name)
	}
}
