package lightningstoreexporter

import (
	"context"
	"sort"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/tripletspan"
)

type tripletSet struct {
	rollout, attempt string
	revision         int
	records          []model.TripletRecord
}

// collectTriplets reads the agentlightning.triplet spans of a batch,
// grouped by attempt and revision; they go to the triplets table, never to
// the spans table. Undecodable ones are counted and skipped.
func (e *storeExporter) collectTriplets(ctx context.Context, td ptrace.Traces) []tripletSet {
	type key struct {
		rollout, attempt string
		revision         int
	}
	sets := map[key]*tripletSet{}
	invalid := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		res := rss.At(i).Resource().Attributes()
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				if !tripletspan.Is(span) {
					continue
				}
				rollout, attempt, ok := otlpspan.Identity(span, res)
				rec, err := tripletspan.Read(span.Attributes())
				if !ok || err != nil {
					invalid++
					continue
				}
				k := key{rollout, attempt, rec.Revision}
				set := sets[k]
				if set == nil {
					set = &tripletSet{rollout: rollout, attempt: attempt, revision: rec.Revision}
					sets[k] = set
				}
				parent := span.ParentSpanID()
				set.records = append(set.records, model.TripletRecord{
					RolloutID: rollout, AttemptID: attempt, Index: rec.Index, Revision: rec.Revision,
					SpanID: otlpspan.SpanIDHex(parent[:]), Triplet: rec.Triplet,
				})
			}
		}
	}
	if invalid > 0 {
		e.telemetry.ExporterLightningstoreTripletsInvalid.Add(ctx, int64(invalid))
		e.sampled.Warn("Dropped agentlightning.triplet spans that could not be decoded", zap.Int("spans", invalid))
	}
	out := make([]tripletSet, 0, len(sets))
	for _, s := range sets {
		sort.Slice(s.records, func(a, b int) bool { return s.records[a].Index < s.records[b].Index })
		out = append(out, *s)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].revision < out[b].revision })
	return out
}

// storeTriplets replaces each attempt's triplets by the revision given.
func (e *storeExporter) storeTriplets(ctx context.Context, sets []tripletSet) error {
	for _, s := range sets {
		if err := e.store.ReplaceTriplets(ctx, s.rollout, s.attempt, s.revision, s.records); err != nil {
			return err
		}
		e.telemetry.ExporterLightningstoreTripletsStored.Add(ctx, int64(len(s.records)))
	}
	return nil
}

// withoutTriplets drops the triplet spans from the items to ingest.
func withoutTriplets(items []store.IngestItem) []store.IngestItem {
	kept := items[:0]
	for _, it := range items {
		if it.Span.Name != tripletspan.SpanName {
			kept = append(kept, it)
		}
	}
	return kept
}
