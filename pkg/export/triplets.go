package export

import (
	"encoding/json"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// TripletLine is one line of the triplets format: an Agent Lightning
// triplet (prompt, response, reward, metadata) with its place in the
// rollout, the shape GET /v1/lightning/rollouts/{id}/triplets serves.
type TripletLine struct {
	RolloutID string          `json:"rollout_id"`
	AttemptID string          `json:"attempt_id"`
	Index     int             `json:"index"`
	Revision  int             `json:"revision"`
	SpanID    string          `json:"span_id"`
	Prompt    json.RawMessage `json:"prompt"`
	Response  json.RawMessage `json:"response"`
	Reward    *float64        `json:"reward"`
	Metadata  json.RawMessage `json:"metadata"`
}

// NewTripletLine renders a stored triplet.
func NewTripletLine(rec model.TripletRecord) TripletLine {
	return TripletLine{
		RolloutID: rec.RolloutID, AttemptID: rec.AttemptID, Index: rec.Index, Revision: rec.Revision, SpanID: rec.SpanID,
		Prompt: model.RawOrNull(rec.Triplet.Prompt), Response: model.RawOrNull(rec.Triplet.Response),
		Reward: rec.Triplet.Reward, Metadata: model.RawOrNull(rec.Triplet.Metadata),
	}
}

func (x *exporter) tripletLines(d *attemptData) error {
	if len(d.triplets) == 0 {
		x.sum.AttemptsWithoutData++
		return nil
	}
	for _, rec := range d.triplets {
		if err := x.line(NewTripletLine(rec)); err != nil {
			return err
		}
	}
	return nil
}
