package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/otelcol-lightning/otelcol-lightning/bench/loadgen"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
)

// nestedAttr sets key to depth levels of one-element arrays (kvlists when
// maps) around a string.
func nestedAttr(key string, depth int, maps bool) func(pcommon.Map) {
	return func(a pcommon.Map) {
		v := a.PutEmpty(key)
		for range depth {
			if maps {
				v = v.SetEmptyMap().PutEmpty("k")
			} else {
				v = v.SetEmptySlice().AppendEmpty()
			}
		}
		v.SetStr("leaf")
	}
}

// deepOTLPJSON is an OTLP/JSON export of one span of the rollout whose
// attribute nests depth arrayValues, the shape of the 10 001-level
// request.
func deepOTLPJSON(rolloutID, attemptID string, depth int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"resourceSpans":[{"resource":{"attributes":[{"key":"agentlightning.rollout_id","value":{"stringValue":%q}},{"key":"agentlightning.attempt_id","value":{"stringValue":%q}}]},"scopeSpans":[{"spans":[{"traceId":"fe010000000000000000000000000000","spanId":"fe02000000000000","name":"deep","attributes":[{"key":"deep","value":`, rolloutID, attemptID)
	b.WriteString(strings.Repeat(`{"arrayValue":{"values":[`, depth))
	b.WriteString(`{"stringValue":"x"}`)
	b.WriteString(strings.Repeat(`]}}`, depth))
	b.WriteString(`}]}]}]}]}`)
	return b.Bytes()
}

// rawCodec puts bytes on the gRPC wire as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { *(v.(*[]byte)) = data; return nil }
func (rawCodec) Name() string                       { return "proto" }

// TestHardeningDeepNestingEveryDoor sends values nested past depthlimit.Max
// to every door, labelled with a victim rollout's ids: each door refuses
// them with 400 / INVALID_ARGUMENT and counts them, and the victim's spans
// stay readable. A value that passes the OTLP/JSON door's coarse bound but
// is over the limit is refused by the store (defence in depth), counted as
// too_deep, never stored.
func TestHardeningDeepNestingEveryDoor(t *testing.T) {
	requireBinary(t)
	h := newHostile(t)
	ctx := context.Background()
	rolloutID, attemptID := h.startRollout(t)
	good, _ := labelled(rolloutID, attemptID, "good", nil)
	if err := h.http.Send(ctx, good); err != nil {
		t.Fatal(err)
	}
	deep, _ := labelled(rolloutID, attemptID, "deep", nestedAttr("deep", depthlimit.Max+1, true))
	deepProto := protoBody(t, deep)
	proto := map[string]string{"Content-Type": "application/x-protobuf"}
	jsonCT := map[string]string{"Content-Type": "application/json"}
	deepJSON := deepOTLPJSON(rolloutID, attemptID, 10_000)

	for _, tc := range []struct {
		name    string
		url     string
		headers map[string]string
		body    []byte
		msg     string
	}{
		{"OTLP/HTTP JSON, 10 000 levels", h.c.otlpHTTP("/v1/traces"), jsonCT, deepJSON, "nested deeper than"},
		{"OTLP/HTTP protobuf, Max+1 levels", h.c.otlpHTTP("/v1/traces"), proto, deepProto, "nested deeper than 32 levels"},
		{"store port /v1/traces JSON", h.c.api("/v1/traces"), jsonCT, deepJSON, "nested deeper than"},
		{"store port /v1/traces protobuf", h.c.api("/v1/traces"), proto, deepProto, "nested deeper than 32 levels"},
		{"REST add_span", h.c.api("/v1/agl/spans"), jsonCT, []byte(`{"rollout_id":"` + rolloutID + `","attempt_id":"` + attemptID +
			`","sequence_id":9,"trace_id":"t","span_id":"s","name":"n","attributes":{"deep":` +
			strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`), "nested deeper than 32 levels"},
		{"REST start_rollout", h.c.api("/v1/agl/rollouts"), jsonCT, []byte(`{"input":` + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + `}`), "nested deeper than 32 levels"},
		{"v1.0 create rollouts", h.c.api("/api/rollouts"), jsonCT, []byte(`[{"input":` + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + `}]`), "nested deeper than 32 levels"},
		{"v1.0 post event", h.c.api("/api/rollouts/" + rolloutID + "/attempt/" + attemptID + "/events"), jsonCT,
			[]byte(`{"event_type":"reward","data":{"deep":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`), "nested deeper than 32 levels"},
		// The proxy's bound is looser (tools' JSON Schemas nest deeply) but
		// still refuses before it decodes, with or without an upstream.
		{"LLM proxy chat", "http://" + h.c.ProxyAddr + "/v1/chat/completions", jsonCT,
			[]byte(`{"model":"m","messages":[],"tools":` + strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000) + `}`), "nested deeper than 128 levels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := postRaw(t, tc.url, tc.headers, tc.body)
			if code != http.StatusBadRequest || !strings.Contains(msg, tc.msg) {
				t.Errorf("status %d %q, want 400 with %q", code, truncateMsg(msg), tc.msg)
			}
		})
	}

	t.Run("OTLP/gRPC", func(t *testing.T) {
		err := h.grpc.Send(ctx, deep)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "nested deeper than 32 levels") {
			t.Errorf("deep export: %v, want InvalidArgument", err)
		}
		conn, err := grpc.NewClient(h.c.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var out []byte
		err = conn.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
			[]byte("\x0a\xff\xff\xff\x0f garbage"), &out, grpc.ForceCodec(rawCodec{}))
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("garbage protobuf: %v, want InvalidArgument", err)
		}
	})

	// 40 arrayValues: 3 JSON levels each stays within the JSON door's bound
	// (depthlimit.OTLPJSONMax), but the value is over the limit.
	t.Run("past the JSON door, refused by the store", func(t *testing.T) {
		code, msg := postRaw(t, h.c.otlpHTTP("/v1/traces"), jsonCT, deepOTLPJSON(rolloutID, attemptID, depthlimit.Max+8))
		if code != http.StatusOK {
			t.Fatalf("status %d %q, want 200 (the store refuses the span inside the write)", code, msg)
		}
		eventually(t, dataTimeout, func() error {
			if n := h.c.metric(t, "otelcol_exporter_lightningstore_spans_rejected"); n < 1 {
				return notYet("spans_rejected %v", n)
			}
			return nil
		})
	})

	// The victim is whole: its one good span, nothing else.
	var page struct {
		Items []map[string]any `json:"items"`
	}
	postJSONStatus(t, h.c.api("/v1/agl/spans/search"), http.StatusOK, map[string]any{"rollout_id": rolloutID}, &page)
	if len(page.Items) != 1 || page.Items[0]["name"] != "good" {
		t.Errorf("victim's spans: %v, want only the good one", page.Items)
	}
	for name, atLeast := range map[string]float64{
		"otelcol_requestguard_requests_refused":   4, // 4318 JSON and protobuf, 4317 deep and garbage
		"otelcol_lightningstore_requests_refused": 4, // /v1/traces JSON and protobuf, add_span, start_rollout
	} {
		if n := h.c.metric(t, name); n < atLeast {
			t.Errorf("%s = %v, want at least %v", name, n, atLeast)
		}
	}
	h.stillServing(t)
}

// rss is the resident set of pid in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestHardeningDeepNestingMemory: four concurrent 20 MB deeply nested
// requests to each HTTP door cost the collector less than 50 MB of RSS
// (before, one such request to 4318 cost 530 MB): they are refused as they
// are read, before anything decodes them.
func TestHardeningDeepNestingMemory(t *testing.T) {
	requireBinary(t)
	c := launch(t, t.TempDir(), launchSpec{})
	pid := c.cmd.Process.Pid
	const size = 20_000_000
	depth := (size - 200) / len(`{"arrayValue":{"values":[`)
	body := deepOTLPJSON("ro-mem", "at-1", depth)[:size]
	restBody := append([]byte(`{"input":`), bytes.Repeat([]byte("["), size-10)...)

	base := rss(t, pid)
	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				peak = max(peak, rss(t, pid))
			}
		}
	}()
	doors := []struct{ url, ct string }{
		{c.otlpHTTP("/v1/traces"), "application/json"},
		{c.api("/v1/traces"), "application/json"},
		{c.api("/v1/agl/rollouts"), "application/json"},
	}
	for _, door := range doors {
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := body
				if strings.Contains(door.url, "/v1/agl/") {
					b = restBody
				}
				resp, err := httpClient.Post(door.url, door.ct, bytes.NewReader(b))
				if err != nil {
					// The server may answer and close before the client has
					// written all 20 MB; the answer is what matters, and a
					// closed connection is not an acceptance.
					return
				}
				defer resp.Body.Close()
				_, _ = io.Copy(io.Discard, resp.Body)
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("%s: status %d, want 400", door.url, resp.StatusCode)
				}
			}()
		}
		wg.Wait()
	}
	close(stop)
	<-sampled
	growth := peak - base
	t.Logf("RSS %d MiB before, peak %d MiB during 3×4 concurrent 20 MB nested requests (growth %.2f× of the baseline)",
		base>>20, peak>>20, float64(peak)/float64(base))
	if growth > 50<<20 {
		t.Errorf("RSS grew by %d MiB, want under 50 MiB", growth>>20)
	}
}

// TestHardeningSortWithDeepInput: a rollout whose input nests to the limit
// is accepted and sorting on every JSON field keeps answering; one past the
// limit is refused, so it can never poison a sort.
func TestHardeningSortWithDeepInput(t *testing.T) {
	requireBinary(t)
	c := launch(t, t.TempDir(), launchSpec{})
	nested := func(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }
	code, body := post(t, c.api("/v1/agl/rollouts"), "application/json", []byte(`{"input":`+nested(depthlimit.Max-1)+`}`))
	if code != http.StatusCreated {
		t.Fatalf("input at the limit: %d %s", code, body)
	}
	code, _ = post(t, c.api("/v1/agl/rollouts"), "application/json", []byte(`{"input":`+nested(1500)+`}`))
	if code != http.StatusBadRequest {
		t.Fatalf("input nested 1 500 levels: %d, want 400", code)
	}
	postJSONStatus(t, c.api("/v1/agl/rollouts"), http.StatusCreated, map[string]any{"input": map[string]any{"task": 1}}, &wireRollout{})
	for _, field := range []string{"input", "metadata", "config", "rollout_id"} {
		for _, order := range []string{"asc", "desc"} {
			var page struct {
				Items []wireRollout `json:"items"`
			}
			postJSONStatus(t, c.api("/v1/agl/rollouts/search"), http.StatusOK, map[string]any{"sort_by": field, "sort_order": order}, &page)
			if len(page.Items) != 2 {
				t.Errorf("sort_by %s %s: %d rollouts, want 2", field, order, len(page.Items))
			}
		}
	}
}

// TestHardeningLongWait: wait_for_rollouts lives as long as its caller
// asked, past the server's write timeout. In CI the store port's write
// timeout is 2 s (testdata/timeouts.yaml) and the waits 5 s; with -long the
// shipped 30 s and a 60 s wait.
func TestHardeningLongWait(t *testing.T) {
	requireBinary(t)
	spec, wait := launchSpec{configs: []string{testdataPath("timeouts.yaml")}}, 5*time.Second
	if isLong() {
		spec, wait = launchSpec{}, 60*time.Second
	}
	c := launch(t, t.TempDir(), spec)
	var r wireRollout
	postJSONStatus(t, c.api("/v1/agl/rollouts"), http.StatusCreated, map[string]any{"input": "wait"}, &r)

	waitFor := func(timeout any) (int, []wireRollout, time.Duration, error) {
		body, _ := json.Marshal(map[string]any{"rollout_ids": []string{r.RolloutID}, "timeout": timeout})
		client := &http.Client{Timeout: wait + time.Minute}
		begin := time.Now()
		resp, err := client.Post(c.api("/v1/agl/waits/rollouts"), "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, nil, time.Since(begin), err
		}
		defer resp.Body.Close()
		var out []wireRollout
		err = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out, time.Since(begin), err
	}

	t.Run("timeout longer than the write timeout", func(t *testing.T) {
		code, out, took, err := waitFor(wait.Seconds())
		if err != nil || code != http.StatusOK {
			t.Fatalf("after %s: status %d, %v", took, code, err)
		}
		if len(out) != 0 || took < wait {
			t.Errorf("answered %v after %s, want [] after %s", out, took, wait)
		}
	})
	t.Run("timeout null waits until the rollout finishes", func(t *testing.T) {
		go func() {
			time.Sleep(wait)
			if code, body := post(t, c.api("/v1/agl/rollouts/"+r.RolloutID), "application/json", []byte(`{"status":"succeeded"}`)); code != http.StatusOK {
				t.Errorf("finish the rollout: %d %s", code, body)
			}
		}()
		code, out, took, err := waitFor(nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("after %s: status %d, %v", took, code, err)
		}
		if len(out) != 1 || out[0].Status != "succeeded" || took < wait {
			t.Errorf("answered %v after %s, want the succeeded rollout after %s", out, took, wait)
		}
	})
}

// trickle opens a connection that sends the start of a request and then a
// byte every interval, and reports when the server closed it.
func trickle(ctx context.Context, addr, head string, interval time.Duration, closed chan<- time.Duration) {
	begin := time.Now()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		closed <- -1
		return
	}
	defer conn.Close()
	go func() {
		_, _ = conn.Write([]byte(head))
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	// The server's answer (408, 400) or its close ends the read.
	_, _ = io.Copy(io.Discard, conn)
	select {
	case closed <- time.Since(begin):
	case <-ctx.Done():
	}
}

func p50(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// TestHardeningSlowClients: 300 connections trickling headers or bodies to
// 4318 and 4747 are closed within the configured timeouts (2 s for headers,
// 3 s for a whole request in testdata/timeouts.yaml; 10 s and 1 min as
// shipped with -long), and ordinary requests meanwhile keep their latency.
func TestHardeningSlowClients(t *testing.T) {
	requireBinary(t)
	spec, headerTimeout, readTimeout := launchSpec{configs: []string{testdataPath("timeouts.yaml")}}, 2*time.Second, 3*time.Second
	if isLong() {
		spec, headerTimeout, readTimeout = launchSpec{}, 10*time.Second, time.Minute
	}
	c := launch(t, t.TempDir(), spec)
	sender := loadgen.NewHTTPSender(c.otlpHTTP("/v1/traces"), loadgen.HTTPOptions{})
	t.Cleanup(func() { _ = sender.Close() })
	ctx := context.Background()
	n := 0
	latency := func(k int) []time.Duration {
		var out []time.Duration
		for range k {
			n++
			begin := time.Now()
			if err := sender.Send(ctx, relBatch(n, 1, 1, "ro-slow")); err != nil {
				t.Fatalf("ordinary export: %v", err)
			}
			resp, err := httpClient.Get(c.api("/v1/agl/health"))
			if err != nil {
				t.Fatalf("ordinary read: %v", err)
			}
			_ = resp.Body.Close()
			out = append(out, time.Since(begin))
		}
		return out
	}
	before := p50(latency(20))

	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	closed := make(chan time.Duration, 300)
	const headers = "POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
	body := func(path string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
	}
	for i := range 300 {
		addr, head := c.HTTPAddr, headers
		switch i % 3 {
		case 1:
			head = body("/v1/traces")
		case 2:
			addr, head = c.APIAddr, body("/v1/agl/rollouts")
		}
		go trickle(tctx, addr, head, 200*time.Millisecond, closed)
	}
	time.Sleep(headerTimeout / 2)
	during := p50(latency(20))

	slack := 2 * time.Second
	deadline := time.After(readTimeout + slack + time.Second)
	var longest time.Duration
	for i := range 300 {
		select {
		case d := <-closed:
			if d < 0 {
				t.Fatal("could not connect")
			}
			longest = max(longest, d)
		case <-deadline:
			t.Fatalf("%d of 300 slow connections still open after %s", 300-i, readTimeout+slack)
		}
	}
	t.Logf("export+read p50: %s before, %s with 300 slow clients (%.2f×); slowest close after %s",
		before, during, float64(during)/float64(before), longest)
	if longest > readTimeout+slack {
		t.Errorf("a slow connection lasted %s, want under %s", longest, readTimeout+slack)
	}
	// Loopback latency is a few ms; 300 idle trickling connections must not
	// change its order of magnitude.
	if during > 10*before && during > 50*time.Millisecond {
		t.Errorf("p50 latency %s with slow clients, %s before", during, before)
	}
}
