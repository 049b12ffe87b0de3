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
