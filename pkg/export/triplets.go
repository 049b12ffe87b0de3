package export

import (
	"encoding/json"
	"strconv"

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

// AppendJSON appends the line as JSON, the bytes json.Marshal would give.
// Prompt, response and metadata are the stored documents, valid JSON the
// store wrote itself: they are copied as they are instead of being scanned
// and compacted again (most of the cost of serving triplets).
func (l TripletLine) AppendJSON(b []byte) []byte {
	str := func(k, v string) {
		b = append(b, k...)
		q, _ := json.Marshal(v)
		b = append(b, q...)
	}
	str(`{"rollout_id":`, l.RolloutID)
	str(`,"attempt_id":`, l.AttemptID)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(l.Index), 10)
	b = append(b, `,"revision":`...)
	b = strconv.AppendInt(b, int64(l.Revision), 10)
	str(`,"span_id":`, l.SpanID)
	b = append(append(b, `,"prompt":`...), model.RawOrNull(l.Prompt)...)
	b = append(append(b, `,"response":`...), model.RawOrNull(l.Response)...)
	b = append(b, `,"reward":`...)
	if l.Reward == nil {
		b = append(b, "null"...)
	} else if r, err := json.Marshal(*l.Reward); err == nil {
		b = append(b, r...)
	} else {
		b = append(b, "null"...) // NaN or ±Inf: JSON has no such number
	}
	b = append(append(b, `,"metadata":`...), model.RawOrNull(l.Metadata)...)
	return append(b, '}')
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
