package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/internal/recentset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

// Reasons reported on the spans_skipped metric.
const (
	reasonTripletSpan = "triplet_span"
	reasonNoContent   = "no_content"
	reasonDuplicate   = "duplicate_response_id"
	reasonUnlabeled   = "unlabeled"
	reasonUnencodable = "unencodable"
)

var skipReasons = []string{reasonTripletSpan, reasonNoContent, reasonDuplicate, reasonUnlabeled, reasonUnencodable}

type messagesConnector struct {
	cfg       *Config
	logger    *zap.Logger
	next      consumer.Logs
	resolver  *otlpspan.Resolver // set by Start, from the store extension's identity policy
	parseOpts []genai.Option
	// seen is the cross-batch dedup (nil when off), shared like join.
	seen      *recentset.Set[callKey]
	telemetry *metadata.TelemetryBuilder
	reasons   map[string]metric.AddOption

	// join pairs content-less calls with their GenAI log events; shared by
	// the traces and logs instances of this connector id.
	id       component.ID
	shared   *shared
	join     *joiner
	logsSide bool
	stop     chan struct{}
	stopped  chan struct{}
}

var _ connector.Traces = (*messagesConnector)(nil)

func newConnector(set connector.Settings, cfg *Config, next consumer.Logs, logsSide bool) (*messagesConnector, error) {
	var opts []genai.Option
	if cfg.LLMCallName != "" {
		re, err := regexp.Compile(cfg.LLMCallName)
		if err != nil {
			return nil, fmt.Errorf("llm_call_name: %w", err)
		}
		opts = append(opts, genai.WithNameMatchOnly(re))
	}
	if cfg.LLMCallNameFallback != "" {
		re, err := regexp.Compile(cfg.LLMCallNameFallback)
		if err != nil {
			return nil, fmt.Errorf("llm_call_name_fallback: %w", err)
		}
		opts = append(opts, genai.WithNameMatch(re))
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	reasons := make(map[string]metric.AddOption, len(skipReasons))
	for _, r := range skipReasons {
		reasons[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
	}
	c := &messagesConnector{
		cfg: cfg, logger: set.Logger, next: next, parseOpts: opts,
		telemetry: tb, reasons: reasons,
	}
	c.id, c.logsSide = set.ID, logsSide
	c.shared = acquireShared(set.ID, cfg, logsSide)
	c.join, c.seen = c.shared.join, c.shared.seen
	return c, nil
}

// Start takes the identity policy from the store extension, so that
// records land in the rollout the store files their spans under.
func (c *messagesConnector) Start(_ context.Context, host component.Host) error {
	ext, ok := host.GetExtensions()[c.cfg.Store]
	if !ok {
		return fmt.Errorf("extension %s not found; is it listed under service.extensions?", c.cfg.Store)
	}
	ip, ok := ext.(otlpspan.IdentityProvider)
	if !ok {
		return fmt.Errorf("extension %s does not provide the identity policy; store must name a lightningstore extension", c.cfg.Store)
	}
	resolver, err := otlpspan.NewResolver(ip.IdentityPolicy())
	if err != nil {
		return fmt.Errorf("identity policy of extension %s: %w", c.cfg.Store, err)
	}
	c.resolver = resolver
	if !c.logsSide {
		// The traces side owns the sweep of calls whose wait is over.
		c.stop, c.stopped = make(chan struct{}), make(chan struct{})
		go c.runSweeper()
	}
	return nil
}

func (c *messagesConnector) runSweeper() {
	defer close(c.stopped)
	tick := time.Second
	if w := c.cfg.LogEventsWait; w > 0 && w/4 < tick {
		tick = max(w/4, 10*time.Millisecond)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.sweep(context.Background())
		}
	}
}

// Capabilities: the connector only reads the spans.
func (c *messagesConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Shutdown stops the sweeper, emits what is still held and releases the
// telemetry.
func (c *messagesConnector) Shutdown(ctx context.Context) error {
	if c.stop != nil {
		close(c.stop)
		<-c.stopped
		c.stop = nil
	}
	if c.join != nil {
		if !c.logsSide {
			// Calls held at shutdown get whatever content they have.
			if held := c.join.takeAll(); len(held) > 0 {
				_ = c.emitHeld(ctx, held, true)
			}
		}
		releaseShared(c.id, c.shared, c.logsSide)
		c.join, c.seen, c.shared = nil, nil, nil
	}
	c.telemetry.Shutdown()
	return nil
}

// ConsumeTraces emits one log record per LLM call of the batch. The records
// of a batch go downstream in one plog.Logs; a downstream error is returned
// so the caller can retry, and the calls of a failed batch are not
// remembered as seen.
func (c *messagesConnector) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	b := c.collect(td)
	var ld plog.Logs
	if len(b.calls) > 0 {
		ld = c.build(b)
	}
	c.recordSkips(ctx, b.skipped)
	if b.problems > 0 {
		c.telemetry.ConnectorMessagesParseProblems.Add(ctx, int64(b.problems))
	}
	return c.deliver(ctx, b, ld)
}

// deliver sends the records built from b downstream and, once they are
// taken, remembers their calls as seen.
func (c *messagesConnector) deliver(ctx context.Context, b *batch, ld plog.Logs) error {
	if len(b.calls) == 0 {
		return nil
	}
	if err := c.next.ConsumeLogs(ctx, ld); err != nil {
		return err
	}
	if c.seen != nil {
		c.seen.Add(b.keys()...)
	}
	c.telemetry.ConnectorMessagesRecordsEmitted.Add(ctx, int64(len(b.calls)))
	return nil
}

func (c *messagesConnector) recordSkips(ctx context.Context, skipped map[string]int) {
	for _, r := range skipReasons {
		if n := skipped[r]; n > 0 {
			c.telemetry.ConnectorMessagesSpansSkipped.Add(ctx, int64(n), c.reasons[r])
		}
	}
}
