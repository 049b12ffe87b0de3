package tracetree

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

type spanOpt func(*model.Span)

func span(id, parent, name string, start, end float64, opts ...spanOpt) model.Span {
	s := model.Span{SpanID: id, Name: name, RolloutID: "ro-1", AttemptID: "at-1", TraceID: "t", StartTime: &start, EndTime: &end, Attributes: model.Attributes{}}
	if parent != "" {
		s.ParentID = &parent
	}
	for _, o := range opts {
		o(&s)
	}
	return s
}

func attr(k string, v any) spanOpt { return func(s *model.Span) { s.Attributes[k] = v } }

func reward(v float64) spanOpt {
	return func(s *model.Span) { s.Attributes["agentlightning.reward.0.value"] = v }
}

func testReward(s *model.Span) *float64 {
	if v, ok := s.Attributes["agentlightning.reward.0.value"].(float64); ok {
		return &v
	}
	if raw, ok := s.Attributes["agentops.task.output"].(string); ok {
		var p struct {
			Type  string   `json:"type"`
			Value *float64 `json:"value"`
		}
		if json.Unmarshal([]byte(raw), &p) == nil && p.Type == "reward" {
			return p.Value
		}
	}
	return nil
}

var llmName = regexp.MustCompile(`openai\.chat\.completion`)

func isLLM(s *model.Span) bool { return llmName.MatchString(s.Name) }

// names renders the tree as "name[children...]" for compact assertions.
func names(n *Node) string {
	var b strings.Builder
	b.WriteString(n.Span.Name)
	if len(n.Children) > 0 {
		b.WriteString("[")
		for i, c := range n.Children {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(names(c))
		}
		b.WriteString("]")
	}
	return b.String()
}

func build(t *testing.T, spans ...model.Span) *Node {
	t.Helper()
	root, _, err := Build(spans)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestBuildOrdersTreeGivenInReverse(t *testing.T) {
	root := build(t,
		span("llm", "root", "openai.chat.completion", 1, 2),
		span("root", "", "agent.session", 0, 3, attr("agent.name", "primary-agent")))
	if root.ID() != "root" || names(root) != "agent.session[openai.chat.completion]" {
		t.Fatalf("tree %s", names(root))
	}
}

func TestBuildVirtualRoot(t *testing.T) {
	root := build(t, span("a", "", "a", 0, 5), span("b", "", "b", 5, 9))
	if root.ID() != VirtualRootID || root.Span.Name != VirtualRootID || !root.Virtual {
		t.Fatalf("root %+v", root.Span)
	}
	if *root.Span.StartTime != 0 || *root.Span.EndTime != 9 || len(root.Children) != 2 {
		t.Fatalf("virtual root times %v-%v children %d", *root.Span.StartTime, *root.Span.EndTime, len(root.Children))
	}
}

func TestBuildMissingParent(t *testing.T) {
	if _, _, err := Build(nil); err != ErrEmpty {
		t.Fatalf("empty input: %v", err)
	}
	root, st, err := Build([]model.Span{span("child", "ghost-parent", "child", 2, 4), span("grand", "child", "grand", 3, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if root.ID() != "ghost-parent" || root.Span.Name != VirtualSpanName || root.Span.RolloutID != "ro-1" || st.LostParents != 1 {
		t.Fatalf("root %+v stats %+v", root.Span, st)
	}
	if names(root) != "agentlightning.virtual[child[grand]]" || *root.Span.StartTime != 2 || *root.Span.EndTime != 4 {
		t.Fatalf("tree %s", names(root))
	}
}

func TestBuildBreaksCyclesWithoutLosingSpans(t *testing.T) {
	root, st, err := Build([]model.Span{
		span("r", "", "root", 0, 10),
		span("a", "b", "a", 1, 2),
		span("b", "a", "b", 1, 2),
		span("self", "self", "self", 3, 4),
	})
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	root.Walk(func(n *Node) bool {
		if !n.Virtual {
			count++
		}
		return true
	})
	if count != 4 || st.CyclesBroken != 1 {
		t.Fatalf("kept %d spans, stats %+v, tree %s", count, st, names(root))
	}
}

func TestBuildDeepChainDoesNotRecurse(t *testing.T) {
	const depth = 200000
	spans := make([]model.Span, depth)
	for i := range spans {
		parent := ""
		if i > 0 {
			parent = spanID(i - 1)
		}
		spans[i] = span(spanID(i), parent, "s", 0, 1)
	}
	root := build(t, spans...)
	n := 0
	root.Walk(func(*Node) bool { n++; return true })
	if n != depth {
		t.Fatalf("walked %d", n)
	}
}

func spanID(i int) string { return "s" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + itoa(i) }

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestRepairMovesLLMUnderAgent(t *testing.T) {
	root := build(t,
		span("root", "", "root", 0, 10),
		span("agent", "root", "agent", 1, 9, attr("agent.name", "a")),
		span("llm", "root", "openai.chat.completion", 2, 3))
	Repair(root)
	if names(root) != "root[agent[openai.chat.completion]]" {
		t.Fatalf("tree %s", names(root))
	}
}

func TestRepairSkipsUndatedSpans(t *testing.T) {
	undated := span("llm", "root", "openai.chat.completion", 0, 0)
	undated.StartTime, undated.EndTime = nil, nil
	root := build(t, span("root", "", "root", 0, 10), span("agent", "root", "agent", 1, 9), undated)
	Repair(root)
	if names(root) != "root[agent,openai.chat.completion]" {
		t.Fatalf("tree %s", names(root))
	}
}

func TestAgentFilterNeedsRepair(t *testing.T) {
	spans := []model.Span{
		span("root", "", "root", 0, 10),
		span("agent", "root", "planner-span", 1, 9, attr("agent.name", "planner")),
		span("llm", "root", "openai.chat.completion", 2, 3, attr("gen_ai.response.id", "r1")),
		span("rw", "agent", "agentlightning.annotation", 4, 4, reward(0.3)),
	}
	opts := FindOptions{IsLLMCall: isLLM, AgentMatch: regexp.MustCompile("planner")}
	root := build(t, spans...)
	if calls := FindLLMCalls(root, opts); len(calls) != 0 {
		t.Fatalf("without repair: %d calls", len(calls))
	}
	Repair(root)
	calls := FindLLMCalls(root, opts)
	if err := MatchRewards(root, calls, spans, MatchOptions{Reward: testReward}); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].AgentName != "planner" || calls[0].Reward == nil || *calls[0].Reward != 0.3 {
		t.Fatalf("calls %+v", calls)
	}
}

func TestFindDedupsAndExcludesRewardSubtrees(t *testing.T) {
	spans := []model.Span{
		span("agent", "", "agent", 0, 20, attr("agent.name", "primary-agent")),
		span("llm-1", "agent", "openai.chat.completion", 1, 2, attr("gen_ai.response.id", "resp-1")),
		span("llm-2", "agent", "openai.chat.completion", 3, 4, attr("gen_ai.response.id", "resp-1")),
		span("nested", "llm-1", "openai.chat.completion", 1.5, 1.6),
		span("grader", "agent", "agentlightning.annotation", 5, 8, reward(0.5)),
		span("grader-llm", "grader", "openai.chat.completion", 6, 7, attr("gen_ai.response.id", "resp-g")),
	}
	root := build(t, spans...)
	calls := FindLLMCalls(root, FindOptions{IsLLMCall: isLLM, IsRewardSpan: func(s *model.Span) bool { return testReward(s) != nil }})
	if len(calls) != 1 || calls[0].Node.ID() != "llm-1" || calls[0].AgentName != "primary-agent" {
		t.Fatalf("calls %d: %+v", len(calls), calls)
	}
	if err := MatchRewards(root, calls, spans, MatchOptions{Reward: testReward}); err != nil {
		t.Fatal(err)
	}
	if *calls[0].Reward != 0.5 {
		t.Fatalf("reward %v", *calls[0].Reward)
	}
}

func TestDedupAcrossAgentsAndByPrompt(t *testing.T) {
	spans := []model.Span{
		span("root", "", "root", 0, 20),
		span("a", "root", "a", 1, 5, attr("agent.name", "a")),
		span("llm-a", "a", "openai.chat.completion", 2, 3, attr("gen_ai.response.id", "same"), attr("p", "1,2")),
		span("b", "root", "b", 6, 10, attr("agent.name", "b")),
		span("llm-b", "b", "openai.chat.completion", 7, 8, attr("gen_ai.response.id", "same")),
		span("llm-c", "b", "openai.chat.completion", 8, 9, attr("gen_ai.response.id", "other"), attr("p", "1,2")),
	}
	calls := FindLLMCalls(build(t, spans...), FindOptions{IsLLMCall: isLLM, PromptKey: func(s *model.Span) string { v, _ := s.Attributes["p"].(string); return v }})
	if len(calls) != 1 || calls[0].Node.ID() != "llm-a" {
		t.Fatalf("calls %+v", calls)
	}
}

func TestFirstSiblingPolicy(t *testing.T) {
	spans := []model.Span{
		span("root", "", "root", 0, 20),
		span("agent", "root", "a", 1, 4, attr("agent.name", "sibling-agent")),
		span("llm-1", "agent", "openai.chat.completion", 2, 3, attr("gen_ai.response.id", "resp-1")),
		span("rw", "agent", "agentlightning.annotation", 3.5, 3.5, reward(0.8)),
		span("agent-2", "root", "a2", 3.05, 3.3, attr("agent.name", "sibling-agent")),
		span("llm-2", "agent-2", "openai.chat.completion", 3.1, 3.2, attr("gen_ai.response.id", "resp-2")),
	}
	root := build(t, spans...)
	calls := FindLLMCalls(root, FindOptions{IsLLMCall: isLLM})
	if err := MatchRewards(root, calls, spans, MatchOptions{Policy: FirstSibling, Reward: testReward}); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].Reward == nil || *calls[0].Reward != 0.8 || calls[1].Reward != nil {
		t.Fatalf("calls %+v", calls)
	}
	// first_occurrence gives the same reward to the most recent finished call instead.
	calls = FindLLMCalls(root, FindOptions{IsLLMCall: isLLM})
	_ = MatchRewards(root, calls, spans, MatchOptions{Policy: FirstOccurrence, Reward: testReward})
	if calls[0].Reward != nil || calls[1].Reward == nil || *calls[1].Reward != 0.8 {
		t.Fatalf("first_occurrence %+v %+v", calls[0].Reward, calls[1].Reward)
	}
}

func TestFirstOccurrenceBackfillsAndLosesEarlyRewards(t *testing.T) {
	spans := []model.Span{
		span("root", "", "root", 0, 100),
		span("early", "root", "agentlightning.annotation", 0.5, 0.5, reward(9)),
		span("l1", "root", "openai.chat.completion", 1, 2, attr("gen_ai.response.id", "1")),
		span("l2", "root", "openai.chat.completion", 3, 4, attr("gen_ai.response.id", "2")),
		span("r1", "root", "agentlightning.annotation", 5, 5, reward(0.1)),
		span("r2", "root", "agentlightning.annotation", 6, 6, reward(0.2)),
		span("r3", "root", "agentlightning.annotation", 7, 7, reward(0.3)),
	}
	root := build(t, spans...)
	calls := FindLLMCalls(root, FindOptions{IsLLMCall: isLLM})
	_ = MatchRewards(root, calls, spans, MatchOptions{Reward: testReward})
	if *calls[0].Reward != 0.2 || *calls[1].Reward != 0.1 {
		t.Fatalf("rewards %v %v", *calls[0].Reward, *calls[1].Reward)
	}
}

func TestFinalRewardPolicies(t *testing.T) {
	spans := []model.Span{
		span("root", "", "root", 0, 100),
		span("l1", "root", "openai.chat.completion", 1, 2, attr("gen_ai.response.id", "1")),
		span("l2", "root", "openai.chat.completion", 3, 4, attr("gen_ai.response.id", "2")),
		span("l3", "root", "openai.chat.completion", 5, 6, attr("gen_ai.response.id", "3")),
		span("r", "root", "agentlightning.annotation", 7, 7, reward(1)),
	}
	root := build(t, spans...)
	tests := []struct {
		policy string
		want   []any
	}{
		{FinalToLast, []any{nil, nil, 1.0}},
		{FinalToAll, []any{1.0, 1.0, 1.0}},
		{Discounted, []any{0.25, 0.5, 1.0}},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			calls := FindLLMCalls(root, FindOptions{IsLLMCall: isLLM})
			if err := MatchRewards(root, calls, spans, MatchOptions{Policy: tt.policy, Reward: testReward, Gamma: 0.5}); err != nil {
				t.Fatal(err)
			}
			for i, c := range calls {
				if tt.want[i] == nil {
					if c.Reward != nil {
						t.Fatalf("call %d reward %v, want none", i, *c.Reward)
					}
				} else if c.Reward == nil || *c.Reward != tt.want[i].(float64) {
					t.Fatalf("call %d reward %v, want %v", i, c.Reward, tt.want[i])
				}
			}
		})
	}
	if err := MatchRewards(root, nil, spans, MatchOptions{Policy: "bogus", Reward: testReward}); err == nil {
		t.Fatal("unknown policy accepted")
	}
}

func TestAgentNameRules(t *testing.T) {
	tests := []struct {
		span model.Span
		want string
	}{
		{span("a", "", "x", 0, 1, attr("agent.name", "sdk")), "sdk"},
		{span("a", "", "x", 0, 1, attr("agentops.span.kind", "agent"), attr("operation.name", "ops")), "ops"},
		{span("a", "", "x", 0, 1, attr("recipient_agent_type", "autogen")), "autogen"},
		{span("a", "", "x", 0, 1, attr("langchain.chain.type", "graph")), "graph"},
		{span("a", "", "x", 0, 1, attr("executor.id", "exec")), "exec"},
		{span("a", "", "x", 0, 1, attr("type", "agent"), attr("agentlightning.operation.input.name", "weave")), "weave"},
		{span("a", "", "langchain.Chain.foo", 0, 1, attr("lc_name", "lc")), "lc"},
		{span("a", "", "plain", 0, 1), ""},
	}
	for _, tt := range tests {
		if got := AgentName(&tt.span); got != tt.want {
			t.Errorf("%v: got %q want %q", tt.span.Attributes, got, tt.want)
		}
	}
}

func TestLinkedRewardsGoToTheirTarget(t *testing.T) {
	link := func(respID string) spanOpt {
		return func(s *model.Span) { s.Attributes["link"] = respID }
	}
	spans := []model.Span{
		span("root", "", "root", 0, 100),
		span("l1", "root", "openai.chat.completion", 1, 2, attr("gen_ai.response.id", "1")),
		span("l2", "root", "openai.chat.completion", 3, 4, attr("gen_ai.response.id", "2")),
		// Judged after both calls, about the first one.
		span("eval", "root", "agentlightning.annotation", 5, 5, reward(0.9), link("1")),
		// An evaluation written onto the second call itself.
		span("l3", "root", "openai.chat.completion", 6, 7, attr("gen_ai.response.id", "3"), reward(0.1), link("3")),
		span("final", "root", "agentlightning.annotation", 8, 8, reward(1)),
	}
	links := func(r *model.Span) func(*model.Span) bool {
		id, ok := r.Attributes["link"].(string)
		if !ok {
			return nil
		}
		return func(c *model.Span) bool { return ResponseID(c) == id }
	}
	root := build(t, spans...)
	calls := FindLLMCalls(root, FindOptions{IsLLMCall: isLLM})
	if err := MatchRewards(root, calls, spans, MatchOptions{Reward: testReward, Links: links}); err != nil {
		t.Fatal(err)
	}
	got := []float64{}
	for _, c := range calls {
		if c.Reward == nil {
			got = append(got, -1)
		} else {
			got = append(got, *c.Reward)
		}
	}
	// l1 and l3 get their linked rewards; the unlinked final reward goes by
	// first_occurrence to the latest unrewarded call that ended before it: l2.
	if len(got) != 3 || got[0] != 0.9 || got[1] != 1 || got[2] != 0.1 {
		t.Fatalf("rewards %v", got)
	}
}
