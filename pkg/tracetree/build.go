package tracetree

import (
	"errors"
	"math"
	"sort"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Names of the synthetic spans, as Agent Lightning writes them.
const (
	VirtualSpanName = "agentlightning.virtual"
	VirtualRootID   = "virtual-root"
)

// ErrEmpty is returned when there are no spans to build a tree from.
var ErrEmpty = errors.New("tracetree: no spans")

// Node is one span of the tree with its children in input order.
type Node struct {
	Span     *model.Span
	Children []*Node
	// Virtual marks synthetic nodes (lost parents and the virtual root).
	Virtual bool
}

// ID is the node's span id.
func (n *Node) ID() string { return n.Span.SpanID }

// Stats reports repairs made while building.
type Stats struct {
	LostParents  int
	CyclesBroken int
	Duplicates   int
}

// Build makes the tree of spans. A later span with the same id replaces an
// earlier one (keeping the earlier position).
func Build(spans []model.Span) (*Node, Stats, error) {
	var st Stats
	if len(spans) == 0 {
		return nil, st, ErrEmpty
	}
	byID, order := index(spans, &st)
	children := map[string][]string{}
	var roots []string
	for _, id := range order {
		s := byID[id]
		if s.ParentID == nil || *s.ParentID == "" || *s.ParentID == id {
			roots = append(roots, id)
			continue
		}
		children[*s.ParentID] = append(children[*s.ParentID], id)
	}
	var lost []string
	for parent := range children {
		if _, ok := byID[parent]; !ok {
			lost = append(lost, parent)
		}
	}
	sort.Strings(lost)
	st.LostParents = len(lost)

	b := &builder{byID: byID, children: children, seen: map[string]bool{}}
	var top []*Node
	for _, id := range roots {
		top = append(top, b.node(id))
	}
	for _, id := range lost {
		top = append(top, b.virtual(id))
	}
	// Whatever is still unseen sits on a parent-id cycle: cut it open at its
	// first span in input order rather than lose it.
	for _, id := range order {
		if !b.seen[id] {
			st.CyclesBroken++
			top = append(top, b.node(id))
		}
	}
	if len(top) == 1 {
		return top[0], st, nil
	}
	return virtualRoot(top), st, nil
}

func index(spans []model.Span, st *Stats) (map[string]*model.Span, []string) {
	byID := make(map[string]*model.Span, len(spans))
	order := make([]string, 0, len(spans))
	for i := range spans {
		id := spans[i].SpanID
		if _, ok := byID[id]; ok {
			st.Duplicates++
		} else {
			order = append(order, id)
		}
		byID[id] = &spans[i]
	}
	return byID, order
}

type builder struct {
	byID     map[string]*model.Span
	children map[string][]string
	seen     map[string]bool
}

// node builds the subtree of a real span iteratively, so hostile depth
// cannot exhaust the stack, and never visits a span twice.
func (b *builder) node(id string) *Node {
	root := &Node{Span: b.byID[id]}
	b.seen[id] = true
	stack := []*Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, cid := range b.children[n.ID()] {
			if b.seen[cid] {
				continue
			}
			b.seen[cid] = true
			c := &Node{Span: b.byID[cid]}
			n.Children = append(n.Children, c)
			stack = append(stack, c)
		}
	}
	return root
}

// virtual stands in for a parent that never arrived, spanning its children.
func (b *builder) virtual(id string) *Node {
	n := &Node{Virtual: true}
	for _, cid := range b.children[id] {
		if !b.seen[cid] {
			b.seen[cid] = true
			n.Children = append(n.Children, b.subtree(cid))
		}
	}
	first := b.byID[b.children[id][0]]
	n.Span = &model.Span{
		RolloutID: first.RolloutID, AttemptID: first.AttemptID, SequenceID: first.SequenceID,
		TraceID: first.TraceID, SpanID: id, Name: VirtualSpanName,
		Status:    model.TraceStatus{StatusCode: model.StatusOK},
		StartTime: minTime(n.Children, func(s *model.Span) *float64 { return s.StartTime }),
		EndTime:   maxTime(n.Children, func(s *model.Span) *float64 { return s.EndTime }),
	}
	return n
}

// subtree builds a child that was already marked seen by its caller.
func (b *builder) subtree(id string) *Node {
	delete(b.seen, id)
	return b.node(id)
}

func virtualRoot(top []*Node) *Node {
	first, last := top[0].Span, top[len(top)-1].Span
	return &Node{
		Virtual:  true,
		Children: top,
		Span: &model.Span{
			RolloutID: first.RolloutID, AttemptID: first.AttemptID, TraceID: first.TraceID,
			SpanID: VirtualRootID, Name: VirtualRootID,
			Status:    model.TraceStatus{StatusCode: model.StatusOK},
			StartTime: first.StartTime, EndTime: last.EndTime,
		},
	}
}

func minTime(nodes []*Node, get func(*model.Span) *float64) *float64 {
	var out *float64
	for _, n := range nodes {
		if v := get(n.Span); v != nil && (out == nil || *v < *out) {
			out = model.Ptr(*v)
		}
	}
	return out
}

func maxTime(nodes []*Node, get func(*model.Span) *float64) *float64 {
	var out *float64
	for _, n := range nodes {
		if v := get(n.Span); v != nil && (out == nil || *v > *out) {
			out = model.Ptr(*v)
		}
	}
	return out
}

// Walk visits the tree in pre-order; returning false skips a subtree.
func (n *Node) Walk(visit func(*Node) bool) {
	stack := []*Node{n}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !visit(cur) {
			continue
		}
		for i := len(cur.Children) - 1; i >= 0; i-- {
			stack = append(stack, cur.Children[i])
		}
	}
}

// sortTime is the time used to order nodes: the start, else the end, else
// +∞ so that undated nodes come last.
func sortTime(s *model.Span) float64 {
	if s.StartTime != nil {
		return *s.StartTime
	}
	if s.EndTime != nil {
		return *s.EndTime
	}
	return math.Inf(1)
}
