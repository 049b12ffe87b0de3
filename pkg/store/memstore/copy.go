package memstore

import (
	"encoding/json"
	"reflect"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Records are copied on the way in and on the way out so that neither the
// caller nor the store can change the other's data through shared pointers,
// slices, maps or JSON bytes.

func copyRaw(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	return append(json.RawMessage{}, b...)
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func copySlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T{}, s...)
}

func copyConfig(c model.RolloutConfig) model.RolloutConfig {
	c.TimeoutSeconds = copyPtr(c.TimeoutSeconds)
	c.UnresponsiveSeconds = copyPtr(c.UnresponsiveSeconds)
	c.RetryCondition = copySlice(c.RetryCondition)
	return c
}

// copyRollout copies r without its Attempt: the latest attempt is derived
// data that Core attaches, never stored with the rollout.
func copyRollout(r *model.Rollout) *model.Rollout {
	out := *r
	out.Input = copyRaw(r.Input)
	out.EndTime = copyPtr(r.EndTime)
	out.Mode = copyPtr(r.Mode)
	out.ResourcesID = copyPtr(r.ResourcesID)
	out.Config = copyConfig(r.Config)
	out.Metadata = copyRaw(r.Metadata)
	out.Attempt = nil
	return &out
}

func copyAttempt(a *model.Attempt) *model.Attempt {
	out := *a
	out.EndTime = copyPtr(a.EndTime)
	out.WorkerID = copyPtr(a.WorkerID)
	out.LastHeartbeatTime = copyPtr(a.LastHeartbeatTime)
	out.Metadata = copyRaw(a.Metadata)
	return &out
}

func copyWorker(w *model.Worker) *model.Worker {
	out := *w
	out.HeartbeatStats = copyRaw(w.HeartbeatStats)
	out.LastHeartbeatTime = copyPtr(w.LastHeartbeatTime)
	out.LastDequeueTime = copyPtr(w.LastDequeueTime)
	out.LastBusyTime = copyPtr(w.LastBusyTime)
	out.LastIdleTime = copyPtr(w.LastIdleTime)
	out.CurrentRolloutID = copyPtr(w.CurrentRolloutID)
	out.CurrentAttemptID = copyPtr(w.CurrentAttemptID)
	return &out
}

func copyResources(r *model.ResourcesUpdate) *model.ResourcesUpdate {
	out := *r
	if r.Resources != nil {
		out.Resources = make(model.NamedResources, len(r.Resources))
		for k, v := range r.Resources {
			out.Resources[k] = copyRaw(v)
		}
	}
	return &out
}

// copySpan copies a span field by field rather than through Span.Clone: the
// JSON round trip would turn float attributes into json.Number, and it falls
// back to a shallow copy for values JSON cannot encode (a NaN attribute).
func copySpan(s *model.Span) *model.Span {
	out := *s
	out.ParentID = copyPtr(s.ParentID)
	out.Status = copyStatus(s.Status)
	out.Attributes = copyAttributes(s.Attributes)
	if s.Events != nil {
		out.Events = make([]model.Event, len(s.Events))
		for i, e := range s.Events {
			e.Attributes = copyAttributes(e.Attributes)
			e.Timestamp = copyPtr(e.Timestamp)
			e.Extra = copyExtras(e.Extra)
			out.Events[i] = e
		}
	}
	if s.Links != nil {
		out.Links = make([]model.Link, len(s.Links))
		for i, l := range s.Links {
			l.Context = copySpanContext(l.Context)
			l.Attributes = copyAttributes(l.Attributes)
			l.Extra = copyExtras(l.Extra)
			out.Links[i] = l
		}
	}
	out.StartTime = copyPtr(s.StartTime)
	out.EndTime = copyPtr(s.EndTime)
	if s.Context != nil {
		c := copySpanContext(*s.Context)
		out.Context = &c
	}
	if s.Parent != nil {
		c := copySpanContext(*s.Parent)
		out.Parent = &c
	}
	out.Resource.Attributes = copyAttributes(s.Resource.Attributes)
	out.Extra = copyExtras(s.Extra)
	return &out
}

func copyStatus(s model.TraceStatus) model.TraceStatus {
	s.Description = copyPtr(s.Description)
	s.Extra = copyExtras(s.Extra)
	return s
}

func copySpanContext(c model.SpanContext) model.SpanContext {
	if c.TraceState != nil {
		ts := make(map[string]string, len(c.TraceState))
		for k, v := range c.TraceState {
			ts[k] = v
		}
		c.TraceState = ts
	}
	c.Extra = copyExtras(c.Extra)
	return c
}

func copyExtras(e model.Extras) model.Extras {
	if e == nil {
		return nil
	}
	out := make(model.Extras, len(e))
	for k, v := range e {
		out[k] = copyRaw(v)
	}
	return out
}

func copyAttributes(a model.Attributes) model.Attributes {
	if a == nil {
		return nil
	}
	out := make(model.Attributes, len(a))
	for k, v := range a {
		out[k] = copyAny(v)
	}
	return out
}

// copyAny deep-copies an attribute value. Scalars are immutable; containers
// are rebuilt, whatever their element type.
func copyAny(v any) any {
	switch x := v.(type) {
	case nil, string, bool, json.Number, float64, float32, int, int64, int32, uint64:
		return x
	case json.RawMessage:
		return copyRaw(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = copyAny(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyAny(e)
		}
		return out
	}
	return copyReflect(reflect.ValueOf(v)).Interface()
}

// copyReflect handles typed containers such as []string or map[string]int.
func copyReflect(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(copyElem(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out.SetMapIndex(iter.Key(), copyElem(iter.Value()))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(copyElem(v.Elem()))
		return out
	default:
		return v
	}
}

// copyElem copies one element of a container, unwrapping interfaces so that
// nested []any and maps are copied too.
func copyElem(v reflect.Value) reflect.Value {
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(reflect.ValueOf(copyAny(v.Elem().Interface())))
		return out
	}
	return copyReflect(v)
}

// copyTriplet also turns absent JSON into null, so triplets read back the
// same as from the SQL backends.
func copyTriplet(t model.TripletRecord) model.TripletRecord {
	t.Triplet.Prompt = copyRaw(model.RawOrNull(t.Triplet.Prompt))
	t.Triplet.Response = copyRaw(model.RawOrNull(t.Triplet.Response))
	t.Triplet.Reward = copyPtr(t.Triplet.Reward)
	t.Triplet.Metadata = copyRaw(model.RawOrNull(t.Triplet.Metadata))
	return t
}

func copyMessage(m *model.MessageRecord) *model.MessageRecord {
	out := *m
	out.Body = copyRaw(m.Body)
	out.Attributes = copyRaw(m.Attributes)
	return &out
}
