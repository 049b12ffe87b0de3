package storeapi

import (
	"net/http"
	"strconv"
	"strings"
)

// corsAllowedMethods is what Starlette's CORSMiddleware lists for
// allow_methods=["*"].
const corsAllowedMethods = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"

// corsMaxAge is Starlette's CORSMiddleware default, which Agent Lightning's
// server keeps: browsers cache a preflight for 10 minutes.
const corsMaxAge = 600

// cors mirrors the CORSMiddleware setup of Agent Lightning's server:
// configured origins (or any), all methods and headers, credentials
// allowed, all headers exposed, preflights answered 200 with every method
// and a max age. Because credentials are allowed the request's origin is
// echoed rather than "*", which browsers would refuse.
type cors struct {
	any      bool
	origins  map[string]struct{}
	patterns [][2]string // prefix and suffix around one "*" (https://*.example.com)
	maxAge   string
}

// newCORS returns nil when no usable origin is configured.
func newCORS(origins []string) *cors {
	c := &cors{origins: map[string]struct{}{}, maxAge: strconv.Itoa(corsMaxAge)}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
		case o == "*":
			c.any = true
		case strings.Count(o, "*") == 1:
			before, after, _ := strings.Cut(o, "*")
			c.patterns = append(c.patterns, [2]string{before, after})
		default:
			c.origins[o] = struct{}{}
		}
	}
	if !c.any && len(c.origins) == 0 && len(c.patterns) == 0 {
		return nil
	}
	return c
}

// WrapCORS puts Agent Lightning's CORS handling (see WithCORS) in front of
// next, for a server whose other middleware (authentication) must not see
// preflights, which carry no credentials. An origin may hold one "*"
// standing for any characters, as in the collector's cors.allowed_origins
// ("https://*.example.com"). maxAge <= 0 keeps Agent Lightning's 600 s.
// Without a usable origin next is returned as it is.
func WrapCORS(next http.Handler, origins []string, maxAge int) http.Handler {
	c := newCORS(origins)
	if c == nil {
		return next
	}
	if maxAge > 0 {
		c.maxAge = strconv.Itoa(maxAge)
	}
	return c.wrap(next)
}

func (c *cors) allowed(origin string) bool {
	if c.any {
		return true
	}
	if _, ok := c.origins[origin]; ok {
		return true
	}
	for _, p := range c.patterns {
		if len(origin) >= len(p[0])+len(p[1]) && strings.HasPrefix(origin, p[0]) && strings.HasSuffix(origin, p[1]) {
			return true
		}
	}
	return false
}

func (c *cors) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			c.preflight(w, r, origin)
			return
		}
		// Starlette sends the credential and expose headers on every
		// cross-origin answer; only an allowed origin is echoed.
		h := w.Header()
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "*")
		if c.allowed(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		}
		next.ServeHTTP(w, r)
	})
}

// preflight answers an OPTIONS preflight without reaching the routes. As
// Starlette does, the method, header, credential and max-age headers go on
// every preflight answer, a refused one included; only an allowed origin is
// echoed.
func (c *cors) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", corsAllowedMethods)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Max-Age", c.maxAge)
	if requested := r.Header.Get("Access-Control-Request-Headers"); requested != "" {
		h.Set("Access-Control-Allow-Headers", requested)
	}
	if !c.allowed(origin) {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("Disallowed CORS origin"))
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}
