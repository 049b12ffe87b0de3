package dashboard

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// scraper reads the collector's own metrics from its Prometheus endpoint
// (the service::telemetry pull reader, loopback by default). Components'
// instruments are registered with the service's MeterProvider, which offers
// no in-process read, so the endpoint that already exposes them is the one
// source every component's figures come from.
type scraper struct {
	url    string
	client *http.Client
}

func newScraper(url string) *scraper {
	return &scraper{url: url, client: &http.Client{Timeout: 2 * time.Second}}
}

// Metric is one metric family summed over its series, with the series by
// their label sets when there are several.
type Metric struct {
	Name   string             `json:"name"`
	Value  float64            `json:"value"`
	Series map[string]float64 `json:"series,omitempty"`
	// Fix says in one sentence what to do about a non-zero problem count.
	Fix string `json:"fix,omitempty"`
}

// problemFixes are the one-sentence fixes of the problem counters, by
// metric name prefix (after "otelcol_").
var problemFixes = []struct{ prefix, fix string }{
	{"receiver_refused", "The receiver refused data (the memory limiter or a failing store said retry later): check the collector's log and memory_limiter settings; senders retry."},
	{"receiver_failed", "Requests failed inside the pipeline: the collector's log names the component and the error."},
	{"exporter_send_failed", "The store could not take a write: check the store (disk, PostgreSQL) in the collector's log; senders were told to retry."},
	{"exporter_lightningstore_spans_rejected", "Spans named a rollout or attempt the store does not know (traces.unknown_rollouts: reject): start the rollout first, or let the store create it."},
	{"exporter_lightningstore_spans_unlabeled_dropped", "Spans without agentlightning.rollout_id were dropped (identity.unlabeled: drop): label them, or set identity.unlabeled: auto."},
	{"exporter_lightningstore_messages_rejected", "Chat records were refused (see the reason series): label the spans with known rollouts and attempts."},
	{"exporter_lightningstore_triplets_invalid", "A sender emitted agentlightning.triplet spans that do not decode: fix that sender, or let the triplet processor build triplets."},
	{"exporter_lightningstore_sequence_ids_invalid", "Spans carried a malformed agentlightning.span_sequence_id (the store numbered them): fix the sender's attribute."},
	{"processor_triplet_spans_dropped", "The triplet processor skipped spans over its limits (see the reason series): raise limits.max_spans_per_attempt or the memory limits."},
	{"processor_triplet_build_failures", "Some attempts got no triplets (see the reason series): the collector's log has the error; read and store failures are retried."},
	{"processor_reward_values_skipped", "Reward values could not be read (see the source and reason series): emit numeric rewards in agentlightning.reward.N.value."},
	{"connector_messages_parse_problems", "The GenAI parser skipped attribute values of LLM spans: fix the instrumentation's encoding (valid JSON within the size limits)."},
	{"connector_messages_spans_skipped", "Some LLM spans produced no chat record (see the reason series); unlabeled and no_content are the ones to fix at the agent."},
}

func fixOf(name string) string {
	name = strings.TrimPrefix(name, "otelcol_")
	for _, f := range problemFixes {
		if strings.HasPrefix(name, f.prefix) {
			return f.fix
		}
	}
	return ""
}

// MetricsView is what the overview shows of the collector's own metrics.
type MetricsView struct {
	Source string  `json:"source"`
	Error  string  `json:"error,omitempty"`
	Time   float64 `json:"time"`
	// Ingest: counters of spans and records taken in and stored (the page
	// turns two reads into rates).
	Ingest []Metric `json:"ingest"`
	// Fill: queue and buffer gauges with their capacities.
	Fill []Metric `json:"fill"`
	// Problems: refused, rejected, dropped, failed and skipped counts.
	Problems []Metric `json:"problems"`
}

var (
	ingestMetric  = regexp.MustCompile(`^otelcol_(receiver_accepted_spans|exporter_sent_spans|exporter_lightningstore_(spans|triplets|messages)_stored|processor_triplet_triplets_emitted|connector_messages_records_emitted)`)
	fillMetric    = regexp.MustCompile(`^otelcol_(exporter_queue_(size|capacity)|processor_triplet_buffered_(spans|bytes))`)
	problemMetric = regexp.MustCompile(`^otelcol_.*(refused|rejected|dropped|failed|failures|invalid|skipped|parse_problems|duplicate)`)
)

func (s *scraper) read(ctx context.Context, now time.Time) MetricsView {
	v := MetricsView{Source: s.url, Time: nowSeconds(now), Ingest: []Metric{}, Fill: []Metric{}, Problems: []Metric{}}
	if s.url == "" {
		v.Error = "no metrics endpoint configured (dashboard.metrics_endpoint)"
		return v
	}
	fams, err := s.scrape(ctx)
	if err != nil {
		v.Error = err.Error()
		return v
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := fams[n]
		switch {
		case ingestMetric.MatchString(n):
			v.Ingest = append(v.Ingest, *m)
		case fillMetric.MatchString(n):
			v.Fill = append(v.Fill, *m)
		case problemMetric.MatchString(n):
			if m.Value > 0 {
				m.Fix = fixOf(n)
			}
			v.Problems = append(v.Problems, *m)
		}
	}
	return v
}

// scrape reads the text exposition format: "name{labels} value" lines,
// comments skipped. Hand-written (a few lines) rather than pulling the
// Prometheus parser's validation-scheme API into the build.
func (s *scraper) scrape(ctx context.Context) (map[string]*Metric, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the collector's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the collector's metrics: %s answered %d", s.url, resp.StatusCode)
	}
	out := map[string]*Metric{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, "{ ")
		if i <= 0 {
			continue
		}
		name, labels, rest := line[:i], "", line[i:]
		if rest[0] == '{' {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				continue
			}
			labels, rest = rest[1:j], rest[j+1:]
		}
		// The value, then an optional timestamp.
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		val, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || strings.HasSuffix(name, "_bucket") {
			continue
		}
		name = strings.TrimSuffix(name, "_total")
		m := out[name]
		if m == nil {
			m = &Metric{Name: name, Series: map[string]float64{}}
			out[name] = m
		}
		m.Value += val
		m.Series[seriesKey(labels)] += val
	}
	for _, m := range out {
		if len(m.Series) <= 1 {
			m.Series = nil
		}
	}
	return out, sc.Err()
}

// seriesKey keeps the labels that tell series apart for a reader (the
// component and the reason), not the process-wide ones.
func seriesKey(labels string) string {
	var keep []string
	for _, kv := range strings.Split(labels, ",") {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.TrimSpace(k) {
		case "receiver", "exporter", "processor", "connector", "reason", "error_type", "data_type", "transport", "outcome":
			keep = append(keep, strings.TrimSpace(kv))
		}
	}
	return strings.Join(keep, ",")
}
