package loadgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Attribute keys Agent Lightning uses to label a span with its rollout.
const (
	AttrRolloutID = "agentlightning.rollout_id"
	AttrAttemptID = "agentlightning.attempt_id"
)

// Limits on a workload, so that a typo cannot ask for terabytes.
const (
	maxMessageBytes = 1 << 20
	maxTokens       = 1 << 20
	maxCalls        = 10_000
)

// Workload describes the rollouts an agent produces.
type Workload struct {
	// CallsPerRollout is the number of LLM calls in one rollout; each is one
	// triplet. Default 4.
	CallsPerRollout int
	// ToolCalls adds a tool span after every LLM call.
	ToolCalls bool
	// Reward adds an agentlightning.annotation span with a reward at the end.
	Reward bool
	// MessageBytes is the size of every message's content (system, user,
	// assistant and tool messages). Default 400.
	MessageBytes int
	// PromptTokens is the length of the first call's prompt_token_ids; later
	// calls carry the conversation so far, so their prompts grow by
	// 2 × ResponseTokens per earlier call. Default 256.
	PromptTokens int
	// ResponseTokens is the length of every response_token_ids. Default 64.
	ResponseTokens int
	// HistoryTurns bounds how many earlier turns (assistant answer and tool
	// result) a prompt repeats; 0 repeats them all, as a chat agent does.
	HistoryTurns int
	// RunID makes trace ids unique across runs against the same store.
	RunID uint64
}

// DefaultWorkload is a small ReAct-style agent: four LLM calls, each followed
// by a tool call, and a final reward: ten spans per rollout.
func DefaultWorkload() Workload {
	return Workload{
		CallsPerRollout: 4, ToolCalls: true, Reward: true,
		MessageBytes: 400, PromptTokens: 256, ResponseTokens: 64,
	}
}

// Validate rejects workloads that cannot be generated.
func (w Workload) Validate() error {
	var errs []error
	if w.CallsPerRollout < 0 || w.CallsPerRollout > maxCalls {
		errs = append(errs, fmt.Errorf("calls per rollout: must be in [0, %d], got %d", maxCalls, w.CallsPerRollout))
	}
	if w.MessageBytes < 0 || w.MessageBytes > maxMessageBytes {
		errs = append(errs, fmt.Errorf("message bytes: must be in [0, %d], got %d", maxMessageBytes, w.MessageBytes))
	}
	if w.PromptTokens < 0 || w.PromptTokens > maxTokens || w.ResponseTokens < 0 || w.ResponseTokens > maxTokens {
		errs = append(errs, fmt.Errorf("token counts: must be in [0, %d], got %d and %d", maxTokens, w.PromptTokens, w.ResponseTokens))
	}
	if w.HistoryTurns < 0 {
		errs = append(errs, fmt.Errorf("history turns: must not be negative, got %d", w.HistoryTurns))
	}
	return errors.Join(errs...)
}

// SpansPerRollout is the number of spans Rollout produces.
func (w Workload) SpansPerRollout() int {
	n := 1 + w.CallsPerRollout // the agent span and the LLM calls
	if w.ToolCalls {
		n += w.CallsPerRollout
	}
	if w.Reward {
		n++
	}
	return n
}

// TripletsPerRollout is the number of triplets the rollout's LLM calls give.
func (w Workload) TripletsPerRollout() int { return w.CallsPerRollout }

// IDs name the rollout and attempt a rollout's spans belong to.
type IDs struct {
	RolloutID string
	AttemptID string
}

// Rollout builds the spans of rollout number index, labelled with ids (left
// out when both are empty: an unlabelled agent), starting at start. The spans
// are in export order: each LLM call and tool call as it ends, then the
// reward, then the agent span. Equal arguments give equal traces.
func (w Workload) Rollout(index int, ids IDs, start time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	res.PutStr("service.name", "bench-agent")
	res.PutStr("telemetry.sdk.language", "python")
	if ids.RolloutID != "" || ids.AttemptID != "" {
		res.PutStr(AttrRolloutID, ids.RolloutID)
		res.PutStr(AttrAttemptID, ids.AttemptID)
	}
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("opentelemetry.instrumentation.openai.v1")
	spans := ss.Spans()
	spans.EnsureCapacity(w.SpansPerRollout())

	g := &spanIDs{trace: w.traceID(index), rollout: uint32(index)}
	rootID := g.next()
	at := start
	for k := range w.CallsPerRollout {
		w.llmCall(spans.AppendEmpty(), g, rootID, index, k, at)
		at = at.Add(800 * time.Millisecond)
		if w.ToolCalls {
			w.toolCall(spans.AppendEmpty(), g, rootID, index, k, at)
			at = at.Add(100 * time.Millisecond)
		}
	}
	if w.Reward {
		s := newSpan(spans.AppendEmpty(), g, rootID, "agentlightning.annotation", at, at)
		s.Attributes().PutStr("agentlightning.reward.0.name", "primary")
		s.Attributes().PutDouble("agentlightning.reward.0.value", float64(index%2))
	}
	root := spans.AppendEmpty()
	root.SetTraceID(g.trace)
	root.SetSpanID(rootID)
	root.SetName("agent.run")
	root.SetKind(ptrace.SpanKindInternal)
	root.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	root.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Millisecond)))
	root.Attributes().PutStr("agent.name", "solver")
	root.Status().SetCode(ptrace.StatusCodeOk)
	return td
}

// traceID is unique per run and rollout index.
func (w Workload) traceID(index int) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], w.RunID|1<<63) // never all zero
	binary.BigEndian.PutUint64(id[8:], uint64(index))
	return id
}

// spanIDs hands out span ids that are unique within a rollout.
type spanIDs struct {
	trace   pcommon.TraceID
	rollout uint32
	n       uint32
}

func (g *spanIDs) next() pcommon.SpanID {
	g.n++
	var id pcommon.SpanID
	binary.BigEndian.PutUint32(id[:4], g.rollout)
	binary.BigEndian.PutUint32(id[4:], g.n)
	return id
}

func newSpan(s ptrace.Span, g *spanIDs, parent pcommon.SpanID, name string, from, to time.Time) ptrace.Span {
	s.SetTraceID(g.trace)
	s.SetSpanID(g.next())
	s.SetParentSpanID(parent)
	s.SetName(name)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(from))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(to))
	s.Status().SetCode(ptrace.StatusCodeOk)
	return s
}

// llmCall is an OpenLLMetry chat completion span with vLLM token ids: the
// shape Agent Lightning's triplet adapter reads.
func (w Workload) llmCall(s ptrace.Span, g *spanIDs, parent pcommon.SpanID, index, k int, at time.Time) {
	newSpan(s, g, parent, "openai.chat.completion", at, at.Add(800*time.Millisecond))
	s.SetKind(ptrace.SpanKindClient)
	a := s.Attributes()
	a.PutStr("llm.request.type", "chat")
	a.PutStr("gen_ai.system", "openai")
	a.PutStr("gen_ai.request.model", "Qwen/Qwen2.5-1.5B-Instruct")
	a.PutStr("gen_ai.response.model", "Qwen/Qwen2.5-1.5B-Instruct")
	a.PutStr("gen_ai.response.id", "chatcmpl-"+strconv.Itoa(index)+"-"+strconv.Itoa(k))
	a.PutDouble("gen_ai.request.temperature", 0.7)

	msg := 0
	putMsg := func(role, content string) {
		p := "gen_ai.prompt." + strconv.Itoa(msg)
		a.PutStr(p+".role", role)
		a.PutStr(p+".content", content)
		msg++
	}
	putMsg("system", text(index, -1, 0, w.MessageBytes))
	putMsg("user", text(index, -1, 1, w.MessageBytes))
	first := 0
	if w.HistoryTurns > 0 {
		first = max(0, k-w.HistoryTurns)
	}
	for j := first; j < k; j++ {
		putMsg("assistant", text(index, j, 2, w.MessageBytes))
		putMsg("tool", text(index, j, 3, w.MessageBytes))
	}
	a.PutStr("gen_ai.completion.0.role", "assistant")
	a.PutStr("gen_ai.completion.0.content", text(index, k, 2, w.MessageBytes))
	a.PutStr("gen_ai.completion.0.finish_reason", "stop")

	promptLen := w.PromptTokens + 2*w.ResponseTokens*(k-first)
	a.PutInt("gen_ai.usage.prompt_tokens", int64(promptLen))
	a.PutInt("gen_ai.usage.completion_tokens", int64(w.ResponseTokens))
	putTokens(a.PutEmptySlice("prompt_token_ids"), tokenOffset(index, k, 0), promptLen)
	putTokens(a.PutEmptySlice("response_token_ids"), tokenOffset(index, k, 1), w.ResponseTokens)
}

func (w Workload) toolCall(s ptrace.Span, g *spanIDs, parent pcommon.SpanID, index, k int, at time.Time) {
	newSpan(s, g, parent, "execute_tool calculator", at, at.Add(100*time.Millisecond))
	a := s.Attributes()
	a.PutStr("gen_ai.operation.name", "execute_tool")
	a.PutStr("gen_ai.tool.name", "calculator")
	a.PutStr("gen_ai.tool.call.id", "call-"+strconv.Itoa(index)+"-"+strconv.Itoa(k))
	a.PutStr("gen_ai.tool.call.result", text(index, k, 3, min(w.MessageBytes, 200)))
}

// The corpora every message and token array is cut from: generated once,
// deterministically, so a workload costs little CPU to produce and compresses
// like text rather than like random bytes.
var (
	corpusOnce sync.Once
	words      string
	tokens     []int64
)

func corpora() (string, []int64) {
	corpusOnce.Do(func() {
		r := rand.New(rand.NewPCG(42, 7))
		vocab := []string{
			"the", "answer", "is", "let", "me", "compute", "first", "then", "step", "result", "value", "check",
			"we", "need", "to", "add", "multiply", "equation", "solve", "for", "x", "so", "which", "gives",
			"calculator", "tool", "returned", "number", "final", "therefore", "question", "asks", "about",
		}
		buf := make([]byte, 0, maxMessageBytes+64)
		for len(buf) < maxMessageBytes {
			buf = append(buf, vocab[r.IntN(len(vocab))]...)
			buf = append(buf, ' ')
		}
		words = string(buf[:maxMessageBytes])
		tokens = make([]int64, 1<<16)
		for i := range tokens {
			tokens[i] = int64(r.IntN(151_000))
		}
	})
	return words, tokens
}

// text is n bytes of the corpus at a place chosen by (rollout, call, role).
func text(index, call, role, n int) string {
	if n == 0 {
		return ""
	}
	w, _ := corpora()
	off := int(mix(uint64(index), uint64(call+1), uint64(role)) % uint64(len(w)-n+1))
	return w[off : off+n]
}

func tokenOffset(index, call, which int) int {
	_, t := corpora()
	return int(mix(uint64(index), uint64(call), uint64(which)+100) % uint64(len(t)))
}

func putTokens(s pcommon.Slice, off, n int) {
	_, t := corpora()
	s.EnsureCapacity(n)
	for i := range n {
		s.AppendEmpty().SetInt(t[(off+i)%len(t)])
	}
}

// mix is a cheap deterministic hash (splitmix64 steps).
func mix(vs ...uint64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, v := range vs {
		h ^= v + 0x9e3779b97f4a7c15 + h<<6 + h>>2
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}

// Split cuts td into requests of at most n spans each (n ≤ 0: one request),
// keeping span order and each span's resource and scope.
func Split(td ptrace.Traces, n int) []ptrace.Traces {
	if n <= 0 || td.SpanCount() <= n {
		return []ptrace.Traces{td}
	}
	var out []ptrace.Traces
	var cur ptrace.Traces
	var curSpans ptrace.SpanSlice
	count := n // start a new request at the first span
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			newScope := true
			for _, s := range ss.Spans().All() {
				if count == n {
					cur = ptrace.NewTraces()
					out = append(out, cur)
					count = 0
					newScope = true
				}
				if newScope {
					crs := cur.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(crs.Resource())
					crs.SetSchemaUrl(rs.SchemaUrl())
					css := crs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(css.Scope())
					css.SetSchemaUrl(ss.SchemaUrl())
					curSpans = css.Spans()
					newScope = false
				}
				s.CopyTo(curSpans.AppendEmpty())
				count++
			}
		}
	}
	return out
}
