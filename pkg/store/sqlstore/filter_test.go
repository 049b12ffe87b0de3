package sqlstore

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// dollarDialect is a PostgreSQL-like dialect, enough to check the SQL text
// sqlstore builds without a database.
type dollarDialect struct{}

func (dollarDialect) Name() string            { return "test" }
func (dollarDialect) Migrations() []Migration { return nil }
func (dollarDialect) MigrationLock() string   { return "" }
func (dollarDialect) Contains(col string) string {
	return col + " IS NOT NULL AND strpos(" + col + ", ?) > 0"
}
func (dollarDialect) Greatest(a, b string) string { return "GREATEST(" + a + ", " + b + ")" }
func (dollarDialect) JSONText(doc, key string) string {
	return "(" + doc + "::json -> '" + key + "')::text"
}
func (dollarDialect) ForUpdate() string               { return "FOR UPDATE" }
func (dollarDialect) QueuePop() string                { return "DELETE FROM rollout_queue WHERE pos IN (?)" }
func (dollarDialect) UpdateTxOptions() *sql.TxOptions { return nil }
func (dollarDialect) ViewTxOptions() *sql.TxOptions   { return nil }
func (dollarDialect) IsTransient(error) bool          { return false }
func (dollarDialect) Rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestWhere(t *testing.T) {
	d := dollarDialect{}
	tb := buildTables(d).spans
	must := []store.Cond{{Field: "rollout_id", Op: store.OpExact, Value: "ro-1"}}
	tests := []struct {
		name  string
		f     store.Filter
		where string
		args  []any
	}{
		{"empty", store.Filter{}, "1=1", nil},
		{"must only", store.Filter{Must: must}, "(rollout_id = ?)", []any{"ro-1"}},
		{"or pool under must", store.Filter{Must: must, Logic: store.LogicOr, Pool: []store.Cond{
			{Field: "name", Op: store.OpContains, Value: "a%"},
			{Field: "parent_id", Op: store.OpWithin, Values: []string{"x", "y"}},
		}}, "(rollout_id = ?) AND ((name IS NOT NULL AND strpos(name, ?) > 0) OR (parent_id IN (?, ?)))", []any{"ro-1", "a%", "x", "y"}},
		{"empty within is false", store.Filter{Pool: []store.Cond{{Field: "span_id", Op: store.OpWithin}}}, "((1=0))", nil},
		{"numbers bind as numbers", store.Filter{Pool: []store.Cond{{Field: "sequence_id", Op: store.OpExact, Value: "3"}}}, "((sequence_id = ?))", []any{int64(3)}},
		{"json field", store.Filter{Pool: []store.Cond{{Field: "attributes", Op: store.OpContains, Value: "k"}}},
			"(((doc::json -> 'attributes')::text IS NOT NULL AND strpos((doc::json -> 'attributes')::text, ?) > 0))", []any{"k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			where, args, err := tb.where(d, tc.f)
			require.NoError(t, err)
			assert.Equal(t, tc.where, where)
			assert.Equal(t, tc.args, args)
		})
	}
}

func TestOrderBy(t *testing.T) {
	tbs := buildTables(dollarDialect{})
	sort := func(field, order string) store.Page { return store.Page{SortBy: &field, SortOrder: order} }
	tests := []struct {
		name string
		tb   table
		p    store.Page
		want string
	}{
		{"rollouts default", tbs.rollouts, store.Page{}, "seq"},
		{"spans default", tbs.spans, store.Page{}, "sequence_id, seq"},
		{"non-null column uses the index", tbs.spans, sort("sequence_id", "asc"), "sequence_id ASC, seq ASC"},
		{"desc ties ascending", tbs.spans, sort("sequence_id", "desc"), "sequence_id DESC, seq ASC"},
		{"null time last", tbs.spans, sort("start_time", "asc"), "start_time ASC NULLS LAST, seq ASC"},
		{"null time first in desc", tbs.spans, sort("end_time", "desc"), "end_time DESC NULLS FIRST, seq ASC"},
		{"null string as empty", tbs.rollouts, sort("mode", ""), "COALESCE(mode, '') ASC, seq ASC"},
		{"json text", tbs.workers, sort("heartbeat_stats", "desc"), "COALESCE((doc::json -> 'heartbeat_stats')::text, '') DESC, seq ASC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.tb.orderBy(tc.p)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestKnownTotal(t *testing.T) {
	tests := []struct {
		limit, offset, n int
		total            int
		ok               bool
	}{
		{-1, 0, 0, 0, true},
		{-1, 2, 3, 5, true},
		{-1, 9, 0, 0, false}, // past the end: the total is unknown
		{5, 0, 3, 3, true},
		{3, 0, 3, 0, false}, // a full page may have more behind it
		{0, 0, 0, 0, false},
	}
	for _, tc := range tests {
		total, ok := knownTotal(store.Page{Limit: tc.limit, Offset: tc.offset}, tc.n)
		assert.Equal(t, tc.ok, ok, "%+v", tc)
		if ok {
			assert.Equal(t, tc.total, total, "%+v", tc)
		}
	}
}

// TestQueriesRebound checks that every fixed statement was rebound and
// locks only where asked.
func TestQueriesRebound(t *testing.T) {
	q := buildQueries(dollarDialect{})
	for id := range numStmts {
		assert.NotContains(t, q.sql[id], "?", "statement %d", id)
		assert.NotContains(t, q.read[id], "FOR UPDATE", "statement %d", id)
	}
	assert.True(t, strings.HasSuffix(q.sql[stmtGetRollout], "FOR UPDATE"))
	assert.Contains(t, q.sql[stmtSeqRaise], "GREATEST(span_sequence.value, excluded.value)")
}
