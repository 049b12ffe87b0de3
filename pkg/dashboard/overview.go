package dashboard

import (
	"net/http"
	"strconv"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// diagnosedRollouts is how many of the most recent rollouts the overview's
// diagnosis sums: each costs a read of the attempt's spans.
const diagnosedRollouts = 50

// summaryTTL is how long a diagnosis sum is served before it is redone, so
// that several open pages polling do not multiply the reads.
const summaryTTL = 5 * time.Second

type overviewDiagnostics struct {
	at       time.Time
	Sampled  int              `json:"sampled"`
	Healthy  int              `json:"healthy"`
	Causes   map[Cause]int    `json:"causes"`
	Examples map[Cause]string `json:"examples"`
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	bucket := 0.0 // chosen from the data
	if b := r.URL.Query().Get("bucket"); b != "" {
		v, err := strconv.ParseFloat(b, 64)
		if err != nil {
			s.fail(w, r, badRequest("bucket: not a number: %q", b))
			return
		}
		bucket = v
	}
	statuses, err := s.store.RolloutStatusCounts(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	stats, err := s.store.Statistics(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	curve, bucket, err := s.rewardCurve(r, bucket)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	diag, err := s.diagnosisSummary(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, map[string]any{
		"statuses":     statuses,
		"statistics":   stats,
		"reward_curve": map[string]any{"bucket_seconds": bucket, "points": curve},
		"metrics":      s.metrics.read(ctx, s.opts.Now()),
		"diagnostics":  diag,
	})
}

// bucketLadder are the bucket widths the overview picks from when the page
// does not ask for one: an hour unless the rewarded rollouts fall in a few
// buckets (a short run) or in too many (a long one).
var bucketLadder = []float64{1, 10, 60, 600, 3600, 86400}

func (s *server) rewardCurve(r *http.Request, bucket float64) ([]store.RewardPoint, float64, error) {
	if bucket != 0 {
		curve, err := s.store.RewardCurve(r.Context(), bucket)
		return curve, bucket, err
	}
	i := 4 // an hour
	var tried [6]bool
	for {
		curve, err := s.store.RewardCurve(r.Context(), bucketLadder[i])
		if err != nil {
			return nil, 0, err
		}
		tried[i] = true
		n := distinctBuckets(curve)
		switch {
		case n <= 3 && i > 0 && !tried[i-1]:
			i--
		case n > 300 && i < len(bucketLadder)-1 && !tried[i+1]:
			i++
		default:
			return curve, bucketLadder[i], nil
		}
	}
}

func distinctBuckets(curve []store.RewardPoint) int {
	n := 0
	for i, p := range curve {
		if i == 0 || p.Bucket != curve[i-1].Bucket {
			n++
		}
	}
	return n
}

// diagnosisSummary sums the findings of the latest attempts of the most
// recent rollouts.
func (s *server) diagnosisSummary(r *http.Request) (*overviewDiagnostics, error) {
	s.summaryMu.Lock()
	defer s.summaryMu.Unlock()
	now := s.opts.Now()
	if s.summary != nil && now.Sub(s.summary.at) < summaryTTL {
		return s.summary, nil
	}
	page, err := s.store.BrowseRollouts(r.Context(), store.BrowseQuery{Limit: diagnosedRollouts, Desc: true})
	if err != nil {
		return nil, err
	}
	sum := &overviewDiagnostics{at: now, Causes: map[Cause]int{}, Examples: map[Cause]string{}}
	for i := range page.Items {
		ro := &page.Items[i].Rollout
		in := Input{Rollout: ro}
		if ro.Attempt != nil {
			if in, err = s.load(r, ro, ro.Attempt, 0, 0); err != nil {
				return nil, err
			}
		}
		findings := Diagnose(in)
		sum.Sampled++
		if len(findings) == 0 {
			sum.Healthy++
		}
		for _, f := range findings {
			sum.Causes[f.Cause]++
			if _, ok := sum.Examples[f.Cause]; !ok {
				sum.Examples[f.Cause] = ro.RolloutID
			}
		}
	}
	s.summary = sum
	return sum, nil
}
