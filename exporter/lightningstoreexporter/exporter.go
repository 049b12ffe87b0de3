package lightningstoreexporter // import "github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Reasons reported on the spans_rejected metric.
const (
	reasonUnknownRollout = "unknown_rollout"
	reasonUnknownAttempt = "unknown_attempt"
	reasonTooDeep        = "too_deep"
	reasonOther          = "other"
)

var reasonOptions = map[string]metric.AddOption{
	reasonUnknownRollout: reasonOption(reasonUnknownRollout),
	reasonUnknownAttempt: reasonOption(reasonUnknownAttempt),
	reasonTooDeep:        reasonOption(reasonTooDeep),
	reasonOther:          reasonOption(reasonOther),
}

func reasonOption(r string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
}

type storeExporter struct {
	cfg       *Config
	logger    *zap.Logger
	sampled   *zap.Logger // for per-batch warnings that could flood the log
	resolver  *otlpspan.Resolver
	telemetry *metadata.TelemetryBuilder
	store     store.Store // set by start
}

func newStoreExporter(cfg *Config, set exporter.Settings) (*storeExporter, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	return &storeExporter{
		cfg:    cfg,
		logger: set.Logger,
		// The first 5 identical messages a second, then one in 100.
		sampled: set.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(c, time.Second, 5, 100)
		})),
		telemetry: tb,
	}, nil
}

// start finds the store and takes the identity policy from its extension.
// Extensions start before exporters, so the provider's store is ready by
// now.
func (e *storeExporter) start(_ context.Context, host component.Host) error {
	ext, ok := host.GetExtensions()[e.cfg.Store]
	if !ok {
		return fmt.Errorf("extension %s not found; is it listed under service.extensions?", e.cfg.Store)
	}
	p, ok := ext.(store.Provider)
	if !ok {
		return fmt.Errorf("extension %s does not provide an Agent Lightning store", e.cfg.Store)
	}
	st := p.LightningStore()
	if st == nil {
		return fmt.Errorf("extension %s has no store", e.cfg.Store)
	}
	ip, ok := ext.(otlpspan.IdentityProvider)
	if !ok {
		return fmt.Errorf("extension %s does not provide the identity policy; store must name a lightningstore extension", e.cfg.Store)
	}
	policy := ip.IdentityPolicy()
	policy.Unknown = e.cfg.UnknownRollouts
	resolver, err := otlpspan.NewResolver(policy)
	if err != nil {
		return fmt.Errorf("identity policy of extension %s: %w", e.cfg.Store, err)
	}
	e.store, e.resolver = st, resolver
	return nil
}

// shutdown leaves the store open: the extension owns it.
func (e *storeExporter) shutdown(context.Context) error {
	if e.telemetry != nil {
		e.telemetry.Shutdown()
	}
	return nil
}

// pushTraces writes one batch in one store transaction. A transient store
// failure is returned as is so that exporterhelper retries the whole batch
// (which is safe: nothing was written, and the store drops duplicates);
// anything else is permanent and the batch is dropped. Conversion counters
// are recorded once per batch, not once per retry.
func (e *storeExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	if e.store == nil {
		return consumererror.NewPermanent(errors.New("exporter not started"))
	}
	items, stats := e.resolver.Convert(td)
	items = withoutTriplets(items)
	if sets := e.collectTriplets(ctx, td); len(sets) > 0 {
		if err := e.storeTriplets(ctx, sets); err != nil {
			err = redactForSender(e.sampled, fmt.Errorf("write triplets to the store: %w", err))
			if retryable(err) {
				return err
			}
			return consumererror.NewPermanent(err)
		}
	}
	if len(items) > 0 {
		begin := time.Now()
		res, err := e.store.IngestSpans(ctx, items)
		e.telemetry.ExporterLightningstoreWriteDuration.Record(ctx, time.Since(begin).Seconds())
		if err != nil {
			err = redactForSender(e.sampled, fmt.Errorf("write %d spans to the store: %w", len(items), err))
			if retryable(err) {
				return err
			}
			e.recordConversion(ctx, stats)
			return consumererror.NewPermanent(err)
		}
		e.recordResult(ctx, items, res)
	}
	e.recordConversion(ctx, stats)
	return nil
}

// redactForSender logs a failed write in full and returns it with a
// message safe for the sender: the receivers (4317, 4318, /v1/traces) put
// this error's text in their answer, and a database driver's message names
// the database user, database and host:port.
func redactForSender(logger *zap.Logger, err error) error {
	ref := store.NewRef()
	logger.Warn("Store write failed; the sender is told to retry or drop it", zap.String("ref", ref), zap.Error(err))
	return store.Redact(err, ref)
}

// retryable reports errors worth another try: the store says so, or the
// write ran out of time.
func retryable(err error) bool {
	return store.IsTransient(err) || errors.Is(err, context.DeadlineExceeded)
}

func (e *storeExporter) recordConversion(ctx context.Context, stats otlpspan.Stats) {
	t := e.telemetry
	if stats.UnlabeledDropped > 0 {
		t.ExporterLightningstoreSpansUnlabeledDropped.Add(ctx, int64(stats.UnlabeledDropped))
		e.sampled.Debug("Dropped spans without agentlightning.rollout_id (unlabeled: drop)", zap.Int("spans", stats.UnlabeledDropped))
	}
	if stats.Auto > 0 {
		t.ExporterLightningstoreSpansAutoRollout.Add(ctx, int64(stats.Auto))
	}
	if bad := stats.InvalidSequenceID + stats.NegativeSequenceID; bad > 0 {
		t.ExporterLightningstoreSequenceIdsInvalid.Add(ctx, int64(bad))
		e.sampled.Warn("Ignored invalid agentlightning.span_sequence_id values; the store allocated new ones",
			zap.Int("not_integer", stats.InvalidSequenceID), zap.Int("negative", stats.NegativeSequenceID))
	}
}

func (e *storeExporter) recordResult(ctx context.Context, items []store.IngestItem, res store.IngestResult) {
	t := e.telemetry
	if n := len(res.Stored); n > 0 {
		t.ExporterLightningstoreSpansStored.Add(ctx, int64(n))
	}
	if res.Duplicates > 0 {
		t.ExporterLightningstoreSpansDuplicate.Add(ctx, int64(res.Duplicates))
	}
	if len(res.Rejected) == 0 {
		return
	}
	counts := map[string]int64{}
	for _, r := range res.Rejected {
		counts[rejectionReason(r.Err)]++
	}
	for reason, n := range counts {
		t.ExporterLightningstoreSpansRejected.Add(ctx, n, reasonOptions[reason])
	}
	first := res.Rejected[0]
	fields := []zap.Field{zap.Int("rejected", len(res.Rejected)), zap.NamedError("first_error", first.Err)}
	if first.Index >= 0 && first.Index < len(items) {
		s := items[first.Index].Span
		fields = append(fields, zap.String("rollout_id", s.RolloutID), zap.String("attempt_id", s.AttemptID), zap.String("span_id", s.SpanID))
	}
	e.sampled.Warn("The store rejected spans; they are dropped", fields...)
}

// rejectionReason classifies a per-item store error by the messages the
// store uses for unknown ids (Agent Lightning's wording).
func rejectionReason(err error) string {
	if errors.Is(err, depthlimit.ErrTooDeep) {
		return reasonTooDeep
	}
	var se *store.Error
	if !errors.As(err, &se) {
		return reasonOther
	}
	switch {
	case strings.HasPrefix(se.Message, "Rollout ") && strings.HasSuffix(se.Message, " not found"):
		return reasonUnknownRollout
	case strings.HasPrefix(se.Message, "Attempt ") && strings.Contains(se.Message, " not found"):
		return reasonUnknownAttempt
	default:
		return reasonOther
	}
}
