package lightningstoreextension

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/internal/traceshttp"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/aglv1"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// tracesBridge hands OTLP exports posted to /v1/traces to the pipeline of
// the lightningstore receiver attached to this extension.
type tracesBridge struct {
	cfg    TracesConfig
	store  func() store.Store
	logger *zap.Logger

	mu       sync.RWMutex
	owner    component.ID
	consumer consumer.Traces
}

// AttachTraces connects the receiver that feeds a traces pipeline; only one
// receiver may be attached at a time.
func (t *lightningStore) AttachTraces(id component.ID, next consumer.Traces) (func(), error) {
	b := t.traces
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.consumer != nil {
		return nil, fmt.Errorf("/v1/traces of extension is already attached to receiver %s", b.owner)
	}
	b.owner, b.consumer = id, next
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.owner == id {
			b.consumer = nil
		}
	}, nil
}

func (b *tracesBridge) next() consumer.Traces {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.consumer
}

// pipeline hands the span of an event posted through Agent Lightning
// v1.0's API to the attached pipeline, under /v1/traces' rules; without a
// pipeline the API stores the span itself.
func (b *tracesBridge) pipeline(ctx context.Context, td ptrace.Traces) error {
	if b.next() == nil {
		return aglv1.ErrNoPipeline
	}
	out, err := b.consume(ctx, td)
	if err != nil {
		return err
	}
	if out.RejectedSpans > 0 {
		return fmt.Errorf("the traces pipeline refused the event: %s", out.Message)
	}
	return nil
}

// consume applies Agent Lightning's ingest rules, then passes the rest
// into the pipeline. Refusals are reported as OTLP partial success so
// exporters do not retry what can never succeed.
func (b *tracesBridge) consume(ctx context.Context, td ptrace.Traces) (traceshttp.Outcome, error) {
	next := b.next()
	if next == nil {
		return traceshttp.Outcome{}, fmt.Errorf("no traces pipeline is attached yet (add the lightningstore receiver to a pipeline): %w", traceshttp.ErrUnavailable)
	}
	total := td.SpanCount()
	reasons, err := b.admit(ctx, td)
	if err != nil {
		// The answer names a ref, not the database's user, name or address.
		ref := store.NewRef()
		b.logger.Warn("/v1/traces could not check rollouts", zap.String("ref", ref), zap.Error(err))
		return traceshttp.Outcome{}, fmt.Errorf("check rollouts: %v: %w", store.Redact(err, ref), traceshttp.ErrUnavailable)
	}
	out := traceshttp.Outcome{RejectedSpans: int64(total - td.SpanCount()), Message: reasons.message()}
	if td.SpanCount() == 0 {
		return out, nil
	}
	// The pipeline answers once the spans are committed, sequence ids
	// included (the shipped configurations have no sending queue), so a span
	// a runner adds over REST right after this export comes after its spans,
	// as on Agent Lightning's server.
	if err := next.ConsumeTraces(ctx, td); err != nil {
		if consumererror.IsPermanent(err) {
			return traceshttp.Outcome{RejectedSpans: int64(total), Message: err.Error()}, nil
		}
		return traceshttp.Outcome{}, fmt.Errorf("%v: %w", err, traceshttp.ErrUnavailable)
	}
	return out, nil
}

type dropReasons struct{ unlabeled, unknown int }

func (d dropReasons) message() string {
	switch {
	case d.unlabeled > 0 && d.unknown > 0:
		return fmt.Sprintf("%d spans carry no agentlightning.rollout_id/attempt_id; %d name a rollout or attempt the store does not know", d.unlabeled, d.unknown)
	case d.unlabeled > 0:
		return fmt.Sprintf("%d spans carry no agentlightning.rollout_id/attempt_id", d.unlabeled)
	case d.unknown > 0:
		return fmt.Sprintf("%d spans name a rollout or attempt the store does not know", d.unknown)
	}
	return ""
}

// admit walks the export once. It removes the spans Agent Lightning's server
// would not store: unlabeled ones (policy drop) and, with unknown_rollouts:
// reject, those whose rollout or attempt does not exist.
func (b *tracesBridge) admit(ctx context.Context, td ptrace.Traces) (dropReasons, error) {
	var d dropReasons
	known := map[[2]string]bool{}
	var lookupErr error
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		res := rs.Resource().Attributes()
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(func(span ptrace.Span) bool {
				rollout, attempt, ok := otlpspan.Identity(span, res)
				if !ok {
					if b.cfg.Unlabeled != otlpspan.UnlabeledDrop {
						return false
					}
					d.unlabeled++
					return true
				}
				if b.cfg.UnknownRollouts == otlpspan.UnknownReject && lookupErr == nil {
					exists, err := b.exists(ctx, known, rollout, attempt)
					if err != nil {
						lookupErr = err
					} else if !exists {
						d.unknown++
						return true
					}
				}
				return false
			})
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
	return d, lookupErr
}

func (b *tracesBridge) exists(ctx context.Context, known map[[2]string]bool, rollout, attempt string) (bool, error) {
	key := [2]string{rollout, attempt}
	if v, ok := known[key]; ok {
		return v, nil
	}
	s := b.store()
	if s == nil {
		return false, errors.New("store is not open")
	}
	attempts, err := s.QueryAttempts(ctx, store.AttemptQuery{RolloutID: rollout, Page: store.AllPage()})
	if err != nil {
		return false, err
	}
	found := false
	for _, a := range attempts.Items {
		if a.AttemptID == attempt {
			found = true
			break
		}
	}
	known[key] = found
	return found, nil
}
