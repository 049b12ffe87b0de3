// Package tripletspan is the encoding of a triplet as an OpenTelemetry span
// (agentlightning.triplet): the triplet processor writes it, the store
// exporter reads it back, and any other exporter sees an ordinary span whose
// attributes carry the prompt, response, reward, token ids, agent name,
// response id, position and revision.
package tripletspan

import (
	"encoding/json"
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// SpanName is the name of triplet spans.
const SpanName = "agentlightning.triplet"

// Attribute keys of a triplet span.
const (
	AttrIndex            = "agentlightning.triplet.index"
	AttrCount            = "agentlightning.triplet.count"
	AttrRevision         = "agentlightning.triplet.revision"
	AttrReward           = "agentlightning.triplet.reward"
	AttrPrompt           = "agentlightning.triplet.prompt"
	AttrResponse         = "agentlightning.triplet.response"
	AttrMetadata         = "agentlightning.triplet.metadata"
	AttrAgentName        = "agentlightning.triplet.agent_name"
	AttrResponseID       = "agentlightning.triplet.response_id"
	AttrPromptTokenIDs   = "agentlightning.triplet.prompt.token_ids"
	AttrResponseTokenIDs = "agentlightning.triplet.response.token_ids"
)

// Record is a triplet with its position among the attempt's Count triplets
// of one revision; a higher revision replaces the attempt's earlier ones.
type Record struct {
	Index    int
	Count    int
	Revision int
	Triplet  model.Triplet
}

// Is reports whether span is a triplet span.
func Is(span ptrace.Span) bool { return span.Name() == SpanName }

// Write puts r into attributes m.
func Write(m pcommon.Map, r Record) {
	m.PutInt(AttrIndex, int64(r.Index))
	m.PutInt(AttrCount, int64(r.Count))
	m.PutInt(AttrRevision, int64(r.Revision))
	if r.Triplet.Reward != nil {
		m.PutDouble(AttrReward, *r.Triplet.Reward)
	}
	m.PutStr(AttrPrompt, string(model.RawOrNull(r.Triplet.Prompt)))
	m.PutStr(AttrResponse, string(model.RawOrNull(r.Triplet.Response)))
	m.PutStr(AttrMetadata, string(model.RawOrNull(r.Triplet.Metadata)))
	var meta struct {
		AgentName  string  `json:"agent_name"`
		ResponseID *string `json:"response_id"`
	}
	if json.Unmarshal(r.Triplet.Metadata, &meta) == nil {
		m.PutStr(AttrAgentName, meta.AgentName)
		if meta.ResponseID != nil {
			m.PutStr(AttrResponseID, *meta.ResponseID)
		}
	}
	putTokenIDs(m, AttrPromptTokenIDs, r.Triplet.Prompt)
	putTokenIDs(m, AttrResponseTokenIDs, r.Triplet.Response)
}

func putTokenIDs(m pcommon.Map, key string, part json.RawMessage) {
	var p struct {
		TokenIDs []int64 `json:"token_ids"`
	}
	if json.Unmarshal(part, &p) != nil || len(p.TokenIDs) == 0 {
		return
	}
	s := m.PutEmptySlice(key)
	s.EnsureCapacity(len(p.TokenIDs))
	for _, id := range p.TokenIDs {
		s.AppendEmpty().SetInt(id)
	}
}

// Read decodes a triplet span written by Write.
func Read(m pcommon.Map) (Record, error) {
	var r Record
	var err error
	if r.Index, err = intAttr(m, AttrIndex); err != nil {
		return r, err
	}
	if r.Count, err = intAttr(m, AttrCount); err != nil {
		return r, err
	}
	if r.Revision, err = intAttr(m, AttrRevision); err != nil {
		return r, err
	}
	if v, ok := m.Get(AttrReward); ok && v.Type() == pcommon.ValueTypeDouble {
		r.Triplet.Reward = model.Ptr(v.Double())
	}
	for key, dst := range map[string]*json.RawMessage{AttrPrompt: &r.Triplet.Prompt, AttrResponse: &r.Triplet.Response, AttrMetadata: &r.Triplet.Metadata} {
		v, ok := m.Get(key)
		if !ok || !json.Valid([]byte(v.Str())) {
			return r, fmt.Errorf("triplet span: %s is missing or not JSON", key)
		}
		*dst = json.RawMessage(v.Str())
	}
	return r, nil
}

func intAttr(m pcommon.Map, key string) (int, error) {
	v, ok := m.Get(key)
	if !ok || v.Type() != pcommon.ValueTypeInt || v.Int() < 0 {
		return 0, fmt.Errorf("triplet span: %s is missing or not a non-negative integer", key)
	}
	return int(v.Int()), nil
}
