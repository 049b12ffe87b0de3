package tracetree

import (
	"regexp"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// AnyAgent is the agent label of calls made outside every agent span when
// no agent filter is set, as in Agent Lightning.
const AnyAgent = "*"

// Call is one LLM call found in the tree, with the agent it ran under.
type Call struct {
	Node       *Node
	AgentName  string
	ResponseID string
	// Reward is set by MatchRewards.
	Reward *float64
}

// FindOptions tune FindLLMCalls.
type FindOptions struct {
	// IsLLMCall classifies spans; required.
	IsLLMCall func(*model.Span) bool
	// AgentMatch keeps only calls under agents whose name matches; nil keeps all.
	AgentMatch *regexp.Regexp
	// IsRewardSpan marks reward subtrees, whose calls (graders) are excluded;
	// nil disables the exclusion.
	IsRewardSpan func(*model.Span) bool
	// SameTokens reports whether two calls sent identical prompt token ids,
	// an extra dedup key beyond the response id; nil disables it.
	PromptKey func(*model.Span) string
	// ResponseID returns a call's response id, the dedup key; nil reads the
	// span attributes (ResponseID). Callers with a GenAI parser pass its
	// answer, which also finds ids recorded only inside a response body
	// (OpenInference's output.value, LangChain's llm_output.id).
	ResponseID func(*model.Span) string
}

type walkState struct {
	agent    *string
	inReward bool
	inCall   bool
}

// FindLLMCalls walks the tree in pre-order and returns the calls that
// become triplets: inside a matching agent, outside reward subtrees, with a
// response id (and prompt) not seen before, and not an id-less span nested in
// an already matched call.
func FindLLMCalls(root *Node, opts FindOptions) []Call {
	f := finder{opts: opts, seenIDs: map[string]bool{}, seenPrompts: map[string]bool{}}
	start := walkState{}
	if opts.AgentMatch == nil {
		start.agent = ptr(AnyAgent)
	}
	type item struct {
		n  *Node
		st walkState
	}
	stack := []item{{root, start}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		next := f.visit(it.n, it.st)
		for i := len(it.n.Children) - 1; i >= 0; i-- {
			stack = append(stack, item{it.n.Children[i], next})
		}
	}
	return f.calls
}

type finder struct {
	opts        FindOptions
	seenIDs     map[string]bool
	seenPrompts map[string]bool
	calls       []Call
}

// visit decides on one node and returns the state for its children.
func (f *finder) visit(n *Node, st walkState) walkState {
	s := n.Span
	if !n.Virtual && st.agent != nil && !st.inReward && f.opts.IsLLMCall(s) {
		if f.accept(s, st) {
			f.calls = append(f.calls, Call{Node: n, AgentName: *st.agent, ResponseID: f.responseID(s)})
			st.inCall = true
		}
	}
	if name := AgentName(s); name != "" {
		st.agent = nil
		if f.opts.AgentMatch == nil || f.opts.AgentMatch.MatchString(name) {
			st.agent = ptr(name)
		}
	}
	if f.opts.IsRewardSpan != nil && f.opts.IsRewardSpan(s) {
		st.inReward = true
	}
	return st
}

func (f *finder) responseID(s *model.Span) string {
	if f.opts.ResponseID != nil {
		return f.opts.ResponseID(s)
	}
	return ResponseID(s)
}

func (f *finder) accept(s *model.Span, st walkState) bool {
	id := f.responseID(s)
	if id == "" && st.inCall {
		return false
	}
	if id != "" && f.seenIDs[id] {
		return false
	}
	var key string
	if f.opts.PromptKey != nil {
		if key = f.opts.PromptKey(s); key != "" && f.seenPrompts[key] {
			return false
		}
	}
	if id != "" {
		f.seenIDs[id] = true
	}
	if key != "" {
		f.seenPrompts[key] = true
	}
	return true
}

func ptr[T any](v T) *T { return &v }
