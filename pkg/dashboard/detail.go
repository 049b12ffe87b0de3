package dashboard

import (
	"encoding/json"
	"net/http"
	"sort"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/export"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// maxSpans bounds the spans one rollout page reads (the waterfall of a
// larger attempt says it was cut).
const maxSpans = 5000

// spanRow is one bar of the waterfall; its attributes are fetched on demand
// from the store API (the raw span).
type spanRow struct {
	SequenceID int      `json:"sequence_id"`
	TraceID    string   `json:"trace_id"`
	SpanID     string   `json:"span_id"`
	ParentID   *string  `json:"parent_id"`
	Name       string   `json:"name"`
	Status     string   `json:"status"`
	StartTime  *float64 `json:"start_time"`
	EndTime    *float64 `json:"end_time"`
	LLM        bool     `json:"llm"`
	Rule       string   `json:"rule,omitempty"`
	Reward     *float64 `json:"reward,omitempty"`
}

// callView is one LLM call as the transcript shows it.
type callView struct {
	SpanID           string             `json:"span_id"`
	SequenceID       int                `json:"sequence_id"`
	Name             string             `json:"name"`
	Convention       genai.Convention   `json:"convention"`
	Rule             string             `json:"rule"`
	Model            string             `json:"model,omitempty"`
	ResponseID       string             `json:"response_id,omitempty"`
	Chat             genai.OpenAIRecord `json:"chat"`
	Usage            genai.Usage        `json:"usage"`
	PromptTokenIDs   []int64            `json:"prompt_token_ids"`
	ResponseTokenIDs []int64            `json:"response_token_ids"`
	Logprobs         json.RawMessage    `json:"logprobs,omitempty"`
	Reward           *float64           `json:"reward"`
	Triplet          *int               `json:"triplet_index"`
	Problems         []genai.Warning    `json:"problems,omitempty"`
}

type rolloutDetail struct {
	Rollout     *model.Rollout       `json:"rollout"`
	Attempts    []model.Attempt      `json:"attempts"`
	AttemptID   string               `json:"attempt_id"`
	Spans       []spanRow            `json:"spans"`
	Truncated   bool                 `json:"truncated"`
	Calls       []callView           `json:"calls"`
	Triplets    []export.TripletLine `json:"triplets"`
	Diagnostics []Finding            `json:"diagnostics"`
}

func (s *server) rollout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("rollout_id")
	ro, err := s.store.GetRollout(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ro == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"detail":"rollout not found"}`))
		return
	}
	attempts, err := s.store.QueryAttempts(ctx, store.AttemptQuery{RolloutID: id, Page: store.AllPage()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := rolloutDetail{Rollout: ro, Attempts: attempts.Items, Calls: []callView{}, Triplets: []export.TripletLine{}, Spans: []spanRow{}}
	var attempt *model.Attempt
	want := r.URL.Query().Get("attempt_id")
	for i := range d.Attempts {
		if want == "" || d.Attempts[i].AttemptID == want {
			attempt = &d.Attempts[i] // the last one when none is asked for
		}
	}
	if attempt == nil {
		if want != "" {
			s.fail(w, r, badRequest("attempt %q not found in rollout %q", want, id))
			return
		}
		d.Diagnostics = Diagnose(Input{Rollout: ro})
		s.writeJSON(w, d)
		return
	}
	d.AttemptID = attempt.AttemptID
	in, err := s.load(r, ro, attempt)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Truncated = in.Truncated
	d.Spans, d.Calls = views(in)
	for _, t := range in.Triplets {
		d.Triplets = append(d.Triplets, export.NewTripletLine(t))
	}
	d.Diagnostics = Diagnose(in)
	s.writeJSON(w, d)
}

// load reads what the diagnosis and the page need about one attempt.
func (s *server) load(r *http.Request, ro *model.Rollout, a *model.Attempt) (Input, error) {
	ctx := r.Context()
	attemptID := a.AttemptID
	spans, err := s.store.QuerySpans(ctx, store.SpanQuery{RolloutID: ro.RolloutID, AttemptID: &attemptID,
		Page: store.Page{SortOrder: store.SortAsc, Limit: maxSpans + 1}})
	if err != nil {
		return Input{}, err
	}
	in := Input{Rollout: ro, Attempt: a, Spans: spans.Items}
	if len(in.Spans) > maxSpans {
		in.Spans, in.Truncated = in.Spans[:maxSpans], true
	}
	if in.Triplets, err = s.store.QueryTriplets(ctx, ro.RolloutID, attemptID); err != nil {
		return Input{}, err
	}
	in.parse()
	return in, nil
}

// views turns an attempt into waterfall rows and transcripts, rewards
// attached from the triplets (the triplet processor's matching), else from
// the span itself (a reward span).
func views(in Input) ([]spanRow, []callView) {
	tripletOf := map[string]int{}
	for i, t := range in.Triplets {
		tripletOf[t.SpanID] = i
	}
	rows := make([]spanRow, len(in.Spans))
	calls := []callView{}
	for i, sp := range in.Spans {
		p := in.parsed[i]
		rows[i] = spanRow{
			SequenceID: sp.SequenceID, TraceID: sp.TraceID, SpanID: sp.SpanID, ParentID: sp.ParentID, Name: sp.Name,
			Status: sp.Status.StatusCode, StartTime: sp.StartTime, EndTime: sp.EndTime,
			LLM: p.call != nil, Rule: p.rule, Reward: p.reward,
		}
		if p.call == nil {
			continue
		}
		c := p.call
		v := callView{
			SpanID: sp.SpanID, SequenceID: sp.SequenceID, Name: sp.Name, Convention: c.Convention, Rule: p.rule,
			Model: c.Model(), ResponseID: c.ResponseID, Chat: c.ToOpenAI(), Usage: c.Usage,
			PromptTokenIDs: c.PromptTokenIDs, ResponseTokenIDs: c.ResponseTokenIDs, Logprobs: c.Logprobs,
			Problems: p.stats.Warnings,
		}
		if ti, ok := tripletOf[sp.SpanID]; ok {
			idx := in.Triplets[ti].Index
			v.Triplet, v.Reward = &idx, in.Triplets[ti].Triplet.Reward
		}
		calls = append(calls, v)
	}
	return rows, calls
}

// parsedSpan is what the one GenAI parser and the reward reader make of a
// span.
type parsedSpan struct {
	call   *genai.Call // nil: not an LLM call
	rule   string
	stats  genai.Stats
	reward *float64
}

func (in *Input) parse() {
	in.parsed = make([]parsedSpan, len(in.Spans))
	for i, sp := range in.Spans {
		var p parsedSpan
		if v, ok, err := rewards.Value(rewards.ModelSpanOf(sp)); ok && err == nil {
			p.reward = &v
		}
		if cls := genai.ClassifySpan(sp); cls.IsLLMCall {
			p.call, p.stats = genai.ParseSpan(sp)
			p.rule = cls.Rule
		}
		in.parsed[i] = p
	}
}

// topNames lists the most frequent span names, most frequent first.
func topNames(spans []model.Span, n int) []NameCount {
	counts := map[string]int{}
	for _, sp := range spans {
		counts[sp.Name]++
	}
	out := make([]NameCount, 0, len(counts))
	for name, c := range counts {
		out = append(out, NameCount{Name: name, Count: c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
