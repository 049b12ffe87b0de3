package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otelcol-lightning/otelcol-lightning/internal/pgtest"
)

// TestReliabilityPostgresUnreachable cuts the collector off from PostgreSQL
// (a loopback proxy between them closes its listener and every connection)
// while spans keep arriving: nothing is acknowledged meanwhile (the senders
// retry "retry later" answers, as OTLP exporters do), nothing reaches the
// database, reads fail fast, and once the network is back every span is
// acknowledged and stored. Short: a 5 s outage; -long: 60 s.
func TestReliabilityPostgresUnreachable(t *testing.T) {
	requireBinary(t)
	dsn, schema := pgtest.Schema(t)
	outage, total := outageLoad()
	proxy := startTCPProxy(t, dsnHost(t, dsn))
	overlay := filepath.Join(t.TempDir(), "postgres.yaml")
	body := fmt.Sprintf("extensions:\n  lightningstore:\n    store:\n      backend: postgres\n      dsn: ${env:LIGHTNING_E2E_PG_DSN}\n      schema: %s\n", schema)
	if err := os.WriteFile(overlay, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c := launch(t, t.TempDir(), launchSpec{configs: []string{overlay}, env: []string{"LIGHTNING_E2E_PG_DSN=" + withHost(t, dsn, proxy.addr)}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	ingestBeforeOutage(ctx, t, c.collector)

	proxy.down()
	cut := time.Now()
	in, done := ingestDuringOutage(ctx, c.collector, total)
	for time.Since(cut) < outage {
		if !httpOK("http://" + c.HealthAddr + "/") {
			t.Fatal("health check failed during the outage")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Reads fail fast with an error instead of hanging on the dead network.
	readStart := time.Now()
	if _, err := spanTotal(ctx, "http://"+c.APIAddr, "ro-before", "at-1"); err == nil || time.Since(readStart) > 10*time.Second {
		t.Fatalf("read API during the outage: want an error within 10 s, got %v after %s", err, time.Since(readStart))
	}
	// The answers say what happened without naming the database's user,
	// name or address; the log line with the same ref has the details.
	_, portOnly, _ := net.SplitHostPort(proxy.addr)
	leaks := func(msg string) bool {
		return strings.Contains(msg, "user=") || strings.Contains(msg, "database=") || strings.Contains(msg, portOnly)
	}
	code, msg := postRaw(t, c.otlpHTTP("/v1/traces"), map[string]string{"Content-Type": "application/x-protobuf"},
		protoBody(t, relBatch(999_999, 1, 1, "ro-outage-probe")))
	if code != http.StatusServiceUnavailable || leaks(msg) || !strings.Contains(msg, "ref ") {
		t.Errorf("OTLP/HTTP export during the outage: %d %q, want 503 naming a ref and no connection details", code, msg)
	}
	t.Logf("export answer during the outage: %d %q", code, msg)
	readCode, readBody := post(t, c.api("/v1/agl/rollouts/search"), "application/json", []byte(`{}`))
	if readCode != http.StatusInternalServerError || leaks(string(readBody)) || !strings.Contains(string(readBody), "ref ") {
		t.Errorf("read during the outage: %d %s, want 500 naming a ref and no connection details", readCode, readBody)
	}
	if n := countSpansDirect(t, dsn, schema, "ro-outage-%"); n != 0 {
		t.Fatalf("%d spans reached PostgreSQL through a closed proxy; the outage was not real", n)
	}
	finishOutage(ctx, t, c.collector, in, done, func() { proxy.up(t) })
	t.Logf("PostgreSQL unreachable for %s; %d spans stored after it", time.Since(cut).Round(time.Millisecond), total)
	if !c.running() {
		t.Fatal("collector exited")
	}
}

// countSpansDirect counts stored spans whose rollout id is LIKE pattern,
// reading the database itself rather than through the collector.
func countSpansDirect(t *testing.T, dsn, schema, pattern string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	query := "SELECT count(*) FROM " + pgx.Identifier{schema, "spans"}.Sanitize() + " WHERE rollout_id LIKE $1"
	if err := conn.QueryRow(ctx, query, pattern).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func dsnHost(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("the test DSN must be a URL with a host: %q (%v)", dsn, err)
	}
	return u.Host
}

func withHost(t *testing.T, dsn, host string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = host
	return u.String()
}

// tcpProxy forwards loopback connections to a target and can cut them all,
// refusing new ones, to make a server unreachable without stopping it.
type tcpProxy struct {
	addr, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func startTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(client)
		}
	}()
}

func (p *tcpProxy) forward(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, server) {
		_ = client.Close()
		_ = server.Close()
		return
	}
	go func() { _, _ = io.Copy(server, client); _ = server.Close() }()
	_, _ = io.Copy(client, server)
	_ = client.Close()
}

// track registers a connection pair unless the proxy is down.
func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// down closes the listener and every open connection.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// up listens again on the same address.
func (p *tcpProxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("reopen the proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
