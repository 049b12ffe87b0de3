package rewardprocessor // import "github.com/otelcol-lightning/otelcol-lightning/processor/rewardprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/plog"
)

// processLogs annotates gen_ai.evaluation.result log records with the
// canonical reward and link attributes. The records are not joined to spans
// here: that would mean holding spans or records back, and both signals must
// pass through at once. The lightningstore exporter stores an annotated
// record as a reward span of its rollout (see README.md).
func (p *rewardProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	if !p.norm.sources.EvaluationEvents {
		return ld, nil
	}
	t := &tally{logger: p.set.Logger}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				p.norm.logRecord(lr, t)
			}
		}
	}
	p.record(ctx, t)
	return ld, nil
}
