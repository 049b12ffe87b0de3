package sqlstore

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// kind tells how a field sorts when null (spec §2.2).
type kind int

const (
	kindText   kind = iota // null sorts as ""
	kindNumber             // null sorts as 0
	kindTime               // null sorts as +∞ (a field named *_time)
	kindJSON               // kept only in doc; sorts by its JSON text
)

// column is how one JSON field of a model is reached in SQL.
type column struct {
	expr     string
	kind     kind
	nullable bool
}

// table describes one queryable table: its fields by JSON key and its
// order when no sort is asked for.
type table struct {
	name         string
	cols         map[string]column
	defaultOrder string
}

type tables struct {
	rollouts, attempts, spans, resources, workers table
}

func buildTables(d Dialect) tables {
	text := func(name string) column { return column{expr: name, kind: kindText} }
	nullText := func(name string) column { return column{expr: name, kind: kindText, nullable: true} }
	num := func(name string) column { return column{expr: name, kind: kindNumber} }
	tm := func(name string) column { return column{expr: name, kind: kindTime} }
	nullTime := func(name string) column { return column{expr: name, kind: kindTime, nullable: true} }
	doc := func(key string) column { return column{expr: d.JSONText("doc", key), kind: kindJSON, nullable: true} }

	return tables{
		rollouts: table{name: "rollouts", defaultOrder: "seq", cols: map[string]column{
			"rollout_id": text("rollout_id"), "input": doc("input"), "start_time": tm("start_time"),
			"end_time": nullTime("end_time"), "mode": nullText("mode"), "resources_id": nullText("resources_id"),
			"status": text("status"), "config": doc("config"), "metadata": doc("metadata"),
		}},
		attempts: table{name: "attempts", defaultOrder: "sequence_id, seq", cols: map[string]column{
			"rollout_id": text("rollout_id"), "attempt_id": text("attempt_id"), "sequence_id": num("sequence_id"),
			"start_time": tm("start_time"), "end_time": nullTime("end_time"), "status": text("status"),
			"worker_id": nullText("worker_id"), "last_heartbeat_time": nullTime("last_heartbeat_time"),
			"metadata": doc("metadata"),
		}},
		spans: table{name: "spans", defaultOrder: "sequence_id, seq", cols: map[string]column{
			"rollout_id": text("rollout_id"), "attempt_id": text("attempt_id"), "sequence_id": num("sequence_id"),
			"trace_id": text("trace_id"), "span_id": text("span_id"), "parent_id": nullText("parent_id"),
			"name": text("name"), "status": doc("status"), "attributes": doc("attributes"), "events": doc("events"),
			"links": doc("links"), "start_time": nullTime("start_time"), "end_time": nullTime("end_time"),
			"context": doc("context"), "parent": doc("parent"), "resource": doc("resource"),
		}},
		resources: table{name: "resources", defaultOrder: "seq", cols: map[string]column{
			"resources_id": text("resources_id"), "create_time": tm("create_time"), "update_time": tm("update_time"),
			"version": num("version"), "resources": doc("resources"),
		}},
		workers: table{name: "workers", defaultOrder: "seq", cols: map[string]column{
			"worker_id": text("worker_id"), "status": text("status"), "heartbeat_stats": doc("heartbeat_stats"),
			"last_heartbeat_time": nullTime("last_heartbeat_time"), "last_dequeue_time": nullTime("last_dequeue_time"),
			"last_busy_time": nullTime("last_busy_time"), "last_idle_time": nullTime("last_idle_time"),
			"current_rollout_id": nullText("current_rollout_id"), "current_attempt_id": nullText("current_attempt_id"),
		}},
	}
}

func invalidf(format string, args ...any) error {
	return &store.InvalidArgumentError{Message: fmt.Sprintf(format, args...)}
}

// where translates f into a condition with "?" placeholders and its
// arguments. Values are always bound, never spliced into the text.
func (tb *table) where(d Dialect, f store.Filter) (string, []any, error) {
	var parts []string
	var args []any
	for _, c := range f.Must {
		s, a, err := tb.cond(d, c)
		if err != nil {
			return "", nil, err
		}
		parts = append(parts, s)
		args = append(args, a...)
	}
	if len(f.Pool) > 0 {
		joiner := " AND "
		switch f.Logic {
		case "", store.LogicAnd:
		case store.LogicOr:
			joiner = " OR "
		default:
			return "", nil, invalidf("Invalid filter_logic: %s, allowed values are: and, or", f.Logic)
		}
		pool := make([]string, 0, len(f.Pool))
		for _, c := range f.Pool {
			s, a, err := tb.cond(d, c)
			if err != nil {
				return "", nil, err
			}
			pool = append(pool, s)
			args = append(args, a...)
		}
		parts = append(parts, "("+strings.Join(pool, joiner)+")")
	}
	if len(parts) == 0 {
		return "1=1", nil, nil
	}
	return strings.Join(parts, " AND "), args, nil
}

func (tb *table) cond(d Dialect, c store.Cond) (string, []any, error) {
	col, ok := tb.cols[c.Field]
	if !ok {
		return "", nil, invalidf("Invalid filter field: %s", c.Field)
	}
	switch c.Op {
	case store.OpExact:
		return "(" + col.expr + " = ?)", []any{col.bind(c.Value)}, nil
	case store.OpWithin:
		if len(c.Values) == 0 {
			return "(1=0)", nil, nil
		}
		args := make([]any, len(c.Values))
		for i, v := range c.Values {
			args[i] = col.bind(v)
		}
		return "(" + col.expr + " IN (" + placeholders(len(c.Values)) + "))", args, nil
	case store.OpContains:
		return "(" + d.Contains(col.expr) + ")", []any{c.Value}, nil
	default:
		return "", nil, invalidf("Invalid filter operator %d on %s", c.Op, c.Field)
	}
}

// bind converts a filter value to the column's type, so that databases with
// strict typing compare numbers with numbers.
func (c column) bind(v string) any {
	if c.kind != kindNumber && c.kind != kindTime {
		return v
	}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	return v
}

// orderBy returns the ORDER BY list for p. Ties always fall back to
// insertion order ascending, also for a descending sort, as a stable sort
// with reverse=True keeps equal items in their original order.
func (tb *table) orderBy(p store.Page) (string, error) {
	if p.SortBy == nil {
		return tb.defaultOrder, nil
	}
	col, ok := tb.cols[*p.SortBy]
	if !ok {
		return "", invalidf("Invalid sort_by: %s", *p.SortBy)
	}
	var desc bool
	switch p.SortOrder {
	case "", store.SortAsc:
	case store.SortDesc:
		desc = true
	default:
		return "", invalidf("Invalid sort_order: %s, allowed values are: asc, desc", p.SortOrder)
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	var key string
	switch {
	case !col.nullable:
		key = col.expr + dir
	case col.kind == kindTime && desc:
		key = col.expr + " DESC NULLS FIRST"
	case col.kind == kindTime:
		key = col.expr + " ASC NULLS LAST"
	case col.kind == kindNumber:
		key = "COALESCE(" + col.expr + ", 0)" + dir
	default:
		key = "COALESCE(" + col.expr + ", '')" + dir
	}
	return key + ", seq ASC", nil
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// limitArgs returns the LIMIT and OFFSET to bind; -1 (all) becomes the
// largest limit both SQLite and PostgreSQL accept.
func limitArgs(p store.Page) (int64, int64) {
	limit := int64(p.Limit)
	if limit < 0 {
		limit = math.MaxInt64
	}
	return limit, int64(max(p.Offset, 0))
}

// knownTotal reports the total when the page itself proves it: a page that
// came back short (and is not past the end) ends at the last match.
func knownTotal(p store.Page, n int) (int, bool) {
	if p.Limit == 0 || (n == 0 && p.Offset > 0) {
		return 0, false
	}
	if p.Limit < 0 || n < p.Limit {
		return max(p.Offset, 0) + n, true
	}
	return 0, false
}
