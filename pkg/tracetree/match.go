package tracetree

import (
	"fmt"
	"math"
	"sort"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Reward-matching policies.
const (
	// FirstOccurrence gives each reward to the latest earlier call that ended
	// before it started and has no reward yet (Agent Lightning's default).
	FirstOccurrence = "first_occurrence"
	// FirstSibling applies the same rule among the reward's siblings only.
	FirstSibling = "first_sibling"
	// FinalToLast gives the attempt's final reward to its last call.
	FinalToLast = "final_to_last"
	// FinalToAll gives the final reward to every call.
	FinalToAll = "final_to_all"
	// Discounted gives call i of n the final reward times γ^(n-1-i).
	Discounted = "discounted"
)

// Policies lists the valid policy names.
var Policies = []string{FirstOccurrence, FirstSibling, FinalToLast, FinalToAll, Discounted}

// RewardFunc returns a span's reward value, or nil when it carries none.
type RewardFunc func(*model.Span) *float64

// MatchOptions tune MatchRewards.
type MatchOptions struct {
	Policy string
	Reward RewardFunc
	// Gamma is the discount of the Discounted policy.
	Gamma float64
	// Final overrides the final reward when set (Agent Lightning's
	// final_reward argument); otherwise it is the last reward in span order.
	Final *float64
	// Links, when set, returns for a reward span that names its target
	// (agentlightning.link.*) a predicate selecting the targeted calls, or
	// nil when the span names none. Linked rewards go to their targets
	// before the policy runs, and the policy ignores them.
	Links func(reward *model.Span) func(call *model.Span) bool
}

// MatchRewards fills calls[i].Reward in place. spans gives the attempt's
// spans in sequence order, used to find the final reward.
func MatchRewards(root *Node, calls []Call, spans []model.Span, opts MatchOptions) error {
	if opts.Links != nil {
		opts.Reward = matchLinked(root, calls, opts)
	}
	switch opts.Policy {
	case FirstOccurrence, "":
		matchFirstOccurrence(root, calls, opts.Reward)
	case FirstSibling:
		matchFirstSibling(root, calls, opts.Reward)
	case FinalToLast, FinalToAll, Discounted:
		matchFinal(calls, finalReward(spans, opts), opts)
	default:
		return fmt.Errorf("unknown reward matching policy %q", opts.Policy)
	}
	return nil
}

// FinalReward is the reward of the last span, in the given order, that has one.
func FinalReward(spans []model.Span, reward RewardFunc) *float64 {
	for i := len(spans) - 1; i >= 0; i-- {
		if v := reward(&spans[i]); v != nil {
			return v
		}
	}
	return nil
}

func finalReward(spans []model.Span, opts MatchOptions) *float64 {
	if opts.Final != nil {
		return opts.Final
	}
	return FinalReward(spans, opts.Reward)
}

// matchFinal spreads the final reward over the calls a link did not
// already reward.
func matchFinal(calls []Call, final *float64, opts MatchOptions) {
	if final == nil || len(calls) == 0 {
		return
	}
	n := len(calls)
	for i := range calls {
		if calls[i].Reward != nil {
			continue
		}
		switch {
		case opts.Policy == FinalToAll:
			calls[i].Reward = ptr(*final)
		case opts.Policy == Discounted:
			calls[i].Reward = ptr(*final * math.Pow(opts.Gamma, float64(n-1-i)))
		case i == n-1:
			calls[i].Reward = ptr(*final)
		}
	}
}

// matchLinked gives every linked reward to the calls it names and returns
// the reward function the policy must use: one that no longer sees them.
func matchLinked(root *Node, calls []Call, opts MatchOptions) RewardFunc {
	consumed := map[*model.Span]bool{}
	root.Walk(func(n *Node) bool {
		if n.Virtual {
			return true
		}
		v := opts.Reward(n.Span)
		if v == nil {
			return true
		}
		target := opts.Links(n.Span)
		if target == nil {
			return true
		}
		consumed[n.Span] = true
		for i := range calls {
			if calls[i].Reward == nil && target(calls[i].Node.Span) {
				calls[i].Reward = ptr(*v)
			}
		}
		return true
	})
	if len(consumed) == 0 {
		return opts.Reward
	}
	return func(s *model.Span) *float64 {
		if consumed[s] {
			return nil
		}
		return opts.Reward(s)
	}
}

// pending is the stack of calls seen so far while walking in time order.
type pending struct {
	byNode map[*Node]*Call
	stack  []*Call
}

func newPending(calls []Call) *pending {
	p := &pending{byNode: make(map[*Node]*Call, len(calls))}
	for i := range calls {
		p.byNode[calls[i].Node] = &calls[i]
	}
	return p
}

// give assigns the reward of r to the most recent call that ended before r
// started and has no reward yet.
func (p *pending) give(r *Node, value float64) {
	start := sortTime(r.Span)
	for i := len(p.stack) - 1; i >= 0; i-- {
		c := p.stack[i]
		if c.Reward != nil || endTime(c.Node.Span) > start {
			continue
		}
		c.Reward = ptr(value)
		return
	}
}

func endTime(s *model.Span) float64 {
	if s.EndTime != nil {
		return *s.EndTime
	}
	return sortTime(s)
}

func matchFirstOccurrence(root *Node, calls []Call, reward RewardFunc) {
	var nodes []*Node
	root.Walk(func(n *Node) bool { nodes = append(nodes, n); return true })
	sort.SliceStable(nodes, func(i, j int) bool { return sortTime(nodes[i].Span) < sortTime(nodes[j].Span) })
	p := newPending(calls)
	for _, n := range nodes {
		p.visit(n, reward)
	}
}

func matchFirstSibling(root *Node, calls []Call, reward RewardFunc) {
	byNode := newPending(calls).byNode
	root.Walk(func(n *Node) bool {
		p := &pending{byNode: byNode}
		for _, c := range n.Children {
			p.visit(c, reward)
		}
		return true
	})
}

func (p *pending) visit(n *Node, reward RewardFunc) {
	if c, ok := p.byNode[n]; ok {
		p.stack = append(p.stack, c)
		return
	}
	if n.Virtual {
		return
	}
	if v := reward(n.Span); v != nil {
		p.give(n, *v)
	}
}
