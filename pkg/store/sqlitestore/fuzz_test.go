package sqlitestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// fuzzStore is one store per fuzzing process: opening SQLite per input
// would leave no time to fuzz.
func fuzzStore(f *testing.F) *store.Core {
	b, err := Open(filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	core := store.New(b, store.Options{})
	f.Cleanup(func() { _ = core.Close() })
	return core
}

// readBack reads everything a client can read of rollout r after a write:
// its spans (decoded and raw), the rollout, and every sort over a JSON
// field; none may fail, and the rollout keeps exactly wantSpans spans.
func readBack(t *testing.T, core *store.Core, r *model.Rollout, wantSpans int) {
	t.Helper()
	ctx := context.Background()
	spans, err := core.QuerySpans(ctx, store.SpanQuery{RolloutID: r.RolloutID, Page: store.AllPage()})
	if err != nil {
		t.Fatalf("query spans: %v", err)
	}
	if len(spans.Items) != wantSpans {
		t.Fatalf("read back %d spans, want %d", len(spans.Items), wantSpans)
	}
	raw, err := core.QuerySpansRaw(ctx, store.SpanQuery{RolloutID: r.RolloutID, Page: store.AllPage()})
	if err != nil || len(raw.Items) != wantSpans {
		t.Fatalf("query raw spans: %d, %v", len(raw.Items), err)
	}
	for _, doc := range raw.Items {
		if !json.Valid(doc) {
			t.Fatalf("stored span is not JSON: %s", doc)
		}
	}
	if _, err := core.GetRollout(ctx, r.RolloutID); err != nil {
		t.Fatalf("get rollout: %v", err)
	}
	for _, field := range []string{"input", "metadata", "config"} {
		for _, order := range []string{store.SortAsc, store.SortDesc} {
			if _, err := core.QueryRollouts(ctx, store.RolloutQuery{Page: store.Page{SortBy: &field, SortOrder: order, Limit: 5}}); err != nil {
				t.Fatalf("sort rollouts by %s %s: %v", field, order, err)
			}
		}
	}
	for _, field := range []string{"attributes", "resource", "status"} {
		if _, err := core.QuerySpans(ctx, store.SpanQuery{RolloutID: r.RolloutID, Page: store.Page{SortBy: &field, SortOrder: store.SortAsc, Limit: -1}}); err != nil {
			t.Fatalf("sort spans by %s: %v", field, err)
		}
	}
}

// FuzzStoreJSONRoundTrip writes any JSON value the REST doors accept (a
// rollout input and metadata, a span attribute) into a real SQLite store
// and reads everything back: what the API accepted must stay readable,
// searchable and sortable. Values the doors refuse (nested deeper than
// depthlimit.Max) must be refused by the store too.
func FuzzStoreJSONRoundTrip(f *testing.F) {
	for _, seed := range []string{
		`{"task":"x"}`, `[1,2,3]`, `"s"`, `1e400`, `-0`, `null`, `{"a":"[[[[{{{"}`, `"\ud800"`,
		strings.Repeat("[", depthlimit.Max) + strings.Repeat("]", depthlimit.Max),
		`{"k":` + strings.Repeat(`{"a":`, depthlimit.Max-1) + `1` + strings.Repeat(`}`, depthlimit.Max) + `}`,
		strings.Repeat("[", depthlimit.Max+1) + strings.Repeat("]", depthlimit.Max+1),
	} {
		f.Add([]byte(seed))
	}
	core := fuzzStore(f)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, doc []byte) {
		// The doors: the body's nesting, then JSON validity.
		if depthlimit.CheckJSON(doc, depthlimit.Max-1) != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var value any
		if dec.Decode(&value) != nil {
			return
		}
		if _, err := dec.Token(); err != io.EOF {
			return
		}
		ctx := context.Background()
		r, err := core.StartRollout(ctx, store.StartRolloutRequest{Input: doc, Metadata: json.RawMessage(`{"v":` + string(doc) + `}`)})
		if err != nil {
			t.Fatalf("start rollout with input %q: %v", doc, err)
		}
		i := n.Add(1)
		span := model.Span{
			RolloutID: r.RolloutID, AttemptID: r.Attempt.AttemptID, TraceID: fmt.Sprintf("%032x", i), SpanID: fmt.Sprintf("%016x", i),
			Name: "fuzz", Attributes: model.Attributes{"v": value}, Resource: model.OtelResource{Attributes: model.Attributes{"v": value}},
		}
		_, err = core.AddSpan(ctx, span)
		if err != nil && !errors.Is(err, depthlimit.ErrTooDeep) {
			t.Fatalf("add span: %v", err)
		}
		stored := 0
		if err == nil {
			stored = 1
		}
		readBack(t, core, r, stored)
	})
}

// FuzzStoreOTLPRoundTrip writes any OTLP protobuf export the OTLP doors
// accept (depth scan, then pdata's decoder) through the store's ingest path
// into real SQLite, under one rollout, and reads everything back.
func FuzzStoreOTLPRoundTrip(f *testing.F) {
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("seed")
	v := span.Attributes().PutEmpty("deep")
	for range depthlimit.Max {
		v = v.SetEmptyMap().PutEmpty("k")
	}
	v.SetStr("x")
	span.Events().AppendEmpty().Attributes().PutEmptySlice("list").AppendEmpty().SetDouble(1.5)
	seed, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	f.Add(seed)
	f.Add([]byte{0x0a, 0x00})
	core := fuzzStore(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if depthlimit.CheckOTLP(body, depthlimit.TracesRequest, depthlimit.Max) != nil {
			return
		}
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		if err != nil || td.SpanCount() == 0 || td.SpanCount() > 50 {
			return
		}
		ctx := context.Background()
		r, err := core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		var items []store.IngestItem
		for _, rs := range td.ResourceSpans().All() {
			res := otlpspan.ConvertResource(rs)
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					sp := otlpspan.ConvertSpan(s, res)
					sp.RolloutID, sp.AttemptID = r.RolloutID, r.Attempt.AttemptID
					items = append(items, store.IngestItem{Span: sp})
				}
			}
		}
		res, err := core.IngestSpans(ctx, items)
		if err != nil {
			t.Fatalf("ingest: %v", err)
		}
		for _, rej := range res.Rejected {
			if !errors.Is(rej.Err, depthlimit.ErrTooDeep) {
				t.Fatalf("span refused: %v", rej.Err)
			}
		}
		readBack(t, core, r, len(res.Stored))
	})
}
