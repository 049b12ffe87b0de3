package tracetree

import (
	"math"
	"slices"
	"sort"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Repair moves children of the top-level node under the closest node that
// encloses them in time, fixing LLM spans recorded by another tracing
// subsystem directly under the root. A single-child root is skipped through
// (an extra session span). Only one level is repaired, as in Agent Lightning.
//
// The children are taken in order, and each one is moved under the node
// of the tree as it stands at that moment (so children moved earlier count,
// at their new place) that is dated, outside the child's own subtree, and
// encloses it with the least positive slack (end−end)+(start−start) as
// float64 computes it; the first in pre-order wins a tie. Walking the tree
// for every child would be quadratic, so candidates come from a static index
// in order of duration (fitIndex), the subtrees of root's children are
// tracked as merging blocks, and ties are broken by the live pre-order
// (see before): O(n log n) plus O(log n) for every candidate that ties the
// best fit within rounding or lies inside the child. Nodes with infinite or
// astronomically large times, which OTLP timestamps never give, are checked
// one by one. root must be a tree, as Build makes.
func Repair(root *Node) {
	for len(root.Children) == 1 {
		root = root.Children[0]
	}
	if len(root.Children) <= 1 {
		return
	}
	newRepairer(root).run()
}

// timeKind sorts nodes by what their times allow.
type timeKind int8

const (
	// noTime: a null or NaN time, whose slack is never positive; the node
	// neither encloses nor moves.
	noTime timeKind = iota
	// oddTime: an infinite time or one beyond ±plainLimit, where slack can
	// overflow; such nodes are checked one by one. OTLP's nanosecond
	// timestamps never produce them.
	oddTime
	// plainTime: every slack between two such nodes is finite.
	plainTime
)

// plainLimit keeps every difference and slack of plain times far from
// overflow.
const plainLimit = 1e300

func kindOf(s *model.Span) timeKind {
	if s.StartTime == nil || s.EndTime == nil {
		return noTime
	}
	start, end := *s.StartTime, *s.EndTime
	switch {
	case math.IsNaN(start) || math.IsNaN(end):
		return noTime
	case math.Abs(start) > plainLimit || math.Abs(end) > plainLimit:
		return oddTime // also ±Inf
	}
	return plainTime
}

// repairer holds the indexes of one Repair call. Nodes are named by their
// index in the initial pre-order of root's descendants, root's children by
// their index among them ("top").
type repairer struct {
	root       *Node
	nodes      []*Node
	starts     []float64
	ends       []float64
	kinds      []timeKind
	tops       []int32 // top → node
	topOf      []int32 // node → the top it started under
	candidates []int32 // every node that can enclose: plain and odd ones
	odd        []int32
	fits       *fitIndex
	blocks     blocks
	// live is the pre-order, built from tokens and brought up to date with
	// pending moves only when a tie needs it.
	live    *liveOrder
	tokens  []int32
	pending [][2]int32
}

func newRepairer(root *Node) *repairer {
	r := &repairer{root: root}
	type frame struct {
		n       *Node
		idx     int32
		top     bool
		closing bool
	}
	stack := make([]frame, 0, len(root.Children))
	for i := len(root.Children) - 1; i >= 0; i-- {
		stack = append(stack, frame{n: root.Children[i], top: true})
	}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if f.closing {
			r.tokens = append(r.tokens, closeToken(f.idx))
			continue
		}
		idx := int32(len(r.nodes))
		if f.top {
			r.tops = append(r.tops, idx)
		}
		r.add(f.n, int32(len(r.tops)-1))
		r.tokens = append(r.tokens, openToken(idx))
		stack = append(stack, frame{idx: idx, closing: true})
		for i := len(f.n.Children) - 1; i >= 0; i-- {
			stack = append(stack, frame{n: f.n.Children[i]})
		}
	}
	r.fits = newFitIndex(r)
	r.blocks = newBlocks(len(r.tops))
	return r
}

func (r *repairer) add(n *Node, top int32) {
	idx := int32(len(r.nodes))
	kind := kindOf(n.Span)
	var start, end float64
	if kind != noTime {
		start, end = *n.Span.StartTime, *n.Span.EndTime
		r.candidates = append(r.candidates, idx)
	}
	if kind == oddTime {
		r.odd = append(r.odd, idx)
	}
	r.nodes = append(r.nodes, n)
	r.starts = append(r.starts, start)
	r.ends = append(r.ends, end)
	r.kinds = append(r.kinds, kind)
	r.topOf = append(r.topOf, top)
}

func (r *repairer) run() {
	moved := make([]bool, len(r.tops))
	remaining := len(r.tops)
	for i, c := range r.tops {
		if remaining <= 1 {
			break
		}
		target := r.encloser(int32(i))
		if target < 0 {
			continue
		}
		r.blocks.join(int32(i), r.topOf[target])
		r.pending = append(r.pending, [2]int32{c, target})
		r.nodes[target].Children = append(r.nodes[target].Children, r.nodes[c])
		moved[i] = true
		remaining--
	}
	kept := r.root.Children[:0]
	for i, c := range r.root.Children {
		if !moved[i] {
			kept = append(kept, c)
		}
	}
	r.root.Children = kept
}

// encloser returns the node that top moves under, or -1.
func (r *repairer) encloser(top int32) int32 {
	c := r.tops[top]
	if r.kinds[c] == noTime {
		return -1
	}
	q := &search{r: r, top: top, cs: r.starts[c], ce: r.ends[c], best: -1}
	if r.kinds[c] == oddTime {
		for _, n := range r.candidates {
			q.consider(n)
		}
		return q.best
	}
	r.fits.scan(q)
	for _, n := range r.odd {
		q.consider(n)
	}
	return q.best
}

// search is the state of looking for one child's encloser.
type search struct {
	r         *repairer
	top       int32 // the child
	cs, ce    float64
	best      int32
	bestSlack float64
}

// consider applies the rule of Agent Lightning's walk to node n: it must
// contain the child, with a positive slack that beats the best so far, or
// ties it earlier in pre-order, and must not be the child or below it.
func (q *search) consider(n int32) {
	ns, ne := q.r.starts[n], q.r.ends[n]
	if ns > q.cs || ne < q.ce {
		return
	}
	slack := (ne - q.ce) + (q.cs - ns)
	if !(slack > 0) || (q.best >= 0 && slack > q.bestSlack) {
		return
	}
	if q.r.blocks.head(q.r.topOf[n]) == q.top {
		return
	}
	if q.best >= 0 && slack == q.bestSlack && !q.r.before(n, q.best) {
		return
	}
	q.best, q.bestSlack = n, slack
}

// before reports whether node x comes before node y in the live pre-order.
// Moves only cut a top's whole block and paste it inside another, so nodes
// that started under the same top keep their initial order, and blocks
// under different tops keep the tops' order; only nodes from different
// starting tops that now share a block need the live sequence.
func (r *repairer) before(x, y int32) bool {
	tx, ty := r.topOf[x], r.topOf[y]
	if tx == ty {
		return x < y
	}
	if hx, hy := r.blocks.head(tx), r.blocks.head(ty); hx != hy {
		return hx < hy
	}
	if r.live == nil {
		r.live = newLiveOrder(r.tokens)
	}
	for _, m := range r.pending {
		r.live.moveUnder(m[0], m[1])
	}
	r.pending = r.pending[:0]
	return r.live.pos(openToken(x)) < r.live.pos(openToken(y))
}

// blocks is a union-find over tops: a top's block is its subtree, which
// grows as other tops move into it; head names the top still under root
// whose subtree the block is.
type blocks struct {
	parent, size, heads []int32
}

func newBlocks(tops int) blocks {
	b := blocks{parent: make([]int32, tops), size: make([]int32, tops), heads: make([]int32, tops)}
	for i := range b.parent {
		b.parent[i], b.size[i], b.heads[i] = int32(i), 1, int32(i)
	}
	return b
}

func (b blocks) find(t int32) int32 {
	for b.parent[t] != t {
		b.parent[t] = b.parent[b.parent[t]]
		t = b.parent[t]
	}
	return t
}

func (b blocks) head(t int32) int32 { return b.heads[b.find(t)] }

// join records that top c moved into the block of top t.
func (b blocks) join(c, t int32) {
	rc, rt := b.find(c), b.find(t)
	head := b.heads[rt]
	if b.size[rc] > b.size[rt] {
		rc, rt = rt, rc
	}
	b.parent[rc] = rt
	b.size[rt] += b.size[rc]
	b.heads[rt] = head
}

// Rounding bounds for plain times. With u = 2⁻⁵³ and no overflow, each
// float64 subtraction or addition is exact up to a factor (1±u), so the
// computed slack S of n around c is at least (1−u)²·T, where
// T = dur(n) − dur(c) is the exact slack, and a computed duration k is
// within u·|dur| of the exact one. Ordering candidates by computed duration
// is thus ordering them by T up to rounding: a candidate may still beat or
// tie one of smaller computed duration, so the scan goes on until the
// exact slack provably exceeds the best computed one. The margins below
// (about 9u relative, plus an absolute term for underflow) dominate every
// rounding step of these bounds.
const (
	relMargin = 1e-15
	absMargin = 1e-300
)

// slackFloor is at most the exact slack of any node whose computed
// duration is kn or more around a child whose computed duration is kc.
func slackFloor(kn, kc float64) float64 {
	return (kn - kc) - (relMargin*(math.Abs(kn)+math.Abs(kc)) + absMargin)
}

// beyond reports whether an exact slack above floor makes a computed slack
// greater than best.
func beyond(floor, best float64) bool {
	return floor > best+(relMargin*best+absMargin)
}

// fitIndex lists the plain nodes containing an interval in order of
// computed duration. Its leaves are the plain nodes by start; version k of
// a persistent segment tree holds the k nodes with the latest ends, so
// "start ≤ s and end ≥ e" is a run of leaves in one version, and each node
// of the tree knows the shortest candidate below it.
type fitIndex struct {
	leaf   []int32   // node → leaf
	starts []float64 // of the leaves
	ends   []float64 // of the nodes by descending end
	dur    []float64 // node → computed duration (plain nodes only)
	roots  []int32   // roots[k]: version with the k latest ends
	// The tree's nodes; 0 is the empty tree and shortest is -1 there.
	left, right, shortest []int32
	heap                  []fitRange
}

// fitRange is a run of leaves [lo, hi) of one version and its shortest node.
type fitRange struct {
	shortest, version, lo, hi int32
}

func newFitIndex(r *repairer) *fitIndex {
	var plain []int32
	for _, n := range r.candidates {
		if r.kinds[n] == plainTime {
			plain = append(plain, n)
		}
	}
	f := &fitIndex{
		leaf: make([]int32, len(r.nodes)),
		dur:  make([]float64, len(r.nodes)),
	}
	for _, n := range plain {
		f.dur[n] = r.ends[n] - r.starts[n]
	}
	byStart := slices.Clone(plain)
	slices.SortFunc(byStart, func(a, b int32) int { return compareBy(r.starts, a, b) })
	f.starts = make([]float64, len(plain))
	for i, n := range byStart {
		f.leaf[n] = int32(i)
		f.starts[i] = r.starts[n]
	}
	byEnd := slices.Clone(plain)
	slices.SortFunc(byEnd, func(a, b int32) int { return compareBy(r.ends, b, a) })
	f.ends = make([]float64, len(plain))
	depth := 1
	for 1<<(depth-1) < len(plain) {
		depth++
	}
	capacity := 1 + len(plain)*depth
	f.left = append(make([]int32, 0, capacity), 0)
	f.right = append(make([]int32, 0, capacity), 0)
	f.shortest = append(make([]int32, 0, capacity), -1)
	f.roots = make([]int32, len(plain)+1)
	for k, n := range byEnd {
		f.ends[k] = r.ends[n]
		f.roots[k+1] = f.insert(f.roots[k], 0, int32(len(plain)), f.leaf[n], n)
	}
	return f
}

// compareBy orders nodes by a value, then by index, for a total order.
func compareBy(vals []float64, a, b int32) int {
	switch {
	case vals[a] < vals[b]:
		return -1
	case vals[a] > vals[b]:
		return 1
	}
	return int(a) - int(b)
}

// shorter picks the node of smaller computed duration, then smaller index;
// -1 stands for none.
func (f *fitIndex) shorter(a, b int32) int32 {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	case f.dur[a] < f.dur[b] || (f.dur[a] == f.dur[b] && a < b):
		return a
	}
	return b
}

// insert returns a new version of tree prev covering leaves [lo, hi) with
// node n added at its leaf.
func (f *fitIndex) insert(prev, lo, hi, leaf, n int32) int32 {
	id := int32(len(f.shortest))
	f.left = append(f.left, f.left[prev])
	f.right = append(f.right, f.right[prev])
	f.shortest = append(f.shortest, f.shorter(f.shortest[prev], n))
	if hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if leaf < mid {
			sub := f.insert(f.left[prev], lo, mid, leaf, n)
			f.left[id] = sub
		} else {
			sub := f.insert(f.right[prev], mid, hi, leaf, n)
			f.right[id] = sub
		}
	}
	return id
}

// least returns the shortest node in leaves [ql, qr) of tree t, which
// covers [lo, hi), or -1.
func (f *fitIndex) least(t, lo, hi, ql, qr int32) int32 {
	if t == 0 || qr <= lo || hi <= ql {
		return -1
	}
	if ql <= lo && hi <= qr {
		return f.shortest[t]
	}
	mid := lo + (hi-lo)/2
	return f.shorter(f.least(f.left[t], lo, mid, ql, qr), f.least(f.right[t], mid, hi, ql, qr))
}

// scan offers q the plain nodes that contain its child, shortest first,
// until none left can beat or tie q's best. Nodes with exactly the child's
// times are left out: their slack is 0.
func (f *fitIndex) scan(q *search) {
	before := int32(sort.SearchFloat64s(f.starts, q.cs)) // start < cs
	upTo := int32(sort.Search(len(f.starts), func(i int) bool { return f.starts[i] > q.cs }))
	reach := sort.Search(len(f.ends), func(i int) bool { return f.ends[i] < q.ce }) // end ≥ ce
	beyondEnd := sort.Search(len(f.ends), func(i int) bool { return f.ends[i] <= q.ce })
	f.heap = f.heap[:0]
	f.push(f.roots[reach], 0, before)
	f.push(f.roots[beyondEnd], before, upTo)
	kc := q.ce - q.cs
	for len(f.heap) > 0 {
		top := f.pop()
		n := top.shortest
		if q.best >= 0 && beyond(slackFloor(f.dur[n], kc), q.bestSlack) {
			return
		}
		f.push(top.version, top.lo, f.leaf[n])
		f.push(top.version, f.leaf[n]+1, top.hi)
		q.consider(n)
	}
}

func (f *fitIndex) push(version, lo, hi int32) {
	n := f.least(version, 0, int32(len(f.starts)), lo, hi)
	if n < 0 {
		return
	}
	f.heap = append(f.heap, fitRange{shortest: n, version: version, lo: lo, hi: hi})
	for i := len(f.heap) - 1; i > 0; {
		up := (i - 1) / 2
		if f.shorter(f.heap[i].shortest, f.heap[up].shortest) != f.heap[i].shortest {
			break
		}
		f.heap[i], f.heap[up] = f.heap[up], f.heap[i]
		i = up
	}
}

func (f *fitIndex) pop() fitRange {
	top := f.heap[0]
	last := len(f.heap) - 1
	f.heap[0] = f.heap[last]
	f.heap = f.heap[:last]
	for i := 0; ; {
		next := i
		for _, child := range [2]int{2*i + 1, 2*i + 2} {
			if child < last && f.shorter(f.heap[child].shortest, f.heap[next].shortest) == f.heap[child].shortest {
				next = child
			}
		}
		if next == i {
			return top
		}
		f.heap[i], f.heap[next] = f.heap[next], f.heap[i]
		i = next
	}
}

// liveOrder keeps the live pre-order of root's descendants as a sequence of
// tokens, one opening and one closing per node, so that a subtree is the
// run from its opening to its closing token and moving it under a new
// parent is cutting that run and pasting it before the parent's closing
// token. The sequence is a randomized balanced tree (a merge picks the
// root with odds by size) with parent links, so a token's position is
// found by walking up. Token 0 is the empty tree.
type liveOrder struct {
	left, right, parent, size []int32
	root                      int32
	seed                      uint64
}

func openToken(n int32) int32  { return 2*n + 1 }
func closeToken(n int32) int32 { return 2*n + 2 }

func newLiveOrder(tokens []int32) *liveOrder {
	n := len(tokens) + 1
	o := &liveOrder{
		left: make([]int32, n), right: make([]int32, n),
		parent: make([]int32, n), size: make([]int32, n),
		seed: 0x9e3779b97f4a7c15,
	}
	o.root = o.build(tokens)
	return o
}

// build makes a perfectly balanced tree of the tokens in order.
func (o *liveOrder) build(tokens []int32) int32 {
	if len(tokens) == 0 {
		return 0
	}
	mid := len(tokens) / 2
	t := tokens[mid]
	o.setLeft(t, o.build(tokens[:mid]))
	o.setRight(t, o.build(tokens[mid+1:]))
	return t
}

func (o *liveOrder) setLeft(t, child int32) {
	o.left[t] = child
	o.parent[child] = t
	o.size[t] = o.size[o.left[t]] + o.size[o.right[t]] + 1
}

func (o *liveOrder) setRight(t, child int32) {
	o.right[t] = child
	o.parent[child] = t
	o.size[t] = o.size[o.left[t]] + o.size[o.right[t]] + 1
}

// pos is the token's index in the sequence.
func (o *liveOrder) pos(t int32) int32 {
	p := o.size[o.left[t]]
	for ; t != o.root; t = o.parent[t] {
		if up := o.parent[t]; o.right[up] == t {
			p += o.size[o.left[up]] + 1
		}
	}
	return p
}

// moveUnder makes node c's run the last child run of node target.
func (o *liveOrder) moveUnder(c, target int32) {
	from, to := o.pos(openToken(c)), o.pos(closeToken(c))
	head, rest := o.split(o.root, from)
	run, tail := o.split(rest, to-from+1)
	o.root = o.merge(head, tail)
	head, tail = o.split(o.root, o.pos(closeToken(target)))
	o.root = o.merge(o.merge(head, run), tail)
}

// split cuts the first k tokens of tree t from the rest.
func (o *liveOrder) split(t, k int32) (int32, int32) {
	if t == 0 {
		return 0, 0
	}
	if o.size[o.left[t]] >= k {
		a, b := o.split(o.left[t], k)
		o.setLeft(t, b)
		return a, t
	}
	a, b := o.split(o.right[t], k-o.size[o.left[t]]-1)
	o.setRight(t, a)
	return t, b
}

func (o *liveOrder) merge(a, b int32) int32 {
	if a == 0 || b == 0 {
		return a + b
	}
	if o.random()%uint64(o.size[a]+o.size[b]) < uint64(o.size[a]) {
		o.setRight(a, o.merge(o.right[a], b))
		return a
	}
	o.setLeft(b, o.merge(a, o.left[b]))
	return b
}

// random is xorshift64*: fixed, so Repair stays deterministic (its result
// does not depend on the shape of the tree anyway).
func (o *liveOrder) random() uint64 {
	o.seed ^= o.seed >> 12
	o.seed ^= o.seed << 25
	o.seed ^= o.seed >> 27
	return o.seed * 0x2545f4914f6cdd1d
}
