package llmproxyreceiver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// pauseState is Agent Lightning v1.0's gateway pause: while paused, new
// calls get 429 with Retry-After and X-Agl-Paused: true; calls already past
// the check drain normally, which a trainer watches through inflight
// before it updates the weights.
type pauseState struct {
	mu         sync.Mutex
	paused     bool
	retryAfter int
	reason     *string
}

// pauseView is v1.0's PauseState.
type pauseView struct {
	Paused            bool    `json:"paused"`
	RetryAfterSeconds int     `json:"retry_after_seconds"`
	Reason            *string `json:"reason"`
	Inflight          int64   `json:"inflight"`
}

func (r *proxyReceiver) pauseView() pauseView {
	r.pause.mu.Lock()
	defer r.pause.mu.Unlock()
	return pauseView{Paused: r.pause.paused, RetryAfterSeconds: r.pause.retryAfter, Reason: r.pause.reason,
		Inflight: r.inflight.Load()}
}

// paused returns (true, retry after, reason) while the proxy is paused.
func (r *proxyReceiver) paused() (bool, int, *string) {
	r.pause.mu.Lock()
	defer r.pause.mu.Unlock()
	return r.pause.paused, r.pause.retryAfter, r.pause.reason
}

func (r *proxyReceiver) servePause(w http.ResponseWriter, req *http.Request) {
	body := struct {
		RetryAfterSeconds *int    `json:"retry_after_seconds"`
		Reason            *string `json:"reason"`
	}{}
	if req.ContentLength != 0 {
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"detail": "invalid pause body: " + err.Error()})
			return
		}
	}
	if body.RetryAfterSeconds != nil && *body.RetryAfterSeconds < 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"detail": "retry_after_seconds must not be negative"})
		return
	}
	r.pause.mu.Lock()
	r.pause.paused = true
	r.pause.reason = body.Reason
	if body.RetryAfterSeconds != nil {
		r.pause.retryAfter = *body.RetryAfterSeconds
	} else {
		r.pause.retryAfter = r.cfg.PauseRetryAfter
	}
	r.pause.mu.Unlock()
	writeJSON(w, http.StatusOK, r.pauseView())
}

func (r *proxyReceiver) serveResume(w http.ResponseWriter, _ *http.Request) {
	r.pause.mu.Lock()
	r.pause.paused = false
	r.pause.reason = nil
	r.pause.mu.Unlock()
	writeJSON(w, http.StatusOK, r.pauseView())
}

func (r *proxyReceiver) serveState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, r.pauseView())
}

// refusePaused answers a call that arrived while paused: v1.0's body on its
// own route, OpenAI's error envelope elsewhere (so OpenAI SDKs retry after
// Retry-After by themselves).
func (r *proxyReceiver) refusePaused(w http.ResponseWriter, rt route, retryAfter int, reason *string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	w.Header().Set("X-Agl-Paused", "true")
	if rt.v10 {
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "gateway paused", "reason": reason})
		return
	}
	msg := "the LLM proxy is paused (weights are being updated); retry after " + strconv.Itoa(retryAfter) + "s"
	if reason != nil {
		msg += ": " + *reason
	}
	r.writeError(w, rt, http.StatusTooManyRequests, "rate_limit_error", "proxy_paused", msg)
}
