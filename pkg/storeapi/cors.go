package storeapi

import (
	"net/http"
	"strings"
)

// corsAllowedMethods is what Starlette's CORSMiddleware lists for
// allow_methods=["*"].
const corsAllowedMethods = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"

// cors mirrors the CORSMiddleware setup of Agent Lightning's server:
// configured origins (or any), all methods and headers, credentials
// allowed, all headers exposed. Because credentials are allowed the
// request's origin is echoed rather than "*", which browsers would refuse.
type cors struct {
	any     bool
	origins map[string]struct{}
}

// newCORS returns nil when no usable origin is configured.
func newCORS(origins []string) *cors {
	c := &cors{origins: map[string]struct{}{}}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		switch o {
		case "":
		case "*":
			c.any = true
		default:
			c.origins[o] = struct{}{}
		}
	}
	if !c.any && len(c.origins) == 0 {
		return nil
	}
	return c
}

func (c *cors) allowed(origin string) bool {
	if c.any {
		return true
	}
	_, ok := c.origins[origin]
	return ok
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
		if c.allowed(origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", "*")
			h.Add("Vary", "Origin")
		}
		next.ServeHTTP(w, r)
	})
}

// preflight answers an OPTIONS preflight without reaching the routes.
func (c *cors) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if !c.allowed(origin) {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("Disallowed CORS origin"))
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", corsAllowedMethods)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Max-Age", "600")
	if requested := r.Header.Get("Access-Control-Request-Headers"); requested != "" {
		h.Set("Access-Control-Allow-Headers", requested)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}
