package lightningstoreexporter // import "github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/internal/recentset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Reasons reported on the messages_rejected metric, besides
// reasonUnknownRollout and reasonUnknownAttempt.
const (
	reasonUnlabeled   = "unlabeled"
	reasonInvalidBody = "invalid_body"
	// reasonGenAIEvent: a GenAI event (gen_ai.user.message, gen_ai.choice,
	// ...) that carries no reward; the triplet processor reads those.
	reasonGenAIEvent = "genai_event"
)

// messageCacheSize is how many recently stored (rollout, attempt, span id)
// keys the logs exporter remembers to skip a record sent twice (an agent
// re-sending spans, a pipeline replaying a batch). The messages table has
// no unique key, so this is the only guard; exports dedupe by span id too.
// Ids come from the data and may be of any length, so the cache is bounded
// in bytes too: messageKeyBytes per key on average (ids of usual length
// fit), whatever the ids.
const (
	messageCacheSize = 65536
	messageKeyBytes  = 256
)

type messageKey struct{ rollout, attempt, spanID string }

// keyBytes estimates the memory a remembered key holds: its strings and the
// set's entry (map slot and ring slot, string headers included).
func (k messageKey) keyBytes() int {
	return len(k.rollout) + len(k.attempt) + len(k.spanID) + 128
}

// logsExporter stores the messages connector's records (one LLM call in
// OpenAI chat format each) in the store's messages table.
type logsExporter struct {
	*storeExporter
	stored *recentset.Set[messageKey]
}

func newLogsExporter(e *storeExporter) *logsExporter {
	return &logsExporter{storeExporter: e, stored: recentset.NewBounded(messageCacheSize, messageCacheSize*messageKeyBytes, messageKey.keyBytes)}
}

// pushLogs writes the message records of one batch in one store call.
//
//   - Identity: agentlightning.rollout_id and agentlightning.attempt_id,
//     on the record, else on its resource. Records without both are not
//     messages of a rollout and are dropped (reason unlabeled).
//   - Body: a map (body_format: map) or a JSON object string (json_string);
//     anything else is dropped (reason invalid_body).
//   - SequenceID: agentlightning.span_sequence_id when the record carries a
//     positive one (the call span's, from Agent Lightning's tracer or
//     proxy); otherwise the store numbers the rollout's messages 1..n in
//     arrival order, apart from the span sequence (spans stay 1..n), so the
//     messages of a rollout keep the order in which their calls reached
//     the collector.
//   - unknown_rollouts: create stores records whatever the rollout (the
//     messages table has no foreign key; the call's spans create the
//     rollout through the traces pipeline); reject drops the records of a
//     rollout or attempt the store does not know, like the spans, except
//     those of automatic rollouts (ro-<key>/at-<key>), which the spans
//     create whatever the policy.
func (e *logsExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	if e.store == nil {
		return consumererror.NewPermanent(errors.New("exporter not started"))
	}
	msgs, rewardRecs, rejected := e.convertLogs(ld)
	if len(rewardRecs) > 0 {
		// Stored as spans, through the same path (and the same identity
		// policy) as the spans of the traces pipeline.
		if err := e.pushTraces(ctx, rewardSpans(rewardRecs)); err != nil {
			return err
		}
	}
	msgs, duplicates := e.withoutStored(msgs)
	if e.cfg.UnknownRollouts == otlpspan.UnknownReject && len(msgs) > 0 {
		var err error
		if msgs, err = e.knownOnly(ctx, msgs, rejected); err != nil {
			return e.storeFailure(err, "check the rollouts of messages")
		}
	}
	if len(msgs) > 0 {
		begin := time.Now()
		err := e.store.AddMessages(ctx, msgs)
		e.telemetry.ExporterLightningstoreWriteDuration.Record(ctx, time.Since(begin).Seconds())
		if err != nil {
			return e.storeFailure(err, fmt.Sprintf("write %d messages to the store", len(msgs)))
		}
		e.stored.Add(messageKeys(msgs)...)
		e.telemetry.ExporterLightningstoreMessagesStored.Add(ctx, int64(len(msgs)))
	}
	if duplicates > 0 {
		e.telemetry.ExporterLightningstoreMessagesDuplicate.Add(ctx, int64(duplicates))
	}
	e.recordMessageRejections(ctx, rejected)
	return nil
}

func (e *logsExporter) storeFailure(err error, what string) error {
	err = redactForSender(e.sampled, fmt.Errorf("%s: %w", what, err))
	if retryable(err) {
		return err
	}
	return consumererror.NewPermanent(err)
}

// convertLogs turns the records into message rows (SequenceID 0 when it is
// to be allocated) and reward records, counting the ones it cannot use by
// reason.
func (e *logsExporter) convertLogs(ld plog.Logs) ([]model.MessageRecord, []rewardRecord, map[string]int) {
	rejected := map[string]int{}
	msgs := make([]model.MessageRecord, 0, ld.LogRecordCount())
	var rewardRecs []rewardRecord
	for ri, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if isRewardRecord(lr) {
					rewardRecs = append(rewardRecs, rewardRecord{resource: ri, res: rl.Resource(), record: lr})
					continue
				}
				if isGenAIEvent(lr) {
					rejected[reasonGenAIEvent]++
					continue
				}
				m, reason := toMessage(lr, res)
				if reason != "" {
					rejected[reason]++
					continue
				}
				msgs = append(msgs, m)
			}
		}
	}
	return msgs, rewardRecs, rejected
}

func toMessage(lr plog.LogRecord, res pcommon.Map) (model.MessageRecord, string) {
	rollout, okR := logString(lr.Attributes(), res, otlpspan.AttrRolloutID)
	attempt, okA := logString(lr.Attributes(), res, otlpspan.AttrAttemptID)
	if !okR || !okA {
		return model.MessageRecord{}, reasonUnlabeled
	}
	body, ok := messageBody(lr.Body())
	if !ok {
		return model.MessageRecord{}, reasonInvalidBody
	}
	var attrs bytes.Buffer
	writeMapJSON(&attrs, lr.Attributes())
	traceID, spanID := lr.TraceID(), lr.SpanID()
	m := model.MessageRecord{
		RolloutID: rollout, AttemptID: attempt, Body: body, Attributes: attrs.Bytes(),
		SequenceID: logSequenceID(lr.Attributes(), res),
	}
	if !traceID.IsEmpty() {
		m.TraceID = otlpspan.TraceIDHex(traceID[:])
	}
	if !spanID.IsEmpty() {
		m.SpanID = otlpspan.SpanIDHex(spanID[:])
	}
	return m, ""
}

// logString reads a string (or integer) attribute from the record, else
// from the resource.
func logString(attrs, res pcommon.Map, key string) (string, bool) {
	for _, m := range []pcommon.Map{attrs, res} {
		v, ok := m.Get(key)
		if !ok {
			continue
		}
		switch v.Type() {
		case pcommon.ValueTypeStr:
			return v.Str(), true
		case pcommon.ValueTypeInt:
			return strconv.FormatInt(v.Int(), 10), true
		}
	}
	return "", false
}

func logSequenceID(attrs, res pcommon.Map) int {
	s, ok := logString(attrs, res, otlpspan.AttrSpanSequenceID)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// messageBody returns the record body as a JSON object.
func messageBody(v pcommon.Value) (json.RawMessage, bool) {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		var buf bytes.Buffer
		writeJSON(&buf, v)
		return buf.Bytes(), true
	case pcommon.ValueTypeStr:
		s := strings.TrimSpace(v.Str())
		if !strings.HasPrefix(s, "{") || !json.Valid([]byte(s)) {
			return nil, false
		}
		return json.RawMessage(s), true
	}
	return nil, false
}

// withoutStored drops records whose (rollout, attempt, span id) was stored
// recently or appears earlier in the batch.
func (e *logsExporter) withoutStored(msgs []model.MessageRecord) ([]model.MessageRecord, int) {
	seen := map[messageKey]bool{}
	kept := msgs[:0]
	dups := 0
	for _, m := range msgs {
		if m.SpanID != "" {
			k := messageKey{m.RolloutID, m.AttemptID, m.SpanID}
			if seen[k] || e.stored.Contains(k) {
				dups++
				continue
			}
			seen[k] = true
		}
		kept = append(kept, m)
	}
	return kept, dups
}

func messageKeys(msgs []model.MessageRecord) []messageKey {
	keys := make([]messageKey, 0, len(msgs))
	for _, m := range msgs {
		if m.SpanID != "" {
			keys = append(keys, messageKey{m.RolloutID, m.AttemptID, m.SpanID})
		}
	}
	return keys
}

// knownOnly keeps the records whose rollout and attempt exist, counting
// the others in rejected.
func (e *logsExporter) knownOnly(ctx context.Context, msgs []model.MessageRecord, rejected map[string]int) ([]model.MessageRecord, error) {
	attempts := map[string]map[string]bool{} // rollout → its attempt ids; nil when unknown
	for _, m := range msgs {
		if _, done := attempts[m.RolloutID]; done {
			continue
		}
		r, err := e.store.GetRollout(ctx, m.RolloutID)
		if err != nil {
			return nil, err
		}
		if r == nil {
			attempts[m.RolloutID] = nil
			continue
		}
		page, err := e.store.QueryAttempts(ctx, store.AttemptQuery{RolloutID: m.RolloutID, Page: store.AllPage()})
		if err != nil {
			return nil, err
		}
		ids := make(map[string]bool, len(page.Items))
		for _, a := range page.Items {
			ids[a.AttemptID] = true
		}
		attempts[m.RolloutID] = ids
	}
	kept := msgs[:0]
	for _, m := range msgs {
		ids := attempts[m.RolloutID]
		switch {
		case isAutoRollout(m.RolloutID, m.AttemptID):
			// Automatic rollouts are created for their spans whatever the
			// policy; the messages may arrive first.
			kept = append(kept, m)
		case ids == nil:
			rejected[reasonUnknownRollout]++
		case !ids[m.AttemptID]:
			rejected[reasonUnknownAttempt]++
		default:
			kept = append(kept, m)
		}
	}
	return kept, nil
}

// isAutoRollout reports the ids of an automatic rollout: ro-<key> with
// attempt at-<key> (see otlpspan.Resolver).
func isAutoRollout(rolloutID, attemptID string) bool {
	key, ok := strings.CutPrefix(rolloutID, otlpspan.AutoRolloutPrefix)
	return ok && key != "" && attemptID == otlpspan.AutoAttemptPrefix+key
}

func (e *logsExporter) recordMessageRejections(ctx context.Context, rejected map[string]int) {
	total := 0
	for reason, n := range rejected {
		opt, ok := reasonOptions[reason]
		if !ok {
			opt = reasonOption(reason)
		}
		e.telemetry.ExporterLightningstoreMessagesRejected.Add(ctx, int64(n), opt)
		if reason != reasonGenAIEvent { // expected where GenAI events are routed here
			total += n
		}
	}
	if total > 0 {
		e.sampled.Warn("Dropped log records that are not storable messages",
			zap.Int("records", total), zap.Any("by_reason", rejected))
	}
}

// writeJSON encodes v as plain JSON keeping the order of map keys (a Go
// map, as AsRaw gives, would sort them: "content" before "role"). Values
// JSON cannot hold become null: non-finite doubles; bytes are base64.
func writeJSON(buf *bytes.Buffer, v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		writeMapJSON(buf, v.Map())
	case pcommon.ValueTypeSlice:
		buf.WriteByte('[')
		for i, e := range v.Slice().All() {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSON(buf, e)
		}
		buf.WriteByte(']')
	case pcommon.ValueTypeStr:
		b, _ := json.Marshal(v.Str())
		buf.Write(b)
	case pcommon.ValueTypeInt:
		buf.WriteString(strconv.FormatInt(v.Int(), 10))
	case pcommon.ValueTypeDouble:
		if f := v.Double(); !math.IsNaN(f) && !math.IsInf(f, 0) {
			b, _ := json.Marshal(f)
			buf.Write(b)
		} else {
			buf.WriteString("null")
		}
	case pcommon.ValueTypeBool:
		buf.WriteString(strconv.FormatBool(v.Bool()))
	case pcommon.ValueTypeBytes:
		b, _ := json.Marshal(v.Bytes().AsRaw())
		buf.Write(b)
	default:
		buf.WriteString("null")
	}
}

func writeMapJSON(buf *bytes.Buffer, m pcommon.Map) {
	buf.WriteByte('{')
	first := true
	for k, e := range m.All() {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(k)
		buf.Write(key)
		buf.WriteByte(':')
		writeJSON(buf, e)
	}
	buf.WriteByte('}')
}
