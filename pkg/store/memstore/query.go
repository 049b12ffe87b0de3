package memstore

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// kind is how a model field compares when filtered or sorted.
type kind uint8

const (
	kindString kind = iota
	kindNumber
	// kindJSON covers objects and arrays (input, metadata, config,
	// attributes...); they compare by their JSON text.
	kindJSON
)

// value is one field of one record, ready to compare.
type value struct {
	null bool
	s    string // the string, or the JSON text of a kindJSON field
	n    float64
}

// field reads one JSON-named field of a model.
type field[T any] struct {
	name string
	kind kind
	get  func(*T) value
}

// schema lists the queryable fields of a model in declaration order, the
// order Agent Lightning names them in its "allowed fields" message.
type schema[T any] []field[T]

func (s schema[T]) lookup(name string) (field[T], bool) {
	for _, f := range s {
		if f.name == name {
			return f, true
		}
	}
	return field[T]{}, false
}

func (s schema[T]) names() string {
	names := make([]string, len(s))
	for i, f := range s {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

func strField[T any](name string, get func(*T) string) field[T] {
	return field[T]{name: name, kind: kindString, get: func(r *T) value { return value{s: get(r)} }}
}

func optStrField[T any](name string, get func(*T) *string) field[T] {
	return field[T]{name: name, kind: kindString, get: func(r *T) value {
		if p := get(r); p != nil {
			return value{s: *p}
		}
		return value{null: true}
	}}
}

func numField[T any](name string, get func(*T) float64) field[T] {
	return field[T]{name: name, kind: kindNumber, get: func(r *T) value { return value{n: get(r)} }}
}

func optNumField[T any](name string, get func(*T) *float64) field[T] {
	return field[T]{name: name, kind: kindNumber, get: func(r *T) value {
		if p := get(r); p != nil {
			return value{n: *p}
		}
		return value{null: true}
	}}
}

func rawField[T any](name string, get func(*T) json.RawMessage) field[T] {
	return field[T]{name: name, kind: kindJSON, get: func(r *T) value {
		b := get(r)
		if len(b) == 0 || string(b) == "null" {
			return value{null: true}
		}
		return value{s: string(b)}
	}}
}

// objField compares a struct-valued field by its encoded form.
func objField[T any](name string, get func(*T) any) field[T] {
	return field[T]{name: name, kind: kindJSON, get: func(r *T) value {
		v := get(r)
		b, err := json.Marshal(v)
		if err != nil || string(b) == "null" {
			return value{null: true}
		}
		return value{s: string(b)}
	}}
}

func strPtr[S ~string](p *S) *string {
	if p == nil {
		return nil
	}
	s := string(*p)
	return &s
}

var rolloutSchema = schema[model.Rollout]{
	strField("rollout_id", func(r *model.Rollout) string { return r.RolloutID }),
	rawField("input", func(r *model.Rollout) json.RawMessage { return r.Input }),
	numField("start_time", func(r *model.Rollout) float64 { return r.StartTime }),
	optNumField("end_time", func(r *model.Rollout) *float64 { return r.EndTime }),
	optStrField("mode", func(r *model.Rollout) *string { return strPtr(r.Mode) }),
	optStrField("resources_id", func(r *model.Rollout) *string { return r.ResourcesID }),
	strField("status", func(r *model.Rollout) string { return string(r.Status) }),
	objField("config", func(r *model.Rollout) any { return r.Config }),
	rawField("metadata", func(r *model.Rollout) json.RawMessage { return r.Metadata }),
}

var attemptSchema = schema[model.Attempt]{
	strField("rollout_id", func(a *model.Attempt) string { return a.RolloutID }),
	strField("attempt_id", func(a *model.Attempt) string { return a.AttemptID }),
	numField("sequence_id", func(a *model.Attempt) float64 { return float64(a.SequenceID) }),
	numField("start_time", func(a *model.Attempt) float64 { return a.StartTime }),
	optNumField("end_time", func(a *model.Attempt) *float64 { return a.EndTime }),
	strField("status", func(a *model.Attempt) string { return string(a.Status) }),
	optStrField("worker_id", func(a *model.Attempt) *string { return a.WorkerID }),
	optNumField("last_heartbeat_time", func(a *model.Attempt) *float64 { return a.LastHeartbeatTime }),
	rawField("metadata", func(a *model.Attempt) json.RawMessage { return a.Metadata }),
}

var spanSchema = schema[model.Span]{
	strField("rollout_id", func(s *model.Span) string { return s.RolloutID }),
	strField("attempt_id", func(s *model.Span) string { return s.AttemptID }),
	numField("sequence_id", func(s *model.Span) float64 { return float64(s.SequenceID) }),
	strField("trace_id", func(s *model.Span) string { return s.TraceID }),
	strField("span_id", func(s *model.Span) string { return s.SpanID }),
	optStrField("parent_id", func(s *model.Span) *string { return s.ParentID }),
	strField("name", func(s *model.Span) string { return s.Name }),
	objField("status", func(s *model.Span) any { return s.Status }),
	objField("attributes", func(s *model.Span) any { return s.Attributes }),
	objField("events", func(s *model.Span) any { return s.Events }),
	objField("links", func(s *model.Span) any { return s.Links }),
	optNumField("start_time", func(s *model.Span) *float64 { return s.StartTime }),
	optNumField("end_time", func(s *model.Span) *float64 { return s.EndTime }),
	objField("context", func(s *model.Span) any { return s.Context }),
	objField("parent", func(s *model.Span) any { return s.Parent }),
	objField("resource", func(s *model.Span) any { return s.Resource }),
}

var resourcesSchema = schema[model.ResourcesUpdate]{
	strField("resources_id", func(r *model.ResourcesUpdate) string { return r.ResourcesID }),
	numField("create_time", func(r *model.ResourcesUpdate) float64 { return r.CreateTime }),
	numField("update_time", func(r *model.ResourcesUpdate) float64 { return r.UpdateTime }),
	numField("version", func(r *model.ResourcesUpdate) float64 { return float64(r.Version) }),
	objField("resources", func(r *model.ResourcesUpdate) any { return r.Resources }),
}

var workerSchema = schema[model.Worker]{
	strField("worker_id", func(w *model.Worker) string { return w.WorkerID }),
	strField("status", func(w *model.Worker) string { return string(w.Status) }),
	rawField("heartbeat_stats", func(w *model.Worker) json.RawMessage { return w.HeartbeatStats }),
	optNumField("last_heartbeat_time", func(w *model.Worker) *float64 { return w.LastHeartbeatTime }),
	optNumField("last_dequeue_time", func(w *model.Worker) *float64 { return w.LastDequeueTime }),
	optNumField("last_busy_time", func(w *model.Worker) *float64 { return w.LastBusyTime }),
	optNumField("last_idle_time", func(w *model.Worker) *float64 { return w.LastIdleTime }),
	optStrField("current_rollout_id", func(w *model.Worker) *string { return w.CurrentRolloutID }),
	optStrField("current_attempt_id", func(w *model.Worker) *string { return w.CurrentAttemptID }),
}

// query filters rows (given in their default order), sorts them stably when
// the page asks for it, and cuts the page. It returns the page and the
// number of matches before paging. Every argument is checked before any row
// is looked at, so a bad request fails the same way on an empty table.
func query[T any](rows []*T, sc schema[T], f store.Filter, p store.Page) ([]*T, int, error) {
	match, err := compileFilter(sc, f)
	if err != nil {
		return nil, 0, err
	}
	sorter, err := compileSort(sc, p)
	if err != nil {
		return nil, 0, err
	}
	if err := checkPage(p); err != nil {
		return nil, 0, err
	}
	matched := make([]*T, 0, len(rows))
	for _, r := range rows {
		if match(r) {
			matched = append(matched, r)
		}
	}
	if sorter != nil {
		matched = sorter(matched)
	}
	return paginate(matched, p), len(matched), nil
}

// compileFilter turns f into a predicate: the Pool combined by Logic (an
// empty pool matches everything), with every Must condition ANDed on top.
func compileFilter[T any](sc schema[T], f store.Filter) (func(*T) bool, error) {
	var or bool
	switch f.Logic {
	case "", store.LogicAnd:
	case store.LogicOr:
		or = true
	default:
		return nil, &store.InvalidArgumentError{Message: fmt.Sprintf("Invalid filter_logic: %s, allowed values are: and, or", f.Logic)}
	}
	must, err := compileConds(sc, f.Must)
	if err != nil {
		return nil, err
	}
	pool, err := compileConds(sc, f.Pool)
	if err != nil {
		return nil, err
	}
	return func(r *T) bool {
		for _, c := range must {
			if !c(r) {
				return false
			}
		}
		if len(pool) == 0 {
			return true
		}
		for _, c := range pool {
			if c(r) == or {
				return or
			}
		}
		return !or
	}, nil
}

func compileConds[T any](sc schema[T], conds []store.Cond) ([]func(*T) bool, error) {
	out := make([]func(*T) bool, 0, len(conds))
	for _, c := range conds {
		fd, ok := sc.lookup(c.Field)
		if !ok {
			return nil, &store.InvalidArgumentError{Message: fmt.Sprintf("Invalid filter field: %s, allowed fields are: %s", c.Field, sc.names())}
		}
		switch c.Op {
		case store.OpExact, store.OpWithin, store.OpContains:
		default:
			return nil, &store.InvalidArgumentError{Message: fmt.Sprintf("Invalid filter operator %d on field %s", c.Op, c.Field)}
		}
		out = append(out, func(r *T) bool { return matches(fd.kind, fd.get(r), c) })
	}
	return out, nil
}

// matches evaluates one condition. A null field never matches: Python
// compares None with a string (false) or tests membership in a list of
// strings (false), and contains skips nulls explicitly.
func matches(k kind, v value, c store.Cond) bool {
	if v.null {
		return false
	}
	switch c.Op {
	case store.OpExact:
		return equals(k, v, c.Value)
	case store.OpWithin:
		for _, want := range c.Values {
			if equals(k, v, want) {
				return true
			}
		}
		return false
	case store.OpContains:
		return contains(k, v, c.Value)
	}
	return false
}

func equals(k kind, v value, want string) bool {
	if k == kindNumber {
		n, err := strconv.ParseFloat(want, 64)
		return err == nil && n == v.n
	}
	return v.s == want
}

// contains is a substring test on strings and a membership test on JSON
// arrays, as Python's `in` is; numbers and objects never match.
func contains(k kind, v value, want string) bool {
	switch k {
	case kindString:
		return strings.Contains(v.s, want)
	case kindJSON:
		var items []any
		if json.Unmarshal([]byte(v.s), &items) != nil {
			return false
		}
		for _, it := range items {
			if s, ok := it.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// sortKey is a field value with nulls replaced by the value they sort as.
type sortKey struct {
	n float64
	s string
}

// compileSort returns nil when no sort is asked (rows keep their default
// order), or a stable sort on the named field. Descending order uses a
// reversed comparator rather than a reversed result, so ties keep
// insertion order both ways.
func compileSort[T any](sc schema[T], p store.Page) (func([]*T) []*T, error) {
	var desc bool
	switch p.SortOrder {
	case "", store.SortAsc:
	case store.SortDesc:
		desc = true
	default:
		return nil, &store.InvalidArgumentError{Message: fmt.Sprintf("Invalid sort_order: %s, allowed values are: asc, desc", p.SortOrder)}
	}
	if p.SortBy == nil {
		return nil, nil
	}
	fd, ok := sc.lookup(*p.SortBy)
	if !ok {
		return nil, &store.InvalidArgumentError{Message: fmt.Sprintf("Invalid sort_by: %s, allowed fields are: %s", *p.SortBy, sc.names())}
	}
	nullKey := nullSortKey(fd)
	return func(rows []*T) []*T {
		type keyed struct {
			key sortKey
			row *T
		}
		ks := make([]keyed, len(rows))
		for i, r := range rows {
			v := fd.get(r)
			k := sortKey{n: v.n, s: v.s}
			if v.null {
				k = nullKey
			}
			ks[i] = keyed{key: k, row: r}
		}
		slices.SortStableFunc(ks, func(a, b keyed) int {
			c := compareKeys(fd.kind, a.key, b.key)
			if desc {
				return -c
			}
			return c
		})
		out := make([]*T, len(ks))
		for i, k := range ks {
			out[i] = k.row
		}
		return out
	}, nil
}

// nullSortKey is where a null sorts (spec §2.2): fields named *_time sort
// as +∞, so unfinished work comes last in ascending order; other strings as
// "", other numbers as 0.
func nullSortKey[T any](fd field[T]) sortKey {
	if strings.HasSuffix(fd.name, "_time") {
		return sortKey{n: math.Inf(1)}
	}
	return sortKey{}
}

func compareKeys(k kind, a, b sortKey) int {
	if k == kindNumber {
		return cmp.Compare(a.n, b.n)
	}
	return strings.Compare(a.s, b.s)
}

func checkPage(p store.Page) error {
	if p.Limit < -1 {
		return &store.InvalidArgumentError{Message: "Limit must be greater than 0 or -1 for no limit"}
	}
	if p.Offset < 0 {
		return &store.InvalidArgumentError{Message: "Offset must be greater than or equal to 0"}
	}
	return nil
}

// paginate skips Offset rows and keeps at most Limit (-1: all, 0: none).
func paginate[T any](rows []*T, p store.Page) []*T {
	if p.Offset >= len(rows) {
		return nil
	}
	rows = rows[p.Offset:]
	if p.Limit >= 0 && p.Limit < len(rows) {
		rows = rows[:p.Limit]
	}
	return rows
}
