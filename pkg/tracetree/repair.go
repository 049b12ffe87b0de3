package tracetree

// Repair moves children of the top-level node under the closest node that
// encloses them in time, fixing LLM spans recorded by another tracing
// subsystem directly under the root. A single-child root is skipped through
// (an extra session span). Only one level is repaired, as in Agent Lightning.
func Repair(root *Node) {
	for len(root.Children) == 1 {
		root = root.Children[0]
	}
	original := append([]*Node(nil), root.Children...)
	for _, c := range original {
		if len(root.Children) <= 1 {
			return
		}
		if !dated(c) {
			continue
		}
		if target := closestEncloser(root, c); target != nil {
			detach(root, c)
			target.Children = append(target.Children, c)
		}
	}
}

func dated(n *Node) bool { return n.Span.StartTime != nil && n.Span.EndTime != nil }

// closestEncloser finds, in pre-order below root, the node other than c that
// contains c in time with the least positive slack.
func closestEncloser(root, c *Node) *Node {
	var best *Node
	bestSlack := 0.0
	cs, ce := *c.Span.StartTime, *c.Span.EndTime
	root.Walk(func(n *Node) bool {
		if n == c {
			return false // never move c under its own descendant
		}
		if n == root || !dated(n) {
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

func detach(parent, c *Node) {
	for i, x := range parent.Children {
		if x == c {
			parent.Children = append(parent.Children[:i], parent.Children[i+1:]...)
			return
		}
	}
}
