package llmproxyreceiver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
)

const (
	// maxUpstreamBody bounds a non-streamed upstream answer held in memory.
	maxUpstreamBody = 64 << 20
	// maxEventBytes bounds one SSE event of a streamed answer.
	maxEventBytes = 16 << 20
	// maxErrorBody bounds an upstream error body passed to the client.
	maxErrorBody = 1 << 20
)

// Call outcomes (receiver_llmproxy_calls) and error reasons
// (receiver_llmproxy_errors).
const (
	outcomeOK          = "ok"
	outcomeClientError = "client_error"
	outcomeUpstream    = "upstream_error"
	outcomeCancelled   = "cancelled"
	outcomePaused      = "paused"
	outcomeNoUpstream  = "no_upstream"

	reasonConnect   = "connect"
	reasonTimeout   = "timeout"
	reasonTruncated = "truncated"
	reasonBadBody   = "bad_body"
	reasonCancelled = "cancelled"
	reasonSpan      = "span"
)

func (r *proxyReceiver) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /proxy/pause", r.servePause)
	mux.HandleFunc("POST /proxy/resume", r.serveResume)
	mux.HandleFunc("GET /proxy/state", r.serveState)
	mux.HandleFunc("/", r.serveAPI)
	return mux
}

func (r *proxyReceiver) serveAPI(w http.ResponseWriter, req *http.Request) {
	rt, ok := parseRoute(req)
	if !ok {
		if strings.HasPrefix(req.URL.Path, "/proxy/") {
			// Agent Lightning v1.0's shape for a path none of its routes match.
			writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
			return
		}
		writeAPIError(w, http.StatusNotFound, "invalid_request_error", "not_found", "unknown route "+req.URL.Path)
		return
	}
	rt.client = rt.api
	if rt.v10 {
		if r.checkV1(w, req, rt) {
			r.serveCall(w, req, rt)
		}
		return
	}
	switch rt.api {
	case apiChat, apiCompletions, apiResponses, apiMessages:
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeAPIError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "use POST")
			return
		}
		r.serveCall(w, req, rt)
	case "models":
		if req.Method != http.MethodGet {
			writeAPIError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "use GET")
			return
		}
		r.serveModels(w, req)
	default:
		writeAPIError(w, http.StatusNotFound, "invalid_request_error", "not_found",
			fmt.Sprintf("the LLM proxy does not serve /v1/%s (it serves chat/completions, completions, responses, messages and models)", rt.api))
	}
}

// checkV1 makes Agent Lightning v1.0's checks that come before the body is
// read, in its order: only POST exists (405), a mode other than train or
// val is 404, a path other than chat/completions or completions is 404, and
// a rollout the store does not know is 404 (checked only when the proxy is
// attached to a store). The rollout's state is not checked, as in v1.0.
func (r *proxyReceiver) checkV1(w http.ResponseWriter, req *http.Request, rt route) bool {
	detail := func(status int, msg string) {
		writeJSON(w, status, map[string]string{"detail": msg})
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		detail(http.StatusMethodNotAllowed, "Method Not Allowed")
		return false
	}
	if rt.ident.mode != ModeTrain && rt.ident.mode != ModeVal {
		r.countCall(rt.api, outcomeClientError)
		detail(http.StatusNotFound, fmt.Sprintf("Unknown mode %q: use train or val", rt.ident.mode))
		return false
	}
	if rt.api != apiChat && rt.api != apiCompletions {
		r.countCall(rt.api, outcomeClientError)
		detail(http.StatusNotFound, fmt.Sprintf("Unsupported path %q: use chat/completions or completions", rt.api))
		return false
	}
	if st := r.rolloutStore(); st != nil {
		ro, err := st.GetRollout(req.Context(), rt.ident.rolloutID)
		if err != nil {
			r.countCall(rt.api, outcomeNoUpstream)
			r.logger.Warn("LLM proxy: reading the rollout failed", zap.Error(err), zap.String("rollout_id", rt.ident.rolloutID))
			detail(http.StatusServiceUnavailable, "reading the rollout failed: "+err.Error())
			return false
		}
		if ro == nil {
			r.countCall(rt.api, outcomeClientError)
			detail(http.StatusNotFound, "Rollout not found: "+rt.ident.rolloutID)
			return false
		}
	}
	return true
}

// serveModels lists the models the proxy routes by name, or asks the
// upstream that serves any model.
func (r *proxyReceiver) serveModels(w http.ResponseWriter, req *http.Request) {
	if names := r.knownModels(req.Context()); len(names) > 0 {
		type entry struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		}
		data := make([]entry, len(names))
		for i, n := range names {
			data[i] = entry{ID: n, Object: "model", OwnedBy: "llmproxy"}
		}
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
		return
	}
	for _, u := range r.static {
		if u.models != nil {
			continue
		}
		up, err := http.NewRequestWithContext(req.Context(), http.MethodGet, u.name+"/models", http.NoBody)
		if err != nil {
			break
		}
		u.authorize(up)
		resp, err := u.client.Do(up)
		if err != nil {
			writeAPIError(w, http.StatusBadGateway, "upstream_error", "upstream_unavailable", "upstream "+u.name+": "+err.Error())
			return
		}
		defer resp.Body.Close()
		copyHeader(w.Header(), resp.Header, "Content-Type")
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, maxUpstreamBody))
		return
	}
	writeAPIError(w, http.StatusServiceUnavailable, "server_error", "no_upstream", "no upstream configured: "+r.cfg.MissingUpstreamHint)
}

func (u *upstream) authorize(req *http.Request) {
	switch {
	case u.apiKey == "":
	case u.kind == KindAnthropic:
		req.Header.Set("x-api-key", u.apiKey)
	default:
		req.Header.Set("Authorization", "Bearer "+u.apiKey)
	}
}

// call is one model call in flight.
type call struct {
	r    *proxyReceiver
	rt   route
	rec  *callRecord
	plan plan
	// tr renders the chat answer in the client's API (Responses,
	// Messages); nil for chat and completions, which pass through.
	tr translator
	// anthropic: a Messages call passed through to an Anthropic upstream,
	// with the client's anthropic-* headers.
	anthropic        bool
	anthropicHeaders http.Header
	// final is the stream's last event, held until the span is consumed.
	final []byte
	// upstreamWait is the time spent waiting for the upstream (attempts,
	// backoffs, reads), subtracted from the call's duration to give the
	// latency the proxy adds.
	upstreamWait time.Duration
	reqBytes     int64
	respBytes    int64
}

// maxBodyDepth bounds how deeply a call's JSON body may nest, refused with
// 400 while it is read, before it costs memory. It is looser than the store's
// depthlimit.Max because tools' JSON Schemas nest two levels per schema level
// and none of a body reaches the store as a nested value (messages and tool
// definitions become JSON strings on the span).
const maxBodyDepth = 4 * depthlimit.Max

func (r *proxyReceiver) serveCall(w http.ResponseWriter, req *http.Request, rt route) {
	start := time.Now()
	// admit is the pause check; inflight counts the calls past it, so a
	// paused trainer sees them drain. v1.0 checks the pause after the body
	// and the model's servers, other routes before reading anything.
	admitted := false
	defer func() {
		if admitted {
			r.inflight.Add(-1)
			r.calls.Done()
		}
	}()
	admit := func() bool {
		if paused, after, reason := r.paused(); paused {
			r.countCall(rt.api, outcomePaused)
			r.refusePaused(w, rt, after, reason)
			return false
		}
		r.inflight.Add(1)
		r.calls.Add(1)
		admitted = true
		return true
	}
	if !rt.v10 && !admit() {
		return
	}

	depthlimit.GuardJSONBody(req, maxBodyDepth, nil)
	body, err := io.ReadAll(req.Body)
	if err != nil {
		if errors.Is(err, depthlimit.ErrTooDeep) {
			r.countCall(rt.api, outcomeClientError)
			r.writeError(w, rt, http.StatusBadRequest, "invalid_request_error", "invalid_json", err.Error())
			return
		}
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			r.countCall(rt.api, outcomeClientError)
			r.writeError(w, rt, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large",
				fmt.Sprintf("request body over the proxy's limit of %d bytes", tooLarge.Limit))
			return
		}
		r.countCall(rt.api, outcomeCancelled)
		return
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		r.countCall(rt.api, outcomeClientError)
		msg := "request body is not a JSON object"
		if err != nil {
			msg = "invalid JSON body: " + err.Error()
		}
		r.writeError(w, rt, http.StatusBadRequest, "invalid_request_error", "invalid_json", msg)
		return
	}
	var model string
	_ = json.Unmarshal(top["model"], &model)
	mode := rt.ident.mode
	if mode == "" {
		mode = r.cfg.Mode
	}
	// forced: v1.0's default_proxy decides the model, whatever the client
	// named, and only the endpoints serving it may answer.
	forced := rt.v10 && r.cfg.AglV1.ModelName != ""
	if forced {
		model = r.cfg.AglV1.ModelName
	}
	up, err := r.pick(req.Context(), model, rt.ident.rolloutID, forced)
	if err != nil {
		r.countCall(rt.api, outcomeNoUpstream)
		if forced {
			r.writeError(w, rt, http.StatusServiceUnavailable, "server_error", "no_upstream",
				fmt.Sprintf("No servers available for model '%s'", model))
			return
		}
		if errors.Is(err, errNoUpstream) {
			w.Header().Set("Retry-After", "30")
			r.writeError(w, rt, http.StatusServiceUnavailable, "server_error", "no_upstream",
				"the LLM proxy has no upstream: "+r.cfg.MissingUpstreamHint)
			return
		}
		r.writeError(w, rt, http.StatusNotFound, "invalid_request_error", "model_not_found",
			fmt.Sprintf("no upstream serves model %q", model))
		return
	}
	if rt.v10 && !admit() {
		return
	}
	capMode := mode
	if forced {
		body, top = r.cfg.AglV1.rewrite(body, top, rt.api, mode, up.kind)
		if !r.cfg.AglV1.IncludeLogProbs {
			// v1.0 asks for log-probs only with include_log_probs.
			capMode = ModeVal
		}
	}
	reqBytes := int64(len(body))
	var tr translator
	var spanRequest map[string]json.RawMessage
	switch {
	case up.kind == KindAnthropic && rt.api != apiMessages:
		r.countCall(rt.client, outcomeClientError)
		r.writeError(w, rt, http.StatusBadRequest, "invalid_request_error", "wrong_api",
			fmt.Sprintf("model %q is served by an Anthropic upstream: use /v1/messages", model))
		return
	case up.kind == KindAnthropic:
		// Passed through; the span records it as the chat call it is.
		if chatBody, err := (&messagesTranslator{}).toChat(top); err == nil {
			_ = json.Unmarshal(chatBody, &spanRequest)
		}
	case rt.api == apiResponses || rt.api == apiMessages:
		// Responses and Messages calls go upstream as chat calls.
		tr = newTranslator(rt.api)
		chatBody, err := tr.toChat(top)
		if err == nil {
			top = nil
			err = json.Unmarshal(chatBody, &top)
		}
		if err != nil {
			r.countCall(rt.client, outcomeClientError)
			r.writeError(w, rt, http.StatusBadRequest, "invalid_request_error", "invalid_request", err.Error())
			return
		}
		body, rt.api, spanRequest = chatBody, apiChat, top
	default:
		spanRequest = top
	}
	upBody, p := prepareRequest(rt.api, up.kind, capMode, body, top)
	c := &call{r: r, rt: rt, plan: p, tr: tr, reqBytes: reqBytes, anthropic: up.kind == KindAnthropic}
	if c.anthropic {
		c.anthropicHeaders = anthropicHeaders(req.Header)
	}
	c.rec = &callRecord{
		api: spanAPI(rt.api), clientAPI: rt.client, ident: rt.ident, mode: mode, stream: p.stream, upstream: up, version: up.version,
		request: spanRequest, reqModel: model, start: start, captures: p.captures,
	}
	c.rec.traceID, c.rec.parentID = parseTraceparent(req.Header.Get("traceparent"))
	c.rec.spanID = newSpanID()

	// The call ends when the client leaves or the collector shuts down.
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	stop := context.AfterFunc(r.ctx, cancel)
	defer stop()

	if p.stream {
		r.tel.ReceiverLlmproxyInflight.Add(ctx, 1, metric.WithAttributes(attribute.Bool("stream", true)))
		defer r.tel.ReceiverLlmproxyInflight.Add(context.Background(), -1, metric.WithAttributes(attribute.Bool("stream", true)))
	} else {
		r.tel.ReceiverLlmproxyInflight.Add(ctx, 1, metric.WithAttributes(attribute.Bool("stream", false)))
		defer r.tel.ReceiverLlmproxyInflight.Add(context.Background(), -1, metric.WithAttributes(attribute.Bool("stream", false)))
	}
	outcome := c.run(ctx, w, up, upBody)
	r.countCall(rt.client, outcome)
	r.tel.ReceiverLlmproxyBytes.Add(context.Background(), c.reqBytes, metric.WithAttributes(attribute.String("direction", "request")))
	r.tel.ReceiverLlmproxyBytes.Add(context.Background(), c.respBytes, metric.WithAttributes(attribute.String("direction", "response")))
	added := time.Since(start) - c.upstreamWait
	r.tel.ReceiverLlmproxyAddedLatency.Record(context.Background(), float64(added)/float64(time.Millisecond),
		metric.WithAttributes(attribute.Bool("stream", p.stream)))
}

// run sends the call upstream and relays the answer; it returns the
// call's outcome.
func (c *call) run(ctx context.Context, w http.ResponseWriter, up *upstream, body []byte) string {
	resp, release, err := c.send(ctx, up, body)
	if err != nil {
		status, reason, code := http.StatusBadGateway, reasonConnect, "upstream_unavailable"
		switch {
		case ctx.Err() != nil:
			c.fail(reasonCancelled, "the client went away before the upstream answered", 499)
			c.r.countError(up, reasonCancelled)
			c.finish()
			return outcomeCancelled
		case errors.Is(err, context.DeadlineExceeded):
			status, reason, code = http.StatusGatewayTimeout, reasonTimeout, "upstream_timeout"
		}
		msg := fmt.Sprintf("upstream %s: %v", up.name, err)
		c.fail(reason, msg, status)
		c.finish()
		c.r.writeError(w, c.rt, status, "upstream_error", code, msg)
		return outcomeUpstream
	}
	defer release()
	c.rec.httpStatus = resp.StatusCode
	if resp.StatusCode >= 400 {
		// The upstream's own error, in its own shape.
		t0 := time.Now()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		c.upstreamWait += time.Since(t0)
		c.fail(statusReason(resp.StatusCode), fmt.Sprintf("upstream answered %d: %s", resp.StatusCode, truncate(b, 512)), resp.StatusCode)
		c.finish()
		copyHeader(w.Header(), resp.Header, "Content-Type", "Retry-After")
		if c.tr != nil {
			b = c.tr.errorBody(resp.StatusCode, "", upstreamMessage(b))
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(resp.StatusCode)
		n, _ := w.Write(b)
		c.respBytes += int64(n)
		return outcomeUpstream
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return c.relayStream(ctx, w, resp)
	}
	return c.relayJSON(ctx, w, resp)
}

// send makes up to Retry.MaxAttempts attempts. A connect error, a timeout,
// 408, 429 and 5xx are retried with backoff (honouring Retry-After) while
// nothing has reached the client, which is the whole time here: send
// returns before any byte is relayed. release ends the last attempt.
func (c *call) send(ctx context.Context, up *upstream, body []byte) (*http.Response, func(), error) {
	cfg := c.r.cfg
	t0 := time.Now()
	defer func() { c.upstreamWait += time.Since(t0) }()
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithCancel(ctx)
		if cfg.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		}
		req, err := http.NewRequestWithContext(actx, http.MethodPost, up.name+"/"+c.rt.api, bytes.NewReader(body))
		if err != nil {
			cancel()
			return nil, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if c.plan.stream {
			req.Header.Set("Accept", "text/event-stream")
		} else {
			req.Header.Set("Accept", "application/json")
		}
		for k, v := range c.anthropicHeaders {
			req.Header[k] = v
		}
		// The upstream (vLLM traces too) sees the proxy's span as parent.
		req.Header.Set("traceparent", "00-"+hex.EncodeToString(c.rec.traceID[:])+"-"+hex.EncodeToString(c.rec.spanID[:])+"-01")
		up.authorize(req)
		resp, err := up.client.Do(req)
		last := attempt+1 >= cfg.Retry.MaxAttempts
		var wait time.Duration
		switch {
		case err != nil:
			cancel()
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			reason := reasonConnect
			if errors.Is(err, context.DeadlineExceeded) {
				reason = reasonTimeout
			}
			c.r.countError(up, reason)
			if last {
				return nil, nil, err
			}
		case retryable(resp.StatusCode) && !last:
			c.r.countError(up, statusReason(resp.StatusCode))
			wait = retryAfter(resp.Header.Get("Retry-After"), cfg.Retry.MaxBackoff)
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
			cancel()
		default:
			c.rec.retries = attempt
			return resp, func() { resp.Body.Close(); cancel() }, nil
		}
		if wait <= 0 {
			wait = backoff(attempt, cfg.Retry.InitialBackoff, cfg.Retry.MaxBackoff)
		}
		c.r.tel.ReceiverLlmproxyRetries.Add(ctx, 1, metric.WithAttributes(attribute.String("upstream", up.name)))
		c.rec.retries = attempt + 1
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, nil, ctx.Err()
		case <-timer.C:
		}
	}
}

func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

func statusReason(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "status_429"
	case status >= 500:
		return "status_5xx"
	default:
		return "status_4xx"
	}
}

// backoff is min(initial·2^attempt, max) with ±25 % jitter (Agent
// Lightning v1.0's schedule).
func backoff(attempt int, initial, maxWait time.Duration) time.Duration {
	d := float64(initial) * math.Pow(2, float64(attempt))
	if d > float64(maxWait) {
		d = float64(maxWait)
	}
	return time.Duration(d * (0.75 + 0.5*mrand.Float64()))
}

// retryAfter reads a Retry-After in seconds, honoured up to maxWait.
func retryAfter(h string, maxWait time.Duration) time.Duration {
	s, err := strconv.ParseFloat(strings.TrimSpace(h), 64)
	if err != nil || s < 0 {
		return 0
	}
	d := time.Duration(s * float64(time.Second))
	if d > maxWait {
		return maxWait
	}
	if d == 0 {
		return time.Millisecond
	}
	return d
}

// relayJSON reads the whole answer, records it, strips what the proxy
// added and answers.
func (c *call) relayJSON(ctx context.Context, w http.ResponseWriter, resp *http.Response) string {
	t0 := time.Now()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody+1))
	c.upstreamWait += time.Since(t0)
	switch {
	case err != nil && ctx.Err() != nil:
		c.fail(reasonCancelled, "the client went away before the upstream answered", 499)
		c.finish()
		return outcomeCancelled
	case err != nil || len(b) > maxUpstreamBody:
		msg := "upstream answer over the proxy's limit"
		if err != nil {
			msg = "reading the upstream answer: " + err.Error()
		}
		c.fail(reasonTruncated, msg, http.StatusBadGateway)
		c.finish()
		c.r.writeError(w, c.rt, http.StatusBadGateway, "upstream_error", "upstream_truncated", msg)
		return outcomeUpstream
	}
	asm := newAssembler()
	if c.anthropic {
		var m anthropicMessage
		if err := json.Unmarshal(b, &m); err != nil {
			c.r.countError(c.rec.upstream, reasonBadBody)
		} else {
			asm.addAnthropicMessage(&m)
		}
	} else {
		var obj wireObject
		if err := json.Unmarshal(b, &obj); err != nil {
			c.r.countError(c.rec.upstream, reasonBadBody)
			asm.badChunks++
		} else {
			asm.add(&obj)
		}
	}
	c.rec.asm = asm
	out, _ := c.plan.strip(b)
	if c.tr != nil {
		out = c.tr.render(asm)
	}
	// D19: the span is consumed before the client gets its answer.
	c.finish()
	copyHeader(w.Header(), resp.Header, "Content-Type")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(resp.StatusCode)
	n, _ := w.Write(out)
	c.respBytes += int64(n)
	return outcomeOK
}

// relayStream passes a server-sent-event stream through event by event,
// flushing each as soon as it is read, while assembling the answer for the
// span. The final "data: [DONE]" is held until the span is consumed (D19).
func (c *call) relayStream(ctx context.Context, w http.ResponseWriter, resp *http.Response) string {
	rc := http.NewResponseController(w)
	copyHeader(w.Header(), resp.Header, "Content-Type")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(resp.StatusCode)
	_ = rc.Flush()

	asm := newAssembler()
	c.rec.asm = asm
	br := bufio.NewReaderSize(resp.Body, 4<<10) // events are small; a longer one is accumulated
	var event, out []byte
	clientGone := false
	write := func(b []byte) {
		if clientGone {
			return
		}
		n, err := w.Write(b)
		c.respBytes += int64(n)
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			clientGone = true
		}
	}
	for {
		t0 := time.Now()
		var err error
		event, err = readEvent(br, event[:0])
		c.upstreamWait += time.Since(t0)
		if len(event) > 0 {
			var done bool
			out, done = c.processEvent(asm, event, out[:0])
			if done {
				c.finish()
				if c.tr != nil {
					write(c.tr.finish(nil, asm))
				} else {
					write(c.final)
				}
				if clientGone {
					return outcomeCancelled
				}
				return outcomeOK
			}
			if len(out) > 0 {
				write(out)
			}
			if clientGone {
				// Closing the upstream answer aborts the generation.
				c.fail(reasonCancelled, "the client disconnected mid-stream", 499)
				c.r.countError(c.rec.upstream, reasonCancelled)
				c.finish()
				return outcomeCancelled
			}
		}
		if err != nil {
			switch {
			case ctx.Err() != nil:
				c.fail(reasonCancelled, "the client disconnected mid-stream", 499)
				c.r.countError(c.rec.upstream, reasonCancelled)
				c.finish()
				return outcomeCancelled
			case errors.Is(err, io.EOF) && c.rec.errType != "":
				// An upstream error frame ended the stream.
				c.finish()
				return outcomeUpstream
			}
			msg := "the upstream stream ended without [DONE]"
			if !errors.Is(err, io.EOF) {
				msg = "reading the upstream stream: " + err.Error()
			}
			c.fail(reasonTruncated, msg, http.StatusBadGateway)
			c.r.countError(c.rec.upstream, reasonTruncated)
			c.finish()
			if c.tr != nil {
				write(c.tr.streamError(nil, msg))
			} else if c.anthropic {
				write((&messagesTranslator{}).streamError(nil, msg))
			} else {
				frame, _ := json.Marshal(apiError{Error: apiErrorBody{Message: msg, Type: "upstream_error", Code: "upstream_truncated"}})
				write(append(append([]byte("data: "), frame...), '\n', '\n'))
			}
			return outcomeUpstream
		}
	}
}

// readEvent reads one SSE event (its lines up to the blank line that ends
// it) into buf; the returned event keeps its line ends, without the blank
// line. An event over maxEventBytes is an error.
func readEvent(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		line, err := br.ReadSlice('\n')
		if len(buf)+len(line) > maxEventBytes {
			return buf[:0], errors.New("an upstream event is over the proxy's limit")
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			buf = append(buf, line...)
			continue
		}
		if err != nil {
			buf = append(buf, line...)
			if len(bytes.TrimSpace(buf)) == 0 {
				return buf[:0], err
			}
			// A last event without its blank line.
			return buf, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			if len(buf) == 0 {
				continue
			}
			return buf, nil
		}
		buf = append(buf, line...)
	}
}

// processEvent records an event's data and returns what the client gets
// (nothing for an event the proxy alone asked for); done reports [DONE].
func (c *call) processEvent(asm *assembler, event, out []byte) ([]byte, bool) {
	if c.anthropic {
		return c.processAnthropicEvent(asm, event, out)
	}
	rest := event
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		line := rest
		if i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		content := bytes.TrimRight(line, "\r\n")
		data, isData := bytes.CutPrefix(content, []byte("data:"))
		if !isData {
			if c.tr == nil {
				out = append(out, line...)
			}
			continue
		}
		data = bytes.TrimPrefix(data, []byte(" "))
		if string(bytes.TrimSpace(data)) == "[DONE]" {
			c.final = []byte("data: [DONE]\n\n")
			return nil, true
		}
		var obj wireObject
		if err := json.Unmarshal(data, &obj); err != nil {
			// Not JSON to Go (Python's NaN / -Infinity log-probs, say): the
			// chunk still reaches the client, stripped by the scanner,
			// and the span says its ids are incomplete.
			c.r.countError(c.rec.upstream, reasonBadBody)
			asm.badChunks++
			if c.tr == nil {
				if stripped, drop := c.plan.strip(data); !drop {
					out = append(append(append(out, "data: "...), stripped...), '\n')
				}
			}
			continue
		}
		asm.add(&obj)
		if obj.Error != nil {
			c.fail("upstream_error", "the upstream sent an error mid-stream: "+string(truncate(*obj.Error, 512)), c.rec.httpStatus)
		}
		if c.tr != nil {
			// A translated stream is rendered whole, events and all.
			if obj.Error != nil {
				return c.tr.streamError(out, upstreamMessage([]byte(*obj.Error))), false
			}
			out = c.tr.chunk(out, &obj)
			continue
		}
		stripped, drop := c.plan.strip(data)
		if drop {
			continue
		}
		out = append(out, "data: "...)
		out = append(out, stripped...)
		out = append(out, '\n')
	}
	if len(out) == 0 {
		return nil, false
	}
	if c.tr != nil {
		return out, false
	}
	return append(out, '\n'), false
}

// processAnthropicEvent records an Anthropic stream event and passes it
// through unchanged; message_stop ends the stream (held as c.final).
func (c *call) processAnthropicEvent(asm *assembler, event, out []byte) ([]byte, bool) {
	var ev anthropicEvent
	for _, line := range bytes.Split(event, []byte("\n")) {
		if data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:")); ok {
			if err := json.Unmarshal(bytes.TrimSpace(data), &ev); err != nil {
				c.r.countError(c.rec.upstream, reasonBadBody)
			}
		}
	}
	asm.addAnthropicEvent(&ev)
	whole := append(append(out, event...), '\n')
	switch ev.Type {
	case "message_stop":
		c.final = whole
		return nil, true
	case "error":
		c.fail("upstream_error", "the upstream sent an error mid-stream: "+upstreamMessage(event[bytes.Index(event, []byte("{")):]), c.rec.httpStatus)
	}
	return whole, false
}

// spanAPI is the API a call's span describes: a Messages call is recorded
// as the chat call it amounts to.
func spanAPI(api string) string {
	if api == apiMessages {
		return apiChat
	}
	return api
}

// anthropicHeaders are the client's headers an Anthropic upstream reads
// (its API version and beta features); anthropic-version defaults to
// 2023-06-01.
func anthropicHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "anthropic-") {
			out[k] = v
		}
	}
	if out.Get("anthropic-version") == "" {
		out.Set("anthropic-version", "2023-06-01")
	}
	return out
}

// upstreamMessage reads the message of an upstream error body in any of
// the shapes in use (OpenAI/vLLM, flat SGLang, Anthropic, FastAPI), else
// the body itself.
func upstreamMessage(b []byte) string {
	var e struct {
		Message string `json:"message"`
		Detail  any    `json:"detail"`
		Error   any    `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil {
		switch x := e.Error.(type) {
		case map[string]any:
			if m, ok := x["message"].(string); ok {
				return m
			}
		case string:
			return x
		}
		if e.Message != "" {
			return e.Message
		}
		if d, ok := e.Detail.(string); ok {
			return d
		}
	}
	return string(truncate(b, 1024))
}

func (c *call) fail(errType, msg string, status int) {
	c.rec.errType, c.rec.errMsg = errType, msg
	if status != 0 {
		c.rec.httpStatus = status
	}
}

// finish sends the call's span into the pipeline and waits for the answer
// (D19). A refused span is counted and logged; the client still gets its
// answer, which is not the span's to lose.
func (c *call) finish() {
	c.rec.end = time.Now()
	td := c.rec.traces()
	ctx := c.r.obs.StartTracesOp(context.WithoutCancel(c.r.ctx))
	err := c.r.next.ConsumeTraces(ctx, td)
	c.r.obs.EndTracesOp(ctx, "json", 1, err)
	if err != nil {
		c.r.tel.ReceiverLlmproxySpansFailed.Add(ctx, 1)
		c.r.countError(c.rec.upstream, reasonSpan)
		c.r.logger.Warn("LLM proxy: the call's span was refused by the pipeline", zap.Error(err),
			zap.String("rollout_id", c.rec.ident.rolloutID))
	}
}

func (r *proxyReceiver) countCall(api, outcome string) {
	r.tel.ReceiverLlmproxyCalls.Add(context.Background(), 1,
		metric.WithAttributes(attribute.String("api", api), attribute.String("outcome", outcome)))
}

func (r *proxyReceiver) countError(u *upstream, reason string) {
	name := ""
	if u != nil {
		name = u.name
	}
	r.tel.ReceiverLlmproxyErrors.Add(context.Background(), 1,
		metric.WithAttributes(attribute.String("upstream", name), attribute.String("reason", reason)))
}

// parseTraceparent returns the W3C traceparent's trace and parent span
// ids, or a new trace id (and no parent) when the header is absent or
// invalid.
func parseTraceparent(h string) (pcommon.TraceID, pcommon.SpanID) {
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	parts := strings.Split(strings.TrimSpace(h), "-")
	if len(parts) >= 4 && len(parts[1]) == 32 && len(parts[2]) == 16 {
		t, err1 := hex.DecodeString(parts[1])
		s, err2 := hex.DecodeString(parts[2])
		if err1 == nil && err2 == nil {
			copy(tid[:], t)
			copy(sid[:], s)
			if !tid.IsEmpty() && !sid.IsEmpty() {
				return tid, sid
			}
		}
	}
	_, _ = rand.Read(tid[:])
	return tid, pcommon.SpanID{}
}

func newSpanID() pcommon.SpanID {
	var sid pcommon.SpanID
	_, _ = rand.Read(sid[:])
	return sid
}

func copyHeader(dst, src http.Header, keys ...string) {
	for _, k := range keys {
		if v := src.Get(k); v != "" {
			dst.Set(k, v)
		}
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// apiError is OpenAI's error envelope, which the OpenAI SDKs parse.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// writeError answers in the route's error shape: Agent Lightning v1.0's
// {"detail": ...} on its route, OpenAI's envelope elsewhere.
func (r *proxyReceiver) writeError(w http.ResponseWriter, rt route, status int, typ, code, msg string) {
	if rt.v10 {
		writeJSON(w, status, map[string]string{"detail": msg})
		return
	}
	if rt.client == apiMessages {
		b := (&messagesTranslator{}).errorBody(status, "", msg)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
		return
	}
	writeAPIError(w, status, typ, code, msg)
}

func writeAPIError(w http.ResponseWriter, status int, typ, code, msg string) {
	writeJSON(w, status, apiError{Error: apiErrorBody{Message: msg, Type: typ, Code: code}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"encoding the answer failed","type":"server_error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
