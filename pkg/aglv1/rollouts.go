package aglv1

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func readAll(r *http.Request) ([]byte, error) { return io.ReadAll(r.Body) }

var states = []string{model.V1Queuing, model.V1Running, model.V1Succeeded, model.V1Failed}

const statesExpected = "'queuing', 'running', 'succeeded' or 'failed'"

func (e *errs) badState(loc []any, v any) {
	*e = append(*e, fieldError{Type: "enum", Loc: loc, Msg: "Input should be " + statesExpected, Input: v,
		Ctx: map[string]any{"expected": statesExpected}})
}

// POST /api/rollouts: a list of RolloutCreate, 201 with the rollouts in
// request order.
func (a *API) createRollouts(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var e errs
	list, ok := asList(&e, []any{"body"}, body)
	if !ok {
		e.write(w)
		return
	}
	reqs := make([]store.V1Create, 0, len(list))
	for i, item := range list {
		if c, ok := parseCreate(&e, []any{"body", i}, item); ok {
			reqs = append(reqs, c)
		}
	}
	if len(e) > 0 {
		e.write(w)
		return
	}
	for i := range reqs {
		md, ok := normaliseMetadata(reqs[i].Metadata)
		if !ok {
			// v1.0 validates metadata only when it builds the Rollout,
			// after the request's validation: an unhandled error there.
			internalError(w)
			return
		}
		reqs[i].Metadata = md
	}
	out, err := a.store.CreateV1Rollouts(r.Context(), reqs)
	if err != nil {
		a.storeError(w, "", err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func parseCreate(e *errs, loc []any, item any) (store.V1Create, bool) {
	o, ok := asModel(e, loc, item)
	if !ok {
		return store.V1Create{}, false
	}
	n := len(*e)
	c := store.V1Create{IsTrain: true}
	if v, ok := o.get("input"); ok {
		c.Input = raw(v)
	} else {
		e.missing(at(loc, "input"), item)
	}
	if v, ok := o.get("is_train"); ok {
		c.IsTrain, _ = asBool(e, at(loc, "is_train"), v)
	}
	cfg, _ := o.get("config")
	c.Config = parseConfig(e, at(loc, "config"), cfg)
	if v, ok := o.get("metadata"); ok && v != nil {
		if md, ok := asDict(e, at(loc, "metadata"), v); ok {
			c.Metadata = raw(md)
		}
	}
	if v, ok := o.get("rollout_id"); ok {
		// v1.0 takes `rollout_id or uuid4().hex`: "" asks for a new id too.
		if id, ok := asString(e, at(loc, "rollout_id"), v, true); ok && id != nil && *id != "" {
			c.RolloutID = id
		}
	}
	return c, len(*e) == n
}

// parseConfig validates v1.0's RolloutConfig and fills its defaults;
// unknown keys are dropped, as pydantic does.
func parseConfig(e *errs, loc []any, v any) json.RawMessage {
	out := newObject()
	out.set("timeout_seconds", int64(3600))
	out.set("local", nil)
	out.set("k8s", nil)
	if v == nil {
		return raw(out)
	}
	o, ok := asModel(e, loc, v)
	if !ok {
		return nil
	}
	if t, ok := o.get("timeout_seconds"); ok {
		if n, ok := asInt(e, at(loc, "timeout_seconds"), t, false); ok {
			out.set("timeout_seconds", *n)
		}
	}
	if l, ok := o.get("local"); ok && l != nil {
		if lo, ok := asModel(e, at(loc, "local"), l); ok {
			local := newObject()
			local.set("agent_class", nil)
			local.set("env_map", newObject())
			if ac, ok := lo.get("agent_class"); ok {
				if s, ok := asString(e, at(loc, "local", "agent_class"), ac, true); ok && s != nil {
					local.set("agent_class", *s)
				}
			}
			if em, ok := lo.get("env_map"); ok {
				if m, ok := asDict(e, at(loc, "local", "env_map"), em); ok {
					env := newObject()
					for _, k := range m.keys {
						if s, ok := asString(e, at(loc, "local", "env_map", k), m.vals[k], false); ok {
							env.set(k, *s)
						}
					}
					local.set("env_map", env)
				}
			}
			out.set("local", local)
		}
	}
	if k, ok := o.get("k8s"); ok && k != nil {
		if ko, ok := asModel(e, at(loc, "k8s"), k); ok {
			k8s := newObject()
			k8s.set("job_template", nil)
			if jt, ok := ko.get("job_template"); ok {
				if s, ok := asString(e, at(loc, "k8s", "job_template"), jt, true); ok && s != nil {
					k8s.set("job_template", *s)
				}
			}
			out.set("k8s", k8s)
		}
	}
	return raw(out)
}

// normaliseMetadata is v1.0's RolloutMetadata: batch_idx and
// sample_idx_in_batch (integers or null) first, then the extra keys in
// order. It reports false where v1.0 fails with an unhandled error.
func normaliseMetadata(md json.RawMessage) (json.RawMessage, bool) {
	out := newObject()
	out.set("batch_idx", nil)
	out.set("sample_idx_in_batch", nil)
	if len(md) == 0 {
		return raw(out), true
	}
	v, err := decodeOrdered(md)
	o, isObj := v.(*object)
	if err != nil || !isObj {
		return nil, false
	}
	var e errs
	for _, k := range o.keys {
		val := o.vals[k]
		if k == "batch_idx" || k == "sample_idx_in_batch" {
			n, ok := asInt(&e, nil, val, true)
			if !ok {
				return nil, false
			}
			if n != nil {
				val = *n
			}
		}
		out.set(k, val)
	}
	return raw(out), true
}

// GET /api/rollouts?state_in=...&limit=500: v1-owned rollouts only.
func (a *API) listRollouts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var e errs
	want := q["state_in"]
	if len(want) == 0 {
		e.missing([]any{"query", "state_in"}, nil)
	}
	for i, s := range want {
		if !slices.Contains(states, s) {
			e.badState([]any{"query", "state_in", i}, s)
		}
	}
	limit := queryInt(&e, q, "limit", 500)
	if len(e) > 0 {
		e.write(w)
		return
	}
	out, err := a.store.V1Rollouts(r.Context(), want, limit)
	if err != nil {
		a.storeError(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func queryInt(e *errs, q map[string][]string, key string, def int) int {
	vals := q[key]
	if len(vals) == 0 {
		return def
	}
	// FastAPI reads the last value of a repeated scalar parameter.
	n, ok := asInt(e, []any{"query", key}, vals[len(vals)-1], false)
	if !ok {
		return def
	}
	return int(*n)
}

// GET /api/rollouts/terminal?after=0&limit=1000: the completion cursor.
func (a *API) terminal(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var e errs
	after := queryInt(&e, q, "after", 0)
	limit := queryInt(&e, q, "limit", 1000)
	if len(e) > 0 {
		e.write(w)
		return
	}
	page, err := a.store.V1Terminal(r.Context(), after, limit)
	if err != nil {
		a.storeError(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// GET /api/rollouts/{id}: {"rollout": ..., "attempts": [...]}.
func (a *API) getRollout(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ro, attempts, err := a.store.V1Rollout(r.Context(), id)
	if err != nil {
		a.storeError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rollout": ro, "attempts": attempts})
}

// PATCH /api/rollouts/{id}: {"status": {...}} with v1.0's guard.
func (a *API) patchRollout(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var e errs
	o, ok := asModel(&e, []any{"body"}, body)
	if !ok {
		e.write(w)
		return
	}
	var p store.V1StatusPatch
	if st, ok := o.get("status"); ok && st != nil {
		if so, ok := asModel(&e, []any{"body", "status"}, st); ok {
			p = parseStatusPatch(&e, so)
		}
	}
	if len(e) > 0 {
		e.write(w)
		return
	}
	out, err := a.store.PatchV1Rollout(r.Context(), id, p)
	if err != nil {
		a.storeError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func parseStatusPatch(e *errs, so *object) store.V1StatusPatch {
	var p store.V1StatusPatch
	loc := []any{"body", "status"}
	// pydantic reports the declared fields in declaration order, then the
	// forbidden extra keys in input order.
	fields := []struct {
		key string
		dst *store.Patch[string]
	}{{"state", &p.State}, {"k8s_job_name", &p.K8sJobName}, {"last_attempt_id", &p.LastAttemptID}, {"error_message", &p.ErrorMessage}}
	for _, f := range fields {
		v, ok := so.get(f.key)
		if !ok {
			continue
		}
		if f.key == "state" && v != nil && !slices.Contains(states, asPlainString(v)) {
			e.badState(at(loc, f.key), v)
			continue
		}
		if s, ok := asString(e, at(loc, f.key), v, true); ok {
			*f.dst = store.Patch[string]{Set: true, Value: s}
		}
	}
	for _, k := range so.keys {
		switch k {
		case "state", "k8s_job_name", "last_attempt_id", "error_message":
		default:
			e.add("extra_forbidden", at(loc, k), "Extra inputs are not permitted", so.vals[k])
		}
	}
	return p
}

func asPlainString(v any) string {
	s, _ := v.(string)
	return s
}

// DELETE /api/rollouts/{id}: 204 whether or not it existed.
func (a *API) deleteRollout(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.store.DeleteRollout(r.Context(), id); err != nil {
		a.storeError(w, id, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// POST /api/models: an upsert keyed by (model, endpoint); 201 echoes the
// list.
func (a *API) postModels(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var e errs
	list, ok := asList(&e, []any{"body"}, body)
	if !ok {
		e.write(w)
		return
	}
	models := make([]llmmodels.Model, 0, len(list))
	for i, item := range list {
		loc := []any{"body", i}
		o, ok := asModel(&e, loc, item)
		if !ok {
			continue
		}
		var m llmmodels.Model
		for _, f := range []struct {
			key string
			dst *string
		}{{"model", &m.Name}, {"endpoint", &m.Endpoint}} {
			v, ok := o.get(f.key)
			if !ok {
				e.missing(at(loc, f.key), item)
				continue
			}
			if s, ok := asString(&e, at(loc, f.key), v, false); ok {
				*f.dst = *s
			}
		}
		if v, ok := o.get("version"); ok {
			if n, ok := asInt(&e, at(loc, "version"), v, false); ok {
				m.Version = int(*n)
			}
		}
		models = append(models, m)
	}
	if len(e) > 0 {
		e.write(w)
		return
	}
	if err := a.store.UpsertModels(r.Context(), models); err != nil {
		a.storeError(w, "", err)
		return
	}
	writeJSON(w, http.StatusCreated, models)
}

// DELETE /api/models removes every model.
func (a *API) deleteModels(w http.ResponseWriter, r *http.Request) {
	if err := a.store.DeleteModels(r.Context()); err != nil {
		a.storeError(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
