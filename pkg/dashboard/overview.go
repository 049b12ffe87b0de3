package dashboard

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

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
	curve, err := s.cachedCurve(r, bucket)
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
		"reward_curve": curve,
		"metrics":      s.metrics.read(ctx, s.opts.Now()),
		"diagnostics":  diag,
	})
}

// bucketLadder are the bucket widths the overview picks from when the page
// does not ask for one: an hour unless the rewarded rollouts fall in a few
// buckets (a short run) or in too many (a long one).
var bucketLadder = []float64{1, 10, 60, 600, 3600, 86400}

// curveTTL is how long a reward curve is served before it is recomputed.
// The curve groups every rewarded rollout (seconds of database work at a
// million rollouts), while the overview is polled every few seconds by
// every open page: the curve is recomputed in the background at most this
// often and pages get the last one, with the time it was computed.
const curveTTL = 30 * time.Second

type curveView struct {
	BucketSeconds float64             `json:"bucket_seconds"`
	Points        []store.RewardPoint `json:"points"`
	ComputedAt    float64             `json:"computed_at"`
}

type curveEntry struct {
	view       curveView
	at         time.Time
	refreshing bool
}

// cachedCurve returns the curve for the requested bucket: computed now when
// there is none, else the last one, refreshed in the background once it is
// older than curveTTL.
func (s *server) cachedCurve(r *http.Request, bucket float64) (curveView, error) {
	s.curveMu.Lock()
	e := s.curves[bucket]
	if e != nil {
		view := e.view
		if s.opts.Now().Sub(e.at) >= curveTTL && !e.refreshing {
			e.refreshing = true
			go func() {
				// Detached from the request, which is answered already.
				ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
				defer cancel()
				fresh, err := s.computeCurve(ctx, bucket)
				s.curveMu.Lock()
				defer s.curveMu.Unlock()
				e.refreshing = false
				if err != nil {
					s.opts.Logger.Warn("reward curve refresh failed", zap.Error(err))
					return
				}
				e.view, e.at = fresh, s.opts.Now()
			}()
		}
		s.curveMu.Unlock()
		return view, nil
	}
	s.curveMu.Unlock()
	view, err := s.computeCurve(r.Context(), bucket)
	if err != nil {
		return curveView{}, err
	}
	s.curveMu.Lock()
	s.curves[bucket] = &curveEntry{view: view, at: s.opts.Now()}
	s.curveMu.Unlock()
	return view, nil
}

func (s *server) computeCurve(ctx context.Context, bucket float64) (curveView, error) {
	points, bucket, err := s.rewardCurve(ctx, bucket)
	return curveView{BucketSeconds: bucket, Points: points, ComputedAt: nowSeconds(s.opts.Now())}, err
}

func (s *server) rewardCurve(ctx context.Context, bucket float64) ([]store.RewardPoint, float64, error) {
	if bucket != 0 {
		curve, err := s.store.RewardCurve(ctx, bucket)
		return curve, bucket, err
	}
	i := 4 // an hour
	var tried [6]bool
	for {
		curve, err := s.store.RewardCurve(ctx, bucketLadder[i])
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
