package llmproxyreceiver

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// rolloutGetter is the part of the store the v1.0 routes need: whether a
// rollout exists.
type rolloutGetter interface {
	GetRollout(ctx context.Context, rolloutID string) (*model.Rollout, error)
}

// rolloutStore is the attached store, or nil when the proxy stands alone
// (or the store is not open).
func (r *proxyReceiver) rolloutStore() rolloutGetter {
	if r.storeProvider == nil {
		return nil
	}
	if st := r.storeProvider.LightningStore(); st != nil {
		return st
	}
	return nil
}

// rewrite is v1.0's upstream body: the client's with model, the mode's
// temperature and return_token_ids: true forced, and logprobs: true in
// train mode with IncludeLogProbs (on completions too, as v1.0 does).
// return_token_ids is left out for upstreams that do not take it: an
// OpenAI-kind server would refuse it, and SGLang's streamed chat takes
// sglext instead (which prepareRequest asks for). top is updated to match,
// so the span records the request as the upstream got it.
func (a AglV1Config) rewrite(body []byte, top map[string]json.RawMessage, api, mode, kind string) ([]byte, map[string]json.RawMessage) {
	temp := a.TrainTemperature
	if mode == ModeVal {
		temp = a.ValTemperature
	}
	name, _ := json.Marshal(a.ModelName)
	kv := []keyValue{
		{"model", name},
		{"temperature", []byte(strconv.FormatFloat(temp, 'g', -1, 64))},
	}
	streamedSGLangChat := kind == KindSGLang && api == apiChat && isTrue(top["stream"])
	if (kind == KindVLLM || kind == KindSGLang) && !streamedSGLangChat {
		kv = append(kv, keyValue{"return_token_ids", jsonTrue})
	}
	if mode == ModeTrain && a.IncludeLogProbs {
		kv = append(kv, keyValue{"logprobs", jsonTrue})
	}
	out, err := setMembers(body, kv...)
	if err != nil {
		// The body was decoded as an object already; keep it as is.
		return body, top
	}
	for _, m := range kv {
		top[m.key] = json.RawMessage(m.value)
	}
	return out, top
}
