package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// nested is depth levels of one-element lists around a string.
func nested(depth int) any {
	var v any = "leaf"
	for range depth {
		v = []any{v}
	}
	return v
}

// testDepth: a span whose values nest deeper than depthlimit.Max is refused
// on every path into the store, and the rollout it names stays readable.
func (s suite) testDepth(t *testing.T) {
	t.Run("spans nested deeper than the limit are refused and the rollout stays readable", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		aid := r.Attempt.AttemptID
		ok := f.otelSpan(r.RolloutID, aid)
		ok.Attributes["at.limit"] = nested(depthlimit.Max)

		deepAttr := f.otelSpan(r.RolloutID, aid)
		deepAttr.Attributes["deep"] = nested(depthlimit.Max + 1)
		deepResource := f.otelSpan(r.RolloutID, aid)
		deepResource.Resource.Attributes = model.Attributes{"deep": nested(depthlimit.Max + 1)}
		deepEvent := f.otelSpan(r.RolloutID, aid)
		deepEvent.Events = []model.Event{{Name: "e", Attributes: model.Attributes{"deep": nested(5000)}}}

		res := f.ingest(item(ok), item(deepAttr), item(deepResource), item(deepEvent))
		require.Len(t, res.Stored, 1)
		require.Len(t, res.Rejected, 3)
		for _, rej := range res.Rejected {
			assert.ErrorIs(t, rej.Err, depthlimit.ErrTooDeep)
			var invalid *store.InvalidArgumentError
			assert.True(t, errors.As(rej.Err, &invalid))
		}

		_, err := f.s.AddSpan(f.ctx, deepAttr)
		assert.ErrorIs(t, err, depthlimit.ErrTooDeep)

		spans := f.spansOf(r.RolloutID)
		require.Len(t, spans, 1)
		assert.Equal(t, ok.SpanID, spans[0].SpanID)
	})
}

// testRolloutDepth: rollout inputs and metadata nested deeper than
// depthlimit.Max are refused on every path, so sorts over them keep working.
func (s suite) testRolloutDepth(t *testing.T) {
	t.Run("rollout documents nested deeper than the limit are refused", func(t *testing.T) {
		f := s.fresh(t)
		deep := json.RawMessage(strings.Repeat("[", depthlimit.Max+1) + strings.Repeat("]", depthlimit.Max+1))
		_, err := f.s.StartRollout(f.ctx, store.StartRolloutRequest{Input: deep})
		assert.ErrorIs(t, err, depthlimit.ErrTooDeep)
		_, err = f.s.EnqueueRollouts(f.ctx, []model.EnqueueRolloutRequest{{Metadata: json.RawMessage(`{"k":` + string(deep) + `}`)}})
		assert.ErrorIs(t, err, depthlimit.ErrTooDeep)
		r := f.startRollout(`{}`)
		_, err = f.s.UpdateRollout(f.ctx, r.RolloutID, store.RolloutUpdate{Input: store.Patch[json.RawMessage]{Set: true, Value: &deep}})
		assert.ErrorIs(t, err, depthlimit.ErrTooDeep)
		atLimit := json.RawMessage(strings.Repeat("[", depthlimit.Max) + strings.Repeat("]", depthlimit.Max))
		_, err = f.s.StartRollout(f.ctx, store.StartRolloutRequest{Input: atLimit})
		assert.NoError(t, err)
	})
}
