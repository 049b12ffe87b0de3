package storeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/export"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// ExportSummaryTrailer is the HTTP trailer that carries the export's
// summary (lines written, and what was left out and why, such as calls
// without token ids) as JSON once the body is complete.
const ExportSummaryTrailer = "X-Lightning-Export-Summary"

// exportRoute streams a dataset as JSON Lines:
//
//	GET /v1/lightning/export?format=sft|triplets|trajectories
//
// Filters: status and mode (repeated or comma-separated), started_after and
// started_before (Unix seconds, on the rollout's start_time), resources_id,
// rollout_id (repeated), min_reward. Options: attempts=latest|all,
// granularity=conversation|call (sft), summary=true to end the body with a
// {"summary": {...}} line. The summary is always sent as the
// X-Lightning-Export-Summary trailer. A store failure after the first line
// aborts the response, so a client never takes a cut export for a whole one.
func (h *handler) exportRoutes() {
	h.mux.HandleFunc("GET "+LightningPrefix+"/export", h.export)
}

func (h *handler) export(w http.ResponseWriter, r *http.Request) {
	opts, withSummaryLine, err := exportOptions(r.URL.Query())
	if err == nil {
		err = opts.Validate()
	}
	if err != nil {
		writeDetail(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Trailer", ExportSummaryTrailer)
	cw := &countingWriter{w: w}
	sum, err := export.Write(r.Context(), h.store, cw, opts)
	if err != nil {
		if cw.n == 0 {
			w.Header().Del("Trailer")
			h.writeStoreError(w, r, err)
			return
		}
		h.logger.Error("export failed after it started; aborting the response",
			zap.String("format", string(opts.Format)), zap.Int("lines", sum.Lines), zap.Error(err))
		panic(http.ErrAbortHandler)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if withSummaryLine {
		line, _ := json.Marshal(map[string]json.RawMessage{"summary": b})
		_, _ = cw.Write(append(line, '\n'))
	}
	if cw.n == 0 {
		// An empty export answers 200 with an empty body; flushing the
		// header makes the body chunked, so the trailer still goes out.
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
	}
	w.Header().Set(ExportSummaryTrailer, string(b))
}

// countingWriter counts the bytes written, to know whether the status line
// is already sent. An export streams for as long as the store has lines, so
// the server's write timeout would cut a large one: every second of progress
// moves the write deadline to answerBudget from now instead, which still cuts
// off a client that stops reading.
type countingWriter struct {
	w        http.ResponseWriter
	n        int
	extended time.Time
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if now := time.Now(); now.Sub(c.extended) > time.Second {
		c.extended = now
		_ = http.NewResponseController(c.w).SetWriteDeadline(now.Add(answerBudget))
	}
	n, err := c.w.Write(b)
	c.n += n
	return n, err
}

// exportOptions reads the query string of the export route.
func exportOptions(q url.Values) (export.Options, bool, error) {
	opts := export.Options{
		Format:      export.Format(q.Get("format")),
		Attempts:    q.Get("attempts"),
		Granularity: q.Get("granularity"),
	}
	if opts.Format == "" {
		return opts, false, errors.New("format: required, one of sft, triplets, trajectories")
	}
	for _, s := range listParam(q, "status") {
		opts.Filter.Statuses = append(opts.Filter.Statuses, model.RolloutStatus(s))
	}
	for _, m := range listParam(q, "mode") {
		opts.Filter.Modes = append(opts.Filter.Modes, model.RolloutMode(m))
	}
	opts.Filter.RolloutIDs = listParam(q, "rollout_id")
	if q.Has("resources_id") {
		opts.Filter.ResourcesID = model.Ptr(q.Get("resources_id"))
	}
	var errs []error
	for name, dst := range map[string]**float64{
		"started_after": &opts.Filter.StartedAfter, "started_before": &opts.Filter.StartedBefore, "min_reward": &opts.Filter.MinReward,
	} {
		if !q.Has(name) {
			continue
		}
		v, err := strconv.ParseFloat(q.Get(name), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a number", name, q.Get(name)))
			continue
		}
		*dst = &v
	}
	summary := false
	if q.Has("summary") {
		var err error
		if summary, err = strconv.ParseBool(q.Get("summary")); err != nil {
			errs = append(errs, fmt.Errorf("summary: %q is not true or false", q.Get("summary")))
		}
	}
	return opts, summary, errors.Join(errs...)
}

// listParam reads a parameter given several times, comma-separated, or
// both; nil when absent.
func listParam(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}
