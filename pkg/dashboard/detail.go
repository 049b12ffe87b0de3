package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"sync"

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
	Rollout   *model.Rollout  `json:"rollout"`
	Attempts  []model.Attempt `json:"attempts"`
	AttemptID string          `json:"attempt_id"`
	Spans     []spanRow       `json:"spans"`
	Truncated bool            `json:"truncated"`
	// Calls are the transcripts of the LLM calls CallsOffset to
	// CallsOffset+len(Calls) of CallTotal (calls_offset, calls_limit): the
	// transcripts are most of a big attempt's bytes, so the page asks for
	// them a window at a time.
	Calls       []callView           `json:"calls"`
	CallTotal   int                  `json:"call_total"`
	CallsOffset int                  `json:"calls_offset"`
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
	var err2 error
	d.CallsOffset, err2 = intParam(r, "calls_offset", 0)
	limit, err := intParam(r, "calls_limit", 50)
	if err = errors.Join(err2, err); err != nil {
		s.fail(w, r, err)
		return
	}
	in, err := s.load(r, ro, attempt, d.CallsOffset, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Truncated = in.Truncated
	d.Spans, d.Calls, d.CallTotal = views(in, d.CallsOffset, limit)
	for _, t := range in.Triplets {
		d.Triplets = append(d.Triplets, export.NewTripletLine(t))
	}
	d.Diagnostics = Diagnose(in)
	s.writeJSON(w, d)
}

// load reads what the diagnosis and the page need about one attempt; the
// LLM calls callsOffset to callsOffset+callsLimit are parsed in full for
// their transcripts.
func (s *server) load(r *http.Request, ro *model.Rollout, a *model.Attempt, callsOffset, callsLimit int) (Input, error) {
	ctx := r.Context()
	attemptID := a.AttemptID
	// The stored documents, decoded here in parallel with the parse: at
	// thousands of spans the decode is most of the page's cost.
	raw, err := s.store.QuerySpansRaw(ctx, store.SpanQuery{RolloutID: ro.RolloutID, AttemptID: &attemptID,
		Page: store.Page{SortOrder: store.SortAsc, Limit: maxSpans + 1}})
	if err != nil {
		return Input{}, err
	}
	in := Input{Rollout: ro, Attempt: a}
	docs := raw.Items
	if len(docs) > maxSpans {
		docs, in.Truncated = docs[:maxSpans], true
	}
	if in.Triplets, err = s.store.QueryTriplets(ctx, ro.RolloutID, attemptID); err != nil {
		return Input{}, err
	}
	if err := in.decodeAndParse(docs, callsOffset, callsLimit); err != nil {
		return Input{}, err
	}
	return in, nil
}

// spanDoc is model.Span without the round trip of unknown keys, which a
// read-only page does not need: decoding it is one pass instead of two.
type spanDoc struct {
	RolloutID  string             `json:"rollout_id"`
	AttemptID  string             `json:"attempt_id"`
	SequenceID int                `json:"sequence_id"`
	TraceID    string             `json:"trace_id"`
	SpanID     string             `json:"span_id"`
	ParentID   *string            `json:"parent_id"`
	Name       string             `json:"name"`
	Status     model.TraceStatus  `json:"status"`
	Attributes model.Attributes   `json:"attributes"`
	Events     []model.Event      `json:"events"`
	Links      []model.Link       `json:"links"`
	StartTime  *float64           `json:"start_time"`
	EndTime    *float64           `json:"end_time"`
	Context    *model.SpanContext `json:"context"`
	Parent     *model.SpanContext `json:"parent"`
	Resource   model.OtelResource `json:"resource"`
}

// decodeAndParse decodes the span documents, classifies each one and reads
// its reward, then parses the LLM calls the page shows (the window) and
// those without a triplet (whose token ids only the parse tells), each
// step spread over the available cores. A call with a triplet outside the
// window is not parsed again: its triplet, built by the same parser, says
// whether it has token ids.
func (in *Input) decodeAndParse(docs []json.RawMessage, callsOffset, callsLimit int) error {
	in.Spans = make([]model.Span, len(docs))
	in.parsed = make([]parsedSpan, len(docs))
	err := parallel(len(docs), func(i int) error {
		var d spanDoc
		dec := json.NewDecoder(bytes.NewReader(docs[i]))
		// As model.Span decodes: numbers stay json.Number, as the parsers
		// expect.
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			return fmt.Errorf("decode stored span: %w", err)
		}
		in.Spans[i] = model.Span{
			RolloutID: d.RolloutID, AttemptID: d.AttemptID, SequenceID: d.SequenceID, TraceID: d.TraceID,
			SpanID: d.SpanID, ParentID: d.ParentID, Name: d.Name, Status: d.Status, Attributes: d.Attributes,
			Events: d.Events, Links: d.Links, StartTime: d.StartTime, EndTime: d.EndTime,
			Context: d.Context, Parent: d.Parent, Resource: d.Resource,
		}
		in.parsed[i] = classify(in.Spans[i])
		return nil
	})
	if err != nil {
		return err
	}
	hasTriplet := map[string]bool{}
	for _, t := range in.Triplets {
		hasTriplet[t.SpanID] = true
	}
	var need []int
	call := 0
	for i, p := range in.parsed {
		if !p.llm {
			continue
		}
		if (call >= callsOffset && call < callsOffset+callsLimit) || !hasTriplet[in.Spans[i].SpanID] {
			need = append(need, i)
		}
		call++
	}
	return parallel(len(need), func(k int) error {
		i := need[k]
		in.parsed[i].call, in.parsed[i].stats = genai.ParseSpan(in.Spans[i])
		return nil
	})
}

// parallel runs fn for 0..n-1 on up to GOMAXPROCS goroutines.
func parallel(n int, fn func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/32))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// views turns an attempt into waterfall rows and transcripts, rewards
// attached from the triplets (the triplet processor's matching), else from
// the span itself (a reward span).
func views(in Input, callsOffset, callsLimit int) ([]spanRow, []callView, int) {
	tripletOf := map[string]int{}
	for i, t := range in.Triplets {
		tripletOf[t.SpanID] = i
	}
	rows := make([]spanRow, len(in.Spans))
	calls := []callView{}
	total := 0
	for i, sp := range in.Spans {
		p := in.parsed[i]
		rows[i] = spanRow{
			SequenceID: sp.SequenceID, TraceID: sp.TraceID, SpanID: sp.SpanID, ParentID: sp.ParentID, Name: sp.Name,
			Status: sp.Status.StatusCode, StartTime: sp.StartTime, EndTime: sp.EndTime,
			LLM: p.llm, Rule: p.rule, Reward: p.reward,
		}
		if !p.llm {
			continue
		}
		total++
		if total <= callsOffset || len(calls) >= callsLimit || p.call == nil {
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
	return rows, calls, total
}

// intParam reads a non-negative integer query parameter.
func intParam(r *http.Request, key string, def int) (int, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("%s: want a non-negative integer, got %q", key, v)
	}
	return n, nil
}

// parsedSpan is what the one GenAI parser and the reward reader make of a
// span.
type parsedSpan struct {
	llm    bool
	rule   string
	call   *genai.Call // the parsed call, when it was needed
	stats  genai.Stats
	reward *float64
}

// parse classifies and parses every span (for inputs built in memory).
func (in *Input) parse() {
	in.parsed = make([]parsedSpan, len(in.Spans))
	for i, sp := range in.Spans {
		in.parsed[i] = classify(sp)
		if in.parsed[i].llm {
			in.parsed[i].call, in.parsed[i].stats = genai.ParseSpan(sp)
		}
	}
}

func classify(sp model.Span) parsedSpan {
	var p parsedSpan
	if v, ok, err := rewards.Value(rewards.ModelSpanOf(sp)); ok && err == nil {
		p.reward = &v
	}
	cls := genai.ClassifySpan(sp)
	p.llm, p.rule = cls.IsLLMCall, cls.Rule
	return p
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
