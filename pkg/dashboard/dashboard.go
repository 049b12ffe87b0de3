package dashboard

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// APIPrefix is where the dashboard's JSON routes live.
const APIPrefix = "/v1/lightning/dashboard"

// AssetsPrefix is where the shell's scripts and styles are served.
const AssetsPrefix = "/ui/"

//go:embed assets
var assets embed.FS

// Options configure the dashboard.
type Options struct {
	// MetricsURL is the collector's own Prometheus endpoint (service
	// telemetry), read for ingest rates, queue fill and rejections; empty
	// leaves those figures out.
	MetricsURL string
	Logger     *zap.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Mounter registers a route (storeapi.Router's Handle).
type Mounter func(pattern string, h http.Handler) error

// Store is what the dashboard reads: the store and its browsing queries
// (store.Core offers both).
type Store interface {
	store.Store
	store.Browser
}

type server struct {
	store   Store
	opts    Options
	metrics *scraper
	shell   http.Handler

	summaryMu sync.Mutex
	summary   *overviewDiagnostics

	curveMu sync.Mutex
	curves  map[float64]*curveEntry // by requested bucket (0: chosen from the data)
}

// Register mounts the shell and the data routes. The shell patterns are
// "GET /{$}" and "GET /ui/", so every more specific route on the same mux
// (the API, /api/*, /healthz, /proxy/*) keeps precedence and unknown paths
// keep the API's 404.
func Register(mount Mounter, s Store, opts Options) error {
	srv := newServer(s, opts)
	routes := []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /{$}", srv.shell.ServeHTTP},
		{"GET " + AssetsPrefix, srv.shell.ServeHTTP},
		{"GET " + APIPrefix + "/overview", srv.overview},
		{"GET " + APIPrefix + "/rollouts", srv.rollouts},
		{"GET " + APIPrefix + "/rollouts/{rollout_id}", srv.rollout},
		{"GET " + APIPrefix + "/resources", srv.resources},
		{"GET " + APIPrefix + "/workers", srv.workers},
	}
	var errs []error
	for _, rt := range routes {
		errs = append(errs, mount(rt.pattern, rt.h))
	}
	return errors.Join(errs...)
}

func newServer(s Store, opts Options) *server {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &server{store: s, opts: opts, metrics: newScraper(opts.MetricsURL), shell: ShellHandler(),
		curves: map[float64]*curveEntry{}}
}

// IsShell reports whether r asks for the shell (the page and its static
// assets), which carries no data and may be served without credentials.
func IsShell(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, AssetsPrefix)
}

// ShellHandler serves the shell: index.html at / and the assets under /ui/.
func ShellHandler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(strings.TrimSuffix(AssetsPrefix, "/"), http.FileServerFS(sub))
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The page runs only its own scripts and talks only to its origin.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.URL.Path == "/" {
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-cache")
			_, _ = w.Write(index)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func (s *server) writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.fail(w, nil, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var invalid *store.InvalidArgumentError
	status := http.StatusInternalServerError
	if errors.As(err, &invalid) {
		status = http.StatusBadRequest
	} else {
		path := ""
		if r != nil {
			path = r.URL.Path
		}
		s.opts.Logger.Error("dashboard query failed", zap.String("path", path), zap.Error(err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]string{"detail": err.Error()})
	_, _ = w.Write(body)
}

func badRequest(format string, args ...any) error {
	return &store.InvalidArgumentError{Message: fmt.Sprintf(format, args...)}
}

// rolloutRow is one line of the rollouts table.
type rolloutRow struct {
	RolloutID     string   `json:"rollout_id"`
	Status        string   `json:"status"`
	Mode          *string  `json:"mode"`
	ResourcesID   *string  `json:"resources_id"`
	StartTime     float64  `json:"start_time"`
	EndTime       *float64 `json:"end_time"`
	Reward        *float64 `json:"reward"`
	Attempts      int      `json:"attempts"`
	AttemptStatus string   `json:"attempt_status,omitempty"`
	WorkerID      *string  `json:"worker_id"`
}

func toRow(r store.BrowseRow) rolloutRow {
	row := rolloutRow{
		RolloutID: r.Rollout.RolloutID, Status: string(r.Rollout.Status), ResourcesID: r.Rollout.ResourcesID,
		StartTime: r.Rollout.StartTime, EndTime: r.Rollout.EndTime, Reward: r.Reward,
	}
	if r.Rollout.Mode != nil {
		m := string(*r.Rollout.Mode)
		row.Mode = &m
	}
	if a := r.Rollout.Attempt; a != nil {
		row.Attempts, row.AttemptStatus, row.WorkerID = a.SequenceID, string(a.Status), a.WorkerID
	}
	return row
}

// browseQuery reads the rollouts table's filters from the query string.
func browseQuery(r *http.Request) (store.BrowseQuery, error) {
	v := r.URL.Query()
	q := store.BrowseQuery{
		Mode: v.Get("mode"), ResourcesID: v.Get("resources_id"), IDPrefix: v.Get("q"),
		SortBy: v.Get("sort"), After: v.Get("after"), Limit: 50, Desc: v.Get("order") != "asc",
	}
	for _, s := range v["status"] {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				q.Status = append(q.Status, model.RolloutStatus(part))
			}
		}
	}
	num := func(key string) (*float64, error) {
		s := v.Get(key)
		if s == "" {
			return nil, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, badRequest("%s: not a number: %q", key, s)
		}
		return &f, nil
	}
	var err error
	var after, before *float64
	if after, err = num("started_after"); err != nil {
		return q, err
	}
	if before, err = num("started_before"); err != nil {
		return q, err
	}
	if after != nil {
		q.StartedAfter = *after
	}
	if before != nil {
		q.StartedBefore = *before
	}
	if q.MinReward, err = num("min_reward"); err != nil {
		return q, err
	}
	if q.MaxReward, err = num("max_reward"); err != nil {
		return q, err
	}
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil {
			return q, badRequest("limit: not an integer: %q", s)
		}
	}
	return q, nil
}

func (s *server) rollouts(w http.ResponseWriter, r *http.Request) {
	q, err := browseQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := s.store.BrowseRollouts(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]rolloutRow, len(page.Items))
	for i, it := range page.Items {
		items[i] = toRow(it)
	}
	s.writeJSON(w, map[string]any{"items": items, "next": page.Next})
}

func (s *server) resources(w http.ResponseWriter, r *http.Request) {
	sortBy := "update_time"
	res, err := s.store.QueryResources(r.Context(), store.ResourcesQuery{
		Page: store.Page{SortBy: &sortBy, SortOrder: store.SortDesc, Limit: 500},
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, map[string]any{"items": res.Items, "total": res.Total})
}

func (s *server) workers(w http.ResponseWriter, r *http.Request) {
	res, err := s.store.QueryWorkers(r.Context(), store.WorkerQuery{Page: store.Page{SortOrder: store.SortAsc, Limit: 1000}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, map[string]any{"items": res.Items, "total": res.Total, "now": nowSeconds(s.opts.Now())})
}

func nowSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
