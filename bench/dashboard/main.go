// Command dashboard measures the web dashboard's data routes on a store of
// -rollouts (1,000,000) rollouts and one rollout of -spans (2,000) spans,
// against the store API's own routes over the same store in the same run:
//
//	go run ./bench/dashboard                 # fills a temporary SQLite store
//	go run ./bench/dashboard -db /tmp/d.db   # keeps (and reuses) the file
//
// The store is filled directly with SQL (one transaction, rows as the store
// writes them), then opened by the store as the collector opens it, and the
// dashboard and the store API are served from one in-process HTTP server.
// Each route is requested -n times one after the other after a warm-up;
// the result is p50 and p95 latency and the ratio of each dashboard figure
// to its baseline (the v0.3 API's query for the same data).
package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/dashboard"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlitestore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/storeapi"
)

func main() {
	var (
		dbPath   = flag.String("db", "", "SQLite file to fill (kept) or reuse; a temporary file when empty")
		rollouts = flag.Int("rollouts", 1_000_000, "rollouts in the store")
		spans    = flag.Int("spans", 2000, "spans of the big rollout")
		n        = flag.Int("n", 200, "requests per route")
		out      = flag.String("out", "", "write the results as Markdown to this file")
		profile  = flag.String("cpuprofile", "", "write a CPU profile of the measurements to this file")
		only     = flag.String("only", "", "measure only the routes whose name contains this")
	)
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "dashboard bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	onlyRoutes = *only
	if err := run(*dbPath, *rollouts, *spans, *n, *out); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "dashboard bench:", err)
		os.Exit(1)
	}
}

const bigRollout = "ro-big"

// t0 is the start time of the first rollout; rollout i starts i × 0.1 s
// later.
const t0 = 1_767_225_600.0

func run(dbPath string, rollouts, spans, n int, out string) error {
	ctx := context.Background()
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "dashboard-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "bench.db")
	}
	fresh := false
	if _, err := os.Stat(dbPath); os.IsNotExist(err) {
		fresh = true
	}
	backend, err := sqlitestore.OpenContext(ctx, dbPath)
	if err != nil {
		return err
	}
	core := store.New(backend, store.Options{})
	defer core.Close()
	if fresh {
		start := time.Now()
		if err := fill(dbPath, rollouts); err != nil {
			return err
		}
		if err := fillBig(ctx, core, spans); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "filled %d rollouts and a rollout of %d spans in %s\n", rollouts, spans, time.Since(start).Round(time.Second))
	}

	mux := http.NewServeMux()
	api := storeapi.NewHandler(core, storeapi.WithExtraRoutes(func(m *http.ServeMux) { mux = m }))
	if err := dashboard.Register(func(p string, h http.Handler) error { mux.Handle(p, h); return nil }, core, dashboard.Options{}); err != nil {
		return err
	}
	srv := httptest.NewServer(api)
	defer srv.Close()

	// A cursor in the middle of the store: the page after rollout
	// rollouts/2 in start-time order, newest first.
	mid := rollouts / 2
	cursor, _ := json.Marshal(store.BrowseCursor{Value: t0 + float64(mid)*0.1, Seq: int64(mid + 1)})
	deep := base64.RawURLEncoding.EncodeToString(cursor)

	cases := []benchCase{
		{name: "rollouts page 1 (newest first)", path: "/v1/lightning/dashboard/rollouts?limit=50",
			base: "POST /v1/agl/rollouts/search", baseBody: `{"limit":50,"offset":0,"sort_by":"start_time","sort_order":"desc"}`},
		{name: fmt.Sprintf("rollouts page after %d rows", mid), path: "/v1/lightning/dashboard/rollouts?limit=50&after=" + deep,
			base: "POST /v1/agl/rollouts/search", baseBody: fmt.Sprintf(`{"limit":50,"offset":%d,"sort_by":"start_time","sort_order":"desc"}`, mid)},
		{name: "rollouts status=failed", path: "/v1/lightning/dashboard/rollouts?limit=50&status=failed",
			base: "POST /v1/agl/rollouts/search", baseBody: `{"limit":50,"offset":0,"status_in":["failed"],"sort_by":"start_time","sort_order":"desc"}`},
		{name: "rollouts mode=val, resources version", path: "/v1/lightning/dashboard/rollouts?limit=50&mode=val&resources_id=rs-7"},
		{name: "rollouts sorted by reward", path: "/v1/lightning/dashboard/rollouts?limit=50&sort=reward"},
		{name: "rollouts reward in [0.9, 1]", path: "/v1/lightning/dashboard/rollouts?limit=50&min_reward=0.9&max_reward=1"},
		{name: "rollouts last hour of starts", path: fmt.Sprintf("/v1/lightning/dashboard/rollouts?limit=50&started_after=%f", t0+float64(rollouts)*0.1-3600)},
		{name: "rollouts id prefix", path: "/v1/lightning/dashboard/rollouts?limit=50&q=ro-001234",
			base: "POST /v1/agl/rollouts/search", baseBody: `{"limit":50,"offset":0,"rollout_id_contains":"ro-001234"}`},
		{name: fmt.Sprintf("rollout of %d spans", spans), path: "/v1/lightning/dashboard/rollouts/" + bigRollout,
			base: "POST /v1/agl/spans/search", baseBody: fmt.Sprintf(`{"rollout_id":%q,"limit":-1}`, bigRollout)},
		{name: "overview", path: "/v1/lightning/dashboard/overview", base: "GET /v1/agl/statistics"},
	}
	if onlyRoutes != "" {
		cases = slices.DeleteFunc(cases, func(c benchCase) bool { return !strings.Contains(c.name, onlyRoutes) })
	}
	client := srv.Client()
	loadStart := loadAverage()
	for i := range cases {
		c := &cases[i]
		if c.p50, c.p95, err = measure(client, srv.URL, "GET", c.path, "", n); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if c.base != "" {
			method, path, _ := strings.Cut(c.base, " ")
			if c.b50, c.b95, err = measure(client, srv.URL, method, path, c.baseBody, n); err != nil {
				return fmt.Errorf("%s baseline: %w", c.name, err)
			}
		}
		fmt.Fprintf(os.Stderr, "%-40s p50 %7.2f ms  p95 %7.2f ms\n", c.name, ms(c.p50), ms(c.p95))
	}
	loadEnd := loadAverage()
	report := render(cases, rollouts, spans, n) + fmt.Sprintf("\nLoad average (1, 5, 15 min) when the measurements started: %s; when they ended: %s. "+
		"Everything else running on the machine shares its cores with the server and shows in the tail latencies.\n", loadStart, loadEnd)
	fmt.Print(report)
	if out != "" {
		return os.WriteFile(out, []byte(report), 0o644)
	}
	return nil
}

// samples counts the requests measured per route.
var samples = map[string]int{}

type benchCase struct {
	name, path     string
	base, baseBody string
	p50, p95       time.Duration
	b50, b95       time.Duration
}

// onlyRoutes, when set, selects the routes whose name contains it.
var onlyRoutes string

// budget bounds the time one route is measured.
var budget = time.Minute

func measure(client *http.Client, baseURL, method, path, body string, n int) (p50, p95 time.Duration, err error) {
	one := func() (time.Duration, error) {
		req, err := http.NewRequest(method, baseURL+path, strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s %s: status %d", method, path, resp.StatusCode)
		}
		return d, err
	}
	for range 5 { // warm-up: statement caches, page cache
		if _, err := one(); err != nil {
			return 0, 0, err
		}
	}
	ds := make([]time.Duration, 0, n)
	// A route slower than the budget allows (the v0.3 API's deep offsets)
	// stops after budget, with at least 20 samples.
	deadline := time.Now().Add(budget)
	for i := range n {
		if i >= 20 && time.Now().After(deadline) {
			break
		}
		d, err := one()
		if err != nil {
			return 0, 0, err
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	samples[path+body] = len(ds)
	return ds[len(ds)/2], ds[(len(ds)*95+99)/100-1], nil
}

// loadAverage is /proc/loadavg's three averages ("" where there is none).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func render(cases []benchCase, rollouts, spans, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Dashboard data routes: %d rollouts, a rollout of %d spans (SQLite)\n\n", rollouts, spans)
	fmt.Fprintf(&b, "%s, GOMAXPROCS %d, %s/%s, %d sequential requests per route after 5 warm-ups (at least 20 and at most %s for a slow route). Target: p95 ≤ 200 ms.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, n, budget)
	b.WriteString("| route | p50 | p95 | ≤ 200 ms | baseline (v0.3 API, same data) | baseline p50 | baseline p95 | p95 ratio |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range cases {
		ok := "yes"
		if c.p95 > 200*time.Millisecond {
			ok = "**no**"
		}
		base, b50, b95, ratio := "—", "—", "—", "—"
		if c.base != "" && samples[strings.SplitN(c.base, " ", 2)[1]+c.baseBody] < n {
			c.baseBody += fmt.Sprintf(" (%d requests)", samples[strings.SplitN(c.base, " ", 2)[1]+c.baseBody])
		}
		if c.base != "" {
			base = "`" + c.base + " " + c.baseBody + "`"
			b50, b95 = fmt.Sprintf("%.2f ms", ms(c.b50)), fmt.Sprintf("%.2f ms", ms(c.b95))
			ratio = fmt.Sprintf("%.3f×", float64(c.p95)/float64(c.b95))
		}
		fmt.Fprintf(&b, "| %s | %.2f ms | %.2f ms | %s | %s | %s | %s | %s |\n", c.name, ms(c.p50), ms(c.p95), ok, base, b50, b95, ratio)
	}
	return b.String()
}

// fill writes the rollouts and their attempts as the store writes them:
// statuses, modes and ten resources versions spread over the rows, a
// reward on three rollouts in five.
func fill(path string, rollouts int) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	insR, err := tx.Prepare(`INSERT INTO rollouts (rollout_id, status, mode, resources_id, start_time, end_time, watched, doc, reward)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)`)
	if err != nil {
		return err
	}
	insA, err := tx.Prepare(`INSERT INTO attempts (rollout_id, attempt_id, sequence_id, status, worker_id, start_time, end_time, last_heartbeat_time, doc)
		VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	statuses := []model.RolloutStatus{model.RolloutSucceeded, model.RolloutSucceeded, model.RolloutSucceeded, model.RolloutFailed, model.RolloutRunning}
	modes := []model.RolloutMode{model.ModeTrain, model.ModeTrain, model.ModeVal}
	for i := range rollouts {
		id := fmt.Sprintf("ro-%08d", i)
		st := statuses[i%len(statuses)]
		mode := modes[i%len(modes)]
		res := fmt.Sprintf("rs-%d", i%10)
		start := t0 + float64(i)*0.1
		var end *float64
		if st != model.RolloutRunning {
			e := start + 5
			end = &e
		}
		var reward any
		if i%5 < 3 {
			reward = rng.Float64()
		}
		r := model.Rollout{RolloutID: id, Input: json.RawMessage(`{"task":"` + id + `"}`), StartTime: start, EndTime: end,
			Mode: &mode, ResourcesID: &res, Status: st, Config: model.DefaultRolloutConfig(), Metadata: json.RawMessage(`{}`)}
		doc, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := insR.Exec(id, string(st), string(mode), res, start, end, string(doc), reward); err != nil {
			return err
		}
		worker := fmt.Sprintf("w-%d", i%16)
		as := model.AttemptSucceeded
		switch st {
		case model.RolloutFailed:
			as = model.AttemptFailed
		case model.RolloutRunning:
			as = model.AttemptRunning
		}
		a := model.Attempt{RolloutID: id, AttemptID: "at-" + id[3:], SequenceID: 1, StartTime: start, EndTime: end,
			Status: as, WorkerID: &worker, LastHeartbeatTime: &start}
		adoc, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if _, err := insA.Exec(id, a.AttemptID, string(as), worker, start, end, start, string(adoc)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// fillBig stores one rollout of n spans through the store: an agent span,
// then LLM calls (OTel GenAI attributes with a growing conversation and
// token ids), tool spans and a final reward, and its triplets.
func fillBig(ctx context.Context, core *store.Core, n int) error {
	rolloutID, attemptID := bigRollout, "at-big"
	var spans []model.Span
	var triplets []model.TripletRecord
	root := "0000000000000000"
	at := func(i int) *float64 { v := t0 + float64(i)*0.01; return &v }
	mk := func(i int, name string, parent *string, attrs model.Attributes) model.Span {
		return model.Span{RolloutID: rolloutID, AttemptID: attemptID, TraceID: strings.Repeat("ab", 16), SpanID: fmt.Sprintf("%016x", i),
			ParentID: parent, Name: name, Status: model.TraceStatus{StatusCode: "OK"}, Attributes: attrs,
			Events: []model.Event{}, Links: []model.Link{}, StartTime: at(i), EndTime: at(i + 1)}
	}
	spans = append(spans, mk(0, "agent.run", nil, model.Attributes{}))
	spans[0].SpanID = root
	conversation := `{"role":"user","parts":[{"type":"text","content":"Solve the task step by step."}]}`
	for i := 1; i < n-1; i++ {
		if i%4 == 1 {
			out := fmt.Sprintf(`[{"role":"assistant","parts":[{"type":"text","content":"Step %d: thinking about the task and calling a tool."}],"finish_reason":"stop"}]`, i)
			spans = append(spans, mk(i, "chat qwen", &root, model.Attributes{
				"gen_ai.operation.name": "chat", "gen_ai.request.model": "qwen",
				"gen_ai.input.messages":  "[" + conversation + "]",
				"gen_ai.output.messages": out,
				"prompt_token_ids":       []any{1, 2, 3, 4, 5, 6, 7, 8},
				"response_token_ids":     []any{9, 10, 11, 12},
			}))
			conversation += `,{"role":"assistant","parts":[{"type":"text","content":"step"}]}`
			if len(conversation) > 4000 {
				conversation = conversation[:strings.Index(conversation, "},")+1]
			}
			triplets = append(triplets, model.TripletRecord{Index: len(triplets), SpanID: spans[len(spans)-1].SpanID,
				Triplet: model.Triplet{Prompt: json.RawMessage(`{"token_ids":[1,2,3,4,5,6,7,8]}`), Response: json.RawMessage(`{"token_ids":[9,10,11,12]}`)}})
			continue
		}
		spans = append(spans, mk(i, "tool.search", &root, model.Attributes{"tool.name": "search", "input.value": "query"}))
	}
	spans = append(spans, mk(n-1, "agentlightning.annotation", &root, model.Attributes{
		"agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": 1.0}))
	rw := 1.0
	triplets[len(triplets)-1].Triplet.Reward = &rw
	// Ingested as the exporter does, creating the rollout and attempt.
	items := make([]store.IngestItem, len(spans))
	for i, sp := range spans {
		items[i] = store.IngestItem{Span: sp, CreateMetadata: json.RawMessage(`{}`)}
	}
	res, err := core.IngestSpans(ctx, items)
	if err != nil {
		return err
	}
	if len(res.Stored) != n {
		return fmt.Errorf("stored %d of %d spans (%d rejected)", len(res.Stored), n, len(res.Rejected))
	}
	if _, err := core.UpdateAttempt(ctx, rolloutID, attemptID, store.AttemptUpdate{Status: store.To(model.AttemptSucceeded)}); err != nil {
		return err
	}
	return core.ReplaceTriplets(ctx, rolloutID, attemptID, store.NextRevision, triplets)
}
