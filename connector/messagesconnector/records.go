package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

import (
	"encoding/json"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
)

// EventName is the event name of the records the connector emits.
const EventName = "agentlightning.llm_call"

// Attribute keys the connector sets besides the GenAI semantic-convention
// ones (gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
// gen_ai.response.model, gen_ai.response.id, gen_ai.response.finish_reasons,
// gen_ai.usage.input_tokens, gen_ai.usage.output_tokens) and the canonical
// reward (agentlightning.reward.<i>.name / .value).
const (
	AttrConvention       = "agentlightning.llm_call.convention"
	AttrPromptTokenIDs   = "agentlightning.prompt_token_ids"
	AttrResponseTokenIDs = "agentlightning.response_token_ids"
	AttrResponseLogprobs = "agentlightning.response_logprobs"
)

// build turns the collected calls into one plog.Logs: a ResourceLogs per
// ResourceSpans that had calls (same resource), records in span order. A
// call whose record cannot be encoded (a value JSON cannot hold, such as a
// NaN in a tool schema) is left out and counted, and the rest goes on.
func (c *messagesConnector) build(b *batch) plog.Logs {
	ld := plog.NewLogs()
	scopes := map[int]plog.LogRecordSlice{}
	now := pcommon.NewTimestampFromTime(time.Now())
	emitted := b.calls[:0]
	for _, cl := range b.calls {
		body := pcommon.NewValueEmpty()
		if err := c.encodeBody(cl, body); err != nil {
			b.skipped[reasonUnencodable]++
			c.logger.Debug("Skipped an LLM call whose record cannot be encoded",
				zap.String("span_name", cl.span.Name()), zap.Error(err))
			continue
		}
		records, ok := scopes[cl.resource]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			b.td.ResourceSpans().At(cl.resource).Resource().CopyTo(rl.Resource())
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(metadata.ScopeName)
			records = sl.LogRecords()
			scopes[cl.resource] = records
		}
		lr := records.AppendEmpty()
		c.fillRecord(lr, cl)
		body.MoveTo(lr.Body())
		lr.SetObservedTimestamp(now)
		emitted = append(emitted, cl)
	}
	b.calls = emitted
	return ld
}

// encodeBody renders the call as {"messages", "tools", "completion"} into v.
func (c *messagesConnector) encodeBody(cl *call, v pcommon.Value) error {
	rec := cl.parsed.ToOpenAI()
	if !c.cfg.IncludeTools {
		rec.Tools = nil
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode the OpenAI record: %w", err)
	}
	if c.cfg.BodyFormat == BodyFormatJSONString {
		v.SetStr(string(body))
		return nil
	}
	if err := jsonToValue(body, v); err != nil {
		return fmt.Errorf("convert the OpenAI record: %w", err)
	}
	return nil
}

func (c *messagesConnector) fillRecord(lr plog.LogRecord, cl *call) {
	span := cl.span
	lr.SetEventName(EventName)
	lr.SetTraceID(span.TraceID())
	lr.SetSpanID(span.SpanID())
	ts := span.EndTimestamp()
	if ts == 0 {
		ts = span.StartTimestamp()
	}
	lr.SetTimestamp(ts)
	c.putAttributes(lr.Attributes(), cl)
}

func (c *messagesConnector) putAttributes(m pcommon.Map, cl *call) {
	p := cl.parsed
	m.PutStr(otlpspan.AttrRolloutID, cl.id.RolloutID)
	m.PutStr(otlpspan.AttrAttemptID, cl.id.AttemptID)
	if cl.id.SequenceID > 0 {
		m.PutInt(otlpspan.AttrSpanSequenceID, int64(cl.id.SequenceID))
	}
	putStr(m, "gen_ai.operation.name", p.Operation)
	putStr(m, "gen_ai.provider.name", p.Provider)
	putStr(m, "gen_ai.request.model", p.RequestModel)
	putStr(m, "gen_ai.response.model", p.ResponseModel)
	putStr(m, "gen_ai.response.id", p.ResponseID)
	if len(p.FinishReasons) > 0 {
		s := m.PutEmptySlice("gen_ai.response.finish_reasons")
		for _, r := range p.FinishReasons {
			s.AppendEmpty().SetStr(r)
		}
	}
	putInt(m, "gen_ai.usage.input_tokens", p.Usage.InputTokens)
	putInt(m, "gen_ai.usage.output_tokens", p.Usage.OutputTokens)
	putStr(m, AttrConvention, string(p.Convention))
	if cl.reward != nil {
		rewards.Write(m, cl.reward)
	}
	if c.cfg.IncludeTokenIDs {
		putInts(m, AttrPromptTokenIDs, p.PromptTokenIDs)
		putInts(m, AttrResponseTokenIDs, p.ResponseTokenIDs)
		if lp := p.TokenLogprobs(); len(lp) > 0 {
			s := m.PutEmptySlice(AttrResponseLogprobs)
			s.EnsureCapacity(len(lp))
			for _, v := range lp {
				s.AppendEmpty().SetDouble(v)
			}
		}
	}
}

func putStr(m pcommon.Map, k, v string) {
	if v != "" {
		m.PutStr(k, v)
	}
}

func putInt(m pcommon.Map, k string, v int64) {
	if v > 0 {
		m.PutInt(k, v)
	}
}

func putInts(m pcommon.Map, k string, ids []int64) {
	if len(ids) == 0 {
		return
	}
	s := m.PutEmptySlice(k)
	s.EnsureCapacity(len(ids))
	for _, id := range ids {
		s.AppendEmpty().SetInt(id)
	}
}
