package tracetree

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// referenceRepair is the quadratic Repair that walks the live tree for every
// child, kept as the definition the indexed one must match.
func referenceRepair(root *Node) {
	for len(root.Children) == 1 {
		root = root.Children[0]
	}
	original := append([]*Node(nil), root.Children...)
	for _, c := range original {
		if len(root.Children) <= 1 {
			return
		}
		if !referenceDated(c) {
			continue
		}
		if target := referenceEncloser(root, c); target != nil {
			referenceDetach(root, c)
			target.Children = append(target.Children, c)
		}
	}
}

func referenceDated(n *Node) bool { return n.Span.StartTime != nil && n.Span.EndTime != nil }

func referenceEncloser(root, c *Node) *Node {
	var best *Node
	bestSlack := 0.0
	cs, ce := *c.Span.StartTime, *c.Span.EndTime
	root.Walk(func(n *Node) bool {
		if n == c {
			return false
		}
		if n == root || !referenceDated(n) {
			return true
		}
		ns, ne := *n.Span.StartTime, *n.Span.EndTime
		if ns > cs || ne < ce {
			return true
		}
		slack := (ne - ce) + (cs - ns)
		if slack > 0 && (best == nil || slack < bestSlack) {
			best, bestSlack = n, slack
		}
		return true
	})
	return best
}

func referenceDetach(parent, c *Node) {
	for i, x := range parent.Children {
		if x == c {
			parent.Children = append(parent.Children[:i], parent.Children[i+1:]...)
			return
		}
	}
}

// shape renders a tree by span ids, one "id:children" entry per node in
// pre-order, without recursion.
func shape(root *Node) string {
	var b strings.Builder
	root.Walk(func(n *Node) bool {
		b.WriteString(n.ID())
		b.WriteString(":")
		for _, c := range n.Children {
			b.WriteString(c.ID())
			b.WriteString(",")
		}
		b.WriteString(" ")
		return true
	})
	return b.String()
}

// cloneTree copies the nodes; the spans are shared, as Repair never
// changes them.
func cloneTree(root *Node) *Node {
	out := &Node{Span: root.Span, Virtual: root.Virtual}
	type pair struct{ from, to *Node }
	stack := []pair{{root, out}}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range p.from.Children {
			cc := &Node{Span: c.Span, Virtual: c.Virtual}
			p.to.Children = append(p.to.Children, cc)
			stack = append(stack, pair{c, cc})
		}
	}
	return out
}

func timed(id string, start, end *float64, children ...*Node) *Node {
	return &Node{Span: &model.Span{SpanID: id, Name: id, StartTime: start, EndTime: end}, Children: children}
}

func at(id string, start, end float64, children ...*Node) *Node {
	return timed(id, &start, &end, children...)
}

func TestRepairCases(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		root func() *Node
		want string
	}{
		{
			name: "first in pre-order wins a tie",
			root: func() *Node {
				return at("r", 0, 10, at("a", 1, 9, at("a1", 1, 9)), at("b", 1, 9), at("llm", 2, 3))
			},
			want: "r:a,b, a:a1,llm, a1: llm: b: ",
		},
		{
			name: "zero slack never encloses",
			root: func() *Node { return at("r", 0, 10, at("same", 2, 3), at("llm", 2, 3)) },
			want: "r:same,llm, same: llm: ",
		},
		{
			name: "least slack wins over pre-order",
			root: func() *Node {
				return at("r", 0, 10, at("wide", 0, 9), at("tight", 1, 4), at("llm", 2, 3))
			},
			want: "r:wide, wide:tight, tight:llm, llm: ",
		},
		{
			name: "a child moved earlier encloses later ones at its new place",
			root: func() *Node {
				return at("r", 0, 1000, at("m", 2, 8), at("p", 0, 200, at("rival", 2, 8)), at("t", 1, 9), at("llm", 3, 4))
			},
			// m moves under t and t under p, so the tie between m and rival
			// goes to rival, which comes first in the live pre-order.
			want: "r:p, p:rival,t, rival:llm, llm: t:m, m: ",
		},
		{
			name: "never under its own descendant",
			root: func() *Node {
				return at("r", 0, 10, at("llm", 2, 3, at("odd-child", 1, 4)), at("agent", 0, 9))
			},
			want: "r:agent, agent:llm, llm:odd-child, odd-child: ",
		},
		{
			name: "descends through single-child roots",
			root: func() *Node {
				return at("session", 0, 10, at("r", 0, 10, at("agent", 1, 9), at("llm", 2, 3)))
			},
			want: "session:r, r:agent, agent:llm, llm: ",
		},
		{
			name: "the last child left stays",
			root: func() *Node { return at("r", 0, 10, at("a", 2, 8), at("b", 1, 9)) },
			want: "r:b, b:a, a: ",
		},
		{
			name: "undated and NaN nodes neither move nor enclose",
			root: func() *Node {
				return at("r", 0, 10, timed("undated", nil, nil, at("inside", 0, 9)),
					at("nan", nan, 9), at("llm", 2, 3), at("nan-llm", 2, nan))
			},
			want: "r:undated,nan,nan-llm, undated:inside, inside:llm, llm: nan: nan-llm: ",
		},
		{
			name: "an infinite slack loses to any finite one",
			root: func() *Node {
				return at("r", 0, 10, at("forever", -inf, inf), at("agent", 1, 9), at("llm", 2, 3))
			},
			want: "r:forever, forever:agent, agent:llm, llm: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ref := tt.root(), tt.root()
			Repair(got)
			referenceRepair(ref)
			if shape(got) != tt.want {
				t.Errorf("Repair gave  %q\nwant        %q", shape(got), tt.want)
			}
			if shape(ref) != tt.want {
				t.Errorf("reference gave %q", shape(ref))
			}
		})
	}
}

// treeGen makes random trees whose times collide, nest, tie and round in
// the ways Repair must agree with the reference on.
type treeGen struct {
	rng   *rand.Rand
	mode  int
	next  int
	pool  [][2]float64 // times already used, to copy and nest within
	scale float64
}

const genModes = 5

func (g *treeGen) times() (*float64, *float64) {
	r := g.rng
	if r.IntN(20) == 0 {
		return nil, nil
	}
	var s, e float64
	switch {
	case len(g.pool) > 0 && r.IntN(3) == 0:
		// Reuse or nest within an earlier interval: ties and enclosers.
		p := g.pool[r.IntN(len(g.pool))]
		s, e = p[0], p[1]
		switch r.IntN(4) {
		case 1:
			s += (e - s) * r.Float64() / 2
		case 2:
			e -= (e - s) * r.Float64() / 2
		case 3:
			s, e = s-g.value(), e+g.value()
		}
	default:
		s, e = g.value(), g.value()
		if s > e && r.IntN(8) != 0 {
			s, e = e, s
		}
	}
	if g.mode == 4 && r.IntN(10) == 0 {
		specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e305, -1e305, math.Copysign(0, -1), 5e-324}
		if r.IntN(2) == 0 {
			s = specials[r.IntN(len(specials))]
		} else {
			e = specials[r.IntN(len(specials))]
		}
	}
	g.pool = append(g.pool, [2]float64{s, e})
	return &s, &e
}

// value draws one time or offset by mode: a small grid (many equal
// times), epoch seconds with nanoseconds, mixed magnitudes (rounding
// differs between candidates, and mode 4 adds NaN, infinities and huge,
// negative-zero and subnormal times), and a random scale plus offsets
// down to 2⁻⁵⁰.
func (g *treeGen) value() float64 {
	r := g.rng
	switch g.mode {
	case 0:
		return float64(r.IntN(12))
	case 1:
		return 1.7e9 + float64(r.IntN(1000))*1e-3 + float64(r.IntN(1000))*1e-9
	case 2, 4:
		return (r.Float64() - 0.3) * math.Ldexp(1, r.IntN(60)-30)
	default:
		return g.scale*r.Float64() + math.Ldexp(r.Float64(), -r.IntN(50))
	}
}

func (g *treeGen) node(depth int) *Node {
	g.next++
	s, e := g.times()
	n := timed(fmt.Sprintf("n%d", g.next), s, e)
	for depth > 0 && g.rng.IntN(3) == 0 {
		n.Children = append(n.Children, g.node(depth-1))
	}
	return n
}

func (g *treeGen) tree(children int) *Node {
	g.next, g.pool = 0, nil
	g.scale = math.Ldexp(1, g.rng.IntN(40)-10)
	root := g.node(0)
	top := root
	for g.rng.IntN(4) == 0 {
		inner := g.node(0)
		top.Children = append(top.Children, inner)
		top = inner
	}
	for range children {
		top.Children = append(top.Children, g.node(3))
	}
	return root
}

func TestRepairMatchesReference(t *testing.T) {
	for seed := range uint64(3000) {
		g := &treeGen{rng: rand.New(rand.NewPCG(seed, 7)), mode: int(seed % genModes)}
		size := g.rng.IntN(40)
		if seed%50 == 0 {
			size = 300 + g.rng.IntN(300)
		}
		checkAgainstReference(t, g.tree(size), fmt.Sprintf("seed %d mode %d", seed, g.mode))
	}
	checkAgainstReference(t, benchTree(2000), "flat attempt")
	checkAgainstReference(t, nestedTree(1500), "nested spans recorded inner first")
}

// nestedTree has every span under the root, the nested ones inner first
// (the order in which they end), so each moves under the next and carries
// the ones moved before it along.
func nestedTree(depth int) *Node {
	root := at("root", 0, float64(4*depth))
	for i := range depth {
		s, e := float64(2*depth-2*i), float64(2*depth+2*i+1)
		root.Children = append(root.Children, at(fmt.Sprintf("span%d", i), s, e))
		if i%3 == 0 {
			root.Children = append(root.Children, at(fmt.Sprintf("llm%d", i), s+0.5, e-0.5))
		}
	}
	return root
}

// TestRepairMatchesReferenceOnRounding packs many candidates whose exact
// slacks tie or nearly tie, split unevenly between start and end so their
// computed slacks round apart, around children of mixed magnitudes.
func TestRepairMatchesReferenceOnRounding(t *testing.T) {
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 11))
		root := at("r", -1e12, 1e12)
		for i := range 40 {
			base := (rng.Float64() - 0.5) * math.Ldexp(1, rng.IntN(40))
			dur := math.Ldexp(rng.Float64(), rng.IntN(20)-10)
			slack := math.Ldexp(1+rng.Float64()/1e3, rng.IntN(30)-20)
			if i%3 == 0 {
				root.Children = append(root.Children, at(fmt.Sprintf("c%d", i), base, base+dur))
				continue
			}
			for j := range 8 {
				lead := slack * rng.Float64()
				if j%2 == 0 {
					lead = slack * math.Ldexp(rng.Float64(), -rng.IntN(50))
				}
				id := fmt.Sprintf("e%d.%d", i, j)
				root.Children = append(root.Children, at(id, base-lead, base+dur+(slack-lead)))
			}
			root.Children = append(root.Children, at(fmt.Sprintf("c%d", i), base, base+dur))
		}
		rng.Shuffle(len(root.Children), func(a, b int) {
			root.Children[a], root.Children[b] = root.Children[b], root.Children[a]
		})
		checkAgainstReference(t, root, fmt.Sprintf("seed %d", seed))
	}
}

func checkAgainstReference(t *testing.T, root *Node, name string) {
	t.Helper()
	got, want := cloneTree(root), cloneTree(root)
	Repair(got)
	referenceRepair(want)
	if g, w := shape(got), shape(want); g != w {
		t.Fatalf("%s: Repair differs from the reference\ninput %s\ngot   %s\nwant  %s", name, shape(root), g, w)
	}
}

// benchTree is a flat attempt: agent spans (each with a tool span) under
// the root, and LLM spans recorded under the root inside the agents' time.
func benchTree(spans int) *Node {
	rng := rand.New(rand.NewPCG(1, 2))
	const base = 1.7e9
	agents := max(spans/20, 1)
	root := at("root", base, base+float64(agents)*10)
	type child struct {
		n     *Node
		start float64
	}
	var children []child
	for i := range agents {
		s := base + float64(i)*10
		tool := at(fmt.Sprintf("tool%d", i), s+8, s+8.5)
		children = append(children, child{at(fmt.Sprintf("agent%d", i), s+0.5, s+9.5, tool), s + 0.5})
	}
	for i := range spans - 1 - 2*agents {
		s := base + float64(rng.IntN(agents))*10 + 1 + rng.Float64()*6
		children = append(children, child{at(fmt.Sprintf("llm%d", i), s, s+rng.Float64()), s})
	}
	slices.SortStableFunc(children, func(a, b child) int { return cmp.Compare(a.start, b.start) })
	for _, c := range children {
		root.Children = append(root.Children, c.n)
	}
	return root
}

func BenchmarkRepair(b *testing.B) {
	impls := []struct {
		name   string
		repair func(*Node)
	}{{"indexed", Repair}, {"reference", referenceRepair}}
	for _, spans := range []int{100, 1000, 10000} {
		tree := benchTree(spans)
		for _, impl := range impls {
			b.Run(fmt.Sprintf("spans=%d/%s", spans, impl.name), func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					root := cloneTree(tree)
					b.StartTimer()
					impl.repair(root)
				}
			})
		}
	}
}
