package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// The sort keys of BrowseQuery.
const (
	BrowseByStartTime = "start_time"
	BrowseByReward    = "reward"
)

// BrowseQuery selects one page of rollouts for a human reader (the
// dashboard): any combination of filters, one sort key, and keyset
// pagination, so that the thousandth page costs what the first does. Unlike
// RolloutQuery it never counts the matches (a count of a million rows is
// the slow part of an offset page).
type BrowseQuery struct {
	Status      []model.RolloutStatus
	Mode        string
	ResourcesID string
	// IDPrefix matches the start of the rollout id (an index range; a
	// substring would read every rollout).
	IDPrefix string
	// StartedAfter / StartedBefore bound start_time (Unix seconds,
	// inclusive / exclusive); 0 leaves the bound open.
	StartedAfter, StartedBefore float64
	// MinReward / MaxReward bound the rollout's reward (inclusive); a
	// bounded query leaves out rollouts without a reward.
	MinReward, MaxReward *float64
	// SortBy is BrowseByStartTime (default) or BrowseByReward; sorting by
	// reward lists only rollouts that have one.
	SortBy string
	Desc   bool
	// After is the Next cursor of the previous page ("" for the first).
	After string
	// Limit is the page size, 1..1000.
	Limit int
}

// BrowseCursor is the position after the last row of a page: its sort value
// and its insertion sequence (the tie breaker).
type BrowseCursor struct {
	Value float64 `json:"v"`
	Seq   int64   `json:"s"`
}

// BrowseRow is one rollout of a page with its reward: the last non-null
// triplet reward of the attempt whose triplets were written last.
type BrowseRow struct {
	Rollout model.Rollout
	Reward  *float64
	Seq     int64
}

// BrowsePage is a page of rollouts and the cursor of the next one ("" when
// this is the last).
type BrowsePage struct {
	Items []BrowseRow
	Next  string
}

// RewardPoint is the mean reward of the rollouts started in one time
// bucket under one resources version.
type RewardPoint struct {
	Bucket      float64 `json:"bucket"` // the bucket's start, Unix seconds
	ResourcesID string  `json:"resources_id"`
	Mean        float64 `json:"mean"`
	Count       int     `json:"count"`
}

// Browser is what Core offers a human reader (the dashboard) on top of
// Store.
type Browser interface {
	BrowseRollouts(ctx context.Context, q BrowseQuery) (BrowsePage, error)
	RolloutStatusCounts(ctx context.Context) (map[string]int, error)
	RewardCurve(ctx context.Context, bucketSeconds float64) ([]RewardPoint, error)
}

var _ Browser = (*Core)(nil)

// BrowseTx is implemented by backends that answer the dashboard's queries
// in the database (the SQL backends, with indexes for them). Core answers
// them by scanning for a backend without it (memstore).
type BrowseTx interface {
	BrowseRollouts(q BrowseQuery, after *BrowseCursor) ([]BrowseRow, error)
	RolloutStatusCounts() (map[string]int, error)
	RewardCurve(bucketSeconds float64) ([]RewardPoint, error)
}

// ErrBadCursor is the cause of the InvalidArgumentError returned for an
// After cursor this store did not make.
var ErrBadCursor = errors.New("invalid page cursor")

// Validate checks the query's values.
func (q *BrowseQuery) Validate() error {
	switch q.SortBy {
	case "":
		q.SortBy = BrowseByStartTime
	case BrowseByStartTime, BrowseByReward:
	default:
		return invalid("sort must be %q or %q, got %q", BrowseByStartTime, BrowseByReward, q.SortBy)
	}
	if q.Limit < 1 || q.Limit > 1000 {
		return invalid("limit must be 1..1000, got %d", q.Limit)
	}
	for _, v := range []*float64{q.MinReward, q.MaxReward} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return invalid("reward bounds must be finite")
		}
	}
	return nil
}

func encodeCursor(c BrowseCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*BrowseCursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	var c BrowseCursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, ErrBadCursor
	}
	return &c, nil
}

// BrowseRollouts returns one page of rollouts with their latest attempts.
func (c *Core) BrowseRollouts(ctx context.Context, q BrowseQuery) (BrowsePage, error) {
	if err := q.Validate(); err != nil {
		return BrowsePage{}, err
	}
	after, err := decodeCursor(q.After)
	if err != nil {
		return BrowsePage{}, invalid("%v", err)
	}
	var page BrowsePage
	err = c.view(ctx, func(tx Tx) error {
		// One row more than asked tells whether there is a next page.
		probe := q
		probe.Limit = q.Limit + 1
		var rows []BrowseRow
		var err error
		if bt, ok := tx.(BrowseTx); ok {
			rows, err = bt.BrowseRollouts(probe, after)
		} else {
			rows, err = scanBrowse(tx, probe, after)
		}
		if err != nil {
			return err
		}
		if len(rows) > q.Limit {
			rows = rows[:q.Limit]
			last := rows[len(rows)-1]
			page.Next = encodeCursor(BrowseCursor{Value: browseValue(q.SortBy, last), Seq: last.Seq})
		}
		ids := make([]string, len(rows))
		for i := range rows {
			ids[i] = rows[i].Rollout.RolloutID
		}
		latest, err := tx.LatestAttempts(ids)
		for i := range rows {
			rows[i].Rollout.Attempt = latest[rows[i].Rollout.RolloutID]
		}
		page.Items = rows
		return err
	})
	return page, err
}

func browseValue(sortBy string, r BrowseRow) float64 {
	if sortBy == BrowseByReward && r.Reward != nil {
		return *r.Reward
	}
	return r.Rollout.StartTime
}

// RolloutStatusCounts counts the rollouts in each status.
func (c *Core) RolloutStatusCounts(ctx context.Context) (map[string]int, error) {
	var out map[string]int
	err := c.view(ctx, func(tx Tx) error {
		var err error
		if bt, ok := tx.(BrowseTx); ok {
			out, err = bt.RolloutStatusCounts()
			return err
		}
		rows, err := scanBrowse(tx, BrowseQuery{SortBy: BrowseByStartTime, Limit: math.MaxInt}, nil)
		out = map[string]int{}
		for _, r := range rows {
			out[string(r.Rollout.Status)]++
		}
		return err
	})
	return out, err
}

// RewardCurve is the mean rollout reward per start-time bucket and
// resources version, oldest bucket first.
func (c *Core) RewardCurve(ctx context.Context, bucketSeconds float64) ([]RewardPoint, error) {
	if !(bucketSeconds >= 1) {
		return nil, invalid("bucket must be at least 1 second")
	}
	var out []RewardPoint
	err := c.view(ctx, func(tx Tx) error {
		var err error
		if bt, ok := tx.(BrowseTx); ok {
			out, err = bt.RewardCurve(bucketSeconds)
			return err
		}
		rows, err := scanBrowse(tx, BrowseQuery{SortBy: BrowseByStartTime, Limit: math.MaxInt}, nil)
		out = CurveOf(rows, bucketSeconds)
		return err
	})
	return out, err
}

// CurveOf computes the reward curve of rows in Go: the reference the SQL
// backends' GROUP BY is tested against, and memstore's answer.
func CurveOf(rows []BrowseRow, bucketSeconds float64) []RewardPoint {
	type key struct {
		bucket float64
		res    string
	}
	sums := map[key]*RewardPoint{}
	for _, r := range rows {
		if r.Reward == nil {
			continue
		}
		k := key{math.Floor(r.Rollout.StartTime/bucketSeconds) * bucketSeconds, deref(r.Rollout.ResourcesID)}
		p := sums[k]
		if p == nil {
			p = &RewardPoint{Bucket: k.bucket, ResourcesID: k.res}
			sums[k] = p
		}
		p.Mean += *r.Reward
		p.Count++
	}
	out := make([]RewardPoint, 0, len(sums))
	for _, p := range sums {
		p.Mean /= float64(p.Count)
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bucket != out[j].Bucket {
			return out[i].Bucket < out[j].Bucket
		}
		return out[i].ResourcesID < out[j].ResourcesID
	})
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// scanBrowse answers a BrowseQuery by reading every rollout: for backends
// that hold everything in memory.
func scanBrowse(tx Tx, q BrowseQuery, after *BrowseCursor) ([]BrowseRow, error) {
	all, _, err := tx.QueryRollouts(Filter{}, AllPage())
	if err != nil {
		return nil, err
	}
	var rows []BrowseRow
	for i, r := range all {
		row := BrowseRow{Rollout: r, Seq: int64(i + 1)}
		if row.Reward, err = rolloutReward(tx, r.RolloutID); err != nil {
			return nil, err
		}
		if browseMatch(q, row) {
			rows = append(rows, row)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := browseValue(q.SortBy, rows[i]), browseValue(q.SortBy, rows[j])
		if a != b {
			return (a < b) != q.Desc
		}
		return (rows[i].Seq < rows[j].Seq) != q.Desc
	})
	if after != nil {
		i := sort.Search(len(rows), func(i int) bool {
			v, s := browseValue(q.SortBy, rows[i]), rows[i].Seq
			if q.Desc {
				return v < after.Value || (v == after.Value && s < after.Seq)
			}
			return v > after.Value || (v == after.Value && s > after.Seq)
		})
		rows = rows[i:]
	}
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
	}
	return rows, nil
}

// rolloutReward is the reward the SQL backends keep in a column: the last
// non-null reward among the triplets written last.
func rolloutReward(tx Tx, rolloutID string) (*float64, error) {
	ts, err := tx.QueryTriplets(rolloutID, "")
	if err != nil {
		return nil, err
	}
	var best *float64
	var bestRev int
	for _, t := range ts {
		if t.Triplet.Reward != nil && t.Revision >= bestRev {
			best, bestRev = t.Triplet.Reward, t.Revision
		}
	}
	return best, nil
}

// TripletsReward is the reward a rollout takes from a list of triplets: the
// last non-null one.
func TripletsReward(ts []model.TripletRecord) *float64 {
	var out *float64
	for _, t := range ts {
		if t.Triplet.Reward != nil {
			v := *t.Triplet.Reward
			out = &v
		}
	}
	return out
}

func browseMatch(q BrowseQuery, r BrowseRow) bool {
	ro := r.Rollout
	if q.Status != nil {
		found := false
		for _, s := range q.Status {
			found = found || s == ro.Status
		}
		if !found {
			return false
		}
	}
	if q.Mode != "" && (ro.Mode == nil || string(*ro.Mode) != q.Mode) {
		return false
	}
	if q.ResourcesID != "" && deref(ro.ResourcesID) != q.ResourcesID {
		return false
	}
	if q.IDPrefix != "" && !strings.HasPrefix(ro.RolloutID, q.IDPrefix) {
		return false
	}
	if q.StartedAfter != 0 && ro.StartTime < q.StartedAfter {
		return false
	}
	if q.StartedBefore != 0 && ro.StartTime >= q.StartedBefore {
		return false
	}
	if (q.MinReward != nil || q.MaxReward != nil || q.SortBy == BrowseByReward) && r.Reward == nil {
		return false
	}
	if q.MinReward != nil && *r.Reward < *q.MinReward {
		return false
	}
	if q.MaxReward != nil && *r.Reward > *q.MaxReward {
		return false
	}
	return true
}
