package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

var _ store.BrowseTx = (*tx)(nil)

// BrowseRollouts builds one keyset page: the filters, then (sort column,
// seq) past the cursor in the sort direction, which the rollouts_start,
// rollouts_status_start and rollouts_reward indexes answer as a range scan.
func (t *tx) BrowseRollouts(q store.BrowseQuery, after *store.BrowseCursor) ([]store.BrowseRow, error) {
	const op = "browse rollouts"
	var where []string
	var args []any
	if q.Status != nil {
		if len(q.Status) == 0 {
			return []store.BrowseRow{}, nil
		}
		marks := make([]string, len(q.Status))
		for i, s := range q.Status {
			marks[i] = "?"
			args = append(args, string(s))
		}
		where = append(where, "status IN ("+strings.Join(marks, ", ")+")")
	}
	if q.Mode != "" {
		where, args = append(where, "mode = ?"), append(args, q.Mode)
	}
	if q.ResourcesID != "" {
		where, args = append(where, "resources_id = ?"), append(args, q.ResourcesID)
	}
	if q.IDPrefix != "" {
		// Every id starting with the prefix sorts between it and the prefix
		// followed by the last code point (both databases compare bytes).
		where, args = append(where, "rollout_id >= ? AND rollout_id < ?"), append(args, q.IDPrefix, q.IDPrefix+"\U0010FFFF")
	}
	if q.StartedAfter != 0 {
		where, args = append(where, "start_time >= ?"), append(args, q.StartedAfter)
	}
	if q.StartedBefore != 0 {
		where, args = append(where, "start_time < ?"), append(args, q.StartedBefore)
	}
	col := "start_time"
	if q.SortBy == store.BrowseByReward {
		col = "reward"
	}
	if q.SortBy == store.BrowseByReward || q.MinReward != nil || q.MaxReward != nil {
		where = append(where, "reward IS NOT NULL")
	}
	if q.MinReward != nil {
		where, args = append(where, "reward >= ?"), append(args, *q.MinReward)
	}
	if q.MaxReward != nil {
		where, args = append(where, "reward <= ?"), append(args, *q.MaxReward)
	}
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	if after != nil {
		// (col, seq) past the cursor, spelled so that both databases seek
		// the index to the cursor: the first condition is a range on the
		// leading column, the second only breaks ties.
		where = append(where, col+" "+cmp+"= ?", "("+col+" "+cmp+" ? OR seq "+cmp+" ?)")
		args = append(args, after.Value, after.Value, after.Seq)
	}
	text := "SELECT seq, reward, doc FROM rollouts"
	if len(where) > 0 {
		text += " WHERE " + strings.Join(where, " AND ")
	}
	order := col
	if q.IDPrefix != "" {
		// A prefix selects few rows through the rollout_id index; ordering
		// by an expression keeps the planner from walking the sort index
		// instead and filtering every row.
		order = "+" + col
	}
	text += " ORDER BY " + order + " " + dir + ", seq " + dir + " LIMIT ?"
	args = append(args, q.Limit)
	rows, err := t.queryText(t.b.d.Rebind(text), args...)
	if err != nil {
		return nil, t.wrap(op, err)
	}
	defer rows.Close()
	out := []store.BrowseRow{}
	for rows.Next() {
		var row store.BrowseRow
		var reward sql.NullFloat64
		var doc []byte
		if err := rows.Scan(&row.Seq, &reward, &doc); err != nil {
			return nil, t.wrap(op, err)
		}
		if reward.Valid {
			v := reward.Float64
			row.Reward = &v
		}
		if err := json.Unmarshal(doc, &row.Rollout); err != nil {
			return nil, fmt.Errorf("%s: decode stored document: %w", op, err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, t.wrap(op, err)
	}
	return out, nil
}

// RolloutStatusCounts is an index-only GROUP BY on rollouts_status.
func (t *tx) RolloutStatusCounts() (map[string]int, error) {
	const op = "count rollouts by status"
	rows, err := t.queryText(`SELECT status, COUNT(*) FROM rollouts GROUP BY status`)
	if err != nil {
		return nil, t.wrap(op, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, t.wrap(op, err)
		}
		out[status] = n
	}
	return out, t.wrap(op, rows.Err())
}

// RewardCurve groups the rewarded rollouts (rollouts_reward) by start-time
// bucket and resources version.
func (t *tx) RewardCurve(bucketSeconds float64) ([]store.RewardPoint, error) {
	const op = "reward curve"
	text := t.b.d.Rebind(`SELECT FLOOR(start_time / ?) * ?, COALESCE(resources_id, ''), AVG(reward), COUNT(*)
		FROM rollouts WHERE reward IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`)
	rows, err := t.queryText(text, bucketSeconds, bucketSeconds)
	if err != nil {
		return nil, t.wrap(op, err)
	}
	defer rows.Close()
	out := []store.RewardPoint{}
	for rows.Next() {
		var p store.RewardPoint
		if err := rows.Scan(&p.Bucket, &p.ResourcesID, &p.Mean, &p.Count); err != nil {
			return nil, t.wrap(op, err)
		}
		out = append(out, p)
	}
	return out, t.wrap(op, rows.Err())
}
