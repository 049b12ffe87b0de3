package llmproxyreceiver

import (
	"net/http"
	"net/url"
	"strings"
)

// Where a call's rollout identity came from (llmproxy.identity on its span).
const (
	sourceV03     = "agentlightning_v0.3"
	sourceV10     = "agentlightning_v1.0"
	sourceSession = "rllm_session"
	sourceHeaders = "headers"
	sourceNone    = "none"
)

// identity is the rollout and attempt a call belongs to.
type identity struct {
	rolloutID, attemptID string
	// mode is train or val when the route says (v1.0), else empty.
	mode   string
	source string
}

// route is a parsed proxy path.
type route struct {
	ident identity
	// api is the OpenAI path after /v1/: chat/completions, completions,
	// models, ...
	api string
	// v10 marks Agent Lightning v1.0's proxy route, whose errors keep its
	// own shapes.
	v10 bool
	// client is the API the client speaks (api before any translation).
	client string
}

// parseRoute reads the identity prefixes, in the order of precedence:
//
//	/rollout/{rid}/attempt/{aid}[/v1]/...                       Agent Lightning v0.3 ProxyLLM
//	/proxy/rollout/{rid}/attempt/{aid}/mode/{m}/openai/v1/...   Agent Lightning v1.0
//	/sessions/{sid}/v1/...                                      rLLM (the id may hold "/")
//
// then the x-rollout-id / x-attempt-id headers. ok is false for a path
// that is none of these and not under /v1/.
func parseRoute(r *http.Request) (route, bool) {
	p := r.URL.EscapedPath()
	seg := func(s string) string {
		if u, err := url.PathUnescape(s); err == nil {
			return u
		}
		return s
	}
	switch {
	case strings.HasPrefix(p, "/rollout/"):
		parts := strings.SplitN(strings.TrimPrefix(p, "/rollout/"), "/", 4)
		if len(parts) < 4 || parts[1] != "attempt" || parts[0] == "" || parts[2] == "" {
			return route{}, false
		}
		rest := "/" + parts[3]
		rest = strings.TrimPrefix(rest, "/v1")
		return route{
			ident: identity{rolloutID: seg(parts[0]), attemptID: seg(parts[2]), source: sourceV03},
			api:   strings.TrimPrefix(rest, "/"),
		}, true
	case strings.HasPrefix(p, "/proxy/rollout/"):
		parts := strings.SplitN(strings.TrimPrefix(p, "/proxy/rollout/"), "/", 7)
		if len(parts) < 7 || parts[1] != "attempt" || parts[3] != "mode" || !strings.HasPrefix(parts[6], "v1/") ||
			parts[5] != "openai" || parts[0] == "" || parts[2] == "" {
			return route{}, false
		}
		// A mode other than train or val is refused by serveV1, in v1.0's
		// order of checks.
		mode := parts[4]
		return route{
			ident: identity{rolloutID: seg(parts[0]), attemptID: seg(parts[2]), mode: mode, source: sourceV10},
			api:   strings.TrimPrefix(parts[6], "v1/"),
			v10:   true,
		}, true
	case strings.HasPrefix(p, "/sessions/"):
		rest := strings.TrimPrefix(p, "/sessions/")
		// The first "/v1" segment ends the session id (rLLM's non-greedy
		// match).
		i := strings.Index(rest, "/v1/")
		if i <= 0 {
			return route{}, false
		}
		sid := seg(rest[:i])
		return route{
			ident: identity{rolloutID: sid, attemptID: sid, source: sourceSession},
			api:   rest[i+len("/v1/"):],
		}, true
	case strings.HasPrefix(p, "/v1/"):
		rt := route{api: strings.TrimPrefix(p, "/v1/"), ident: identity{source: sourceNone}}
		if rid := r.Header.Get("x-rollout-id"); rid != "" {
			rt.ident = identity{rolloutID: rid, attemptID: r.Header.Get("x-attempt-id"), source: sourceHeaders}
		}
		return rt, true
	}
	return route{}, false
}
