package lightningstoreextension

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-lightning/otelcol-lightning/extension/lightningstoreextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/storeapi"
)

// client does not keep connections alive, so no transport goroutine
// outlives a test (goleak checks at the end).
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func testConfig(backend, path string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "localhost:0"
	cfg.Store.Backend, cfg.Store.Path = backend, path
	return cfg
}

// start creates and starts an extension through its factory.
func start(t *testing.T, cfg *Config) *lightningStore {
	t.Helper()
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	return ext.(*lightningStore)
}

func shutdown(t *testing.T, tr *lightningStore) {
	t.Helper()
	require.NoError(t, tr.Shutdown(context.Background()))
}

// call sends a JSON request to the running API and decodes the answer.
func call(t *testing.T, tr *lightningStore, method, path, body string, headers ...string) (int, http.Header, any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+tr.addr.String()+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v any
	if len(data) > 0 {
		require.NoErrorf(t, json.Unmarshal(data, &v), "body: %s", data)
	}
	return resp.StatusCode, resp.Header, v
}

func searchRolloutIDs(t *testing.T, tr *lightningStore) []string {
	t.Helper()
	status, _, page := call(t, tr, http.MethodPost, "/v1/agl/rollouts/search", `{"limit": -1}`)
	require.Equal(t, http.StatusOK, status)
	var ids []string
	for _, it := range page.(map[string]any)["items"].([]any) {
		ids = append(ids, it.(map[string]any)["rollout_id"].(string))
	}
	return ids
}

func TestSQLiteServesAndPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "lightning.db")
	cfg := testConfig(BackendSQLite, path)

	tr := start(t, cfg)
	status, _, health := call(t, tr, http.MethodGet, "/v1/agl/health", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"status": "ok"}, health)
	assert.FileExists(t, path, "the store's directory is created")

	status, _, started := call(t, tr, http.MethodPost, "/v1/agl/rollouts", `{"input": {"q": "2+2"}, "worker_id": "Worker-0"}`)
	require.Equal(t, http.StatusCreated, status)
	rid := started.(map[string]any)["rollout_id"].(string)
	assert.Equal(t, []string{rid}, searchRolloutIDs(t, tr))

	s := tr.LightningStore()
	require.NotNil(t, s, "the extension is a store.Provider")
	stats, err := s.Statistics(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 1, stats["total_rollouts"])
	shutdown(t, tr)
	assert.Nil(t, tr.LightningStore(), "no store after shutdown")
	_, err = client.Get("http://" + tr.addr.String() + "/v1/agl/health")
	assert.Error(t, err, "the port is closed after shutdown")

	restarted := start(t, cfg)
	defer shutdown(t, restarted)
	assert.Equal(t, []string{rid}, searchRolloutIDs(t, restarted), "data survives a restart")
	status, _, got := call(t, restarted, http.MethodGet, "/v1/agl/rollouts/"+rid, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "Worker-0", got.(map[string]any)["attempt"].(map[string]any)["worker_id"])
}

func TestMemoryBackendForgets(t *testing.T) {
	cfg := testConfig(BackendMemory, "")
	tr := start(t, cfg)
	status, _, _ := call(t, tr, http.MethodPost, "/v1/agl/queues/rollouts/enqueue", `{"rollouts": [{"input": 1}]}`)
	require.Equal(t, http.StatusCreated, status)
	assert.Len(t, searchRolloutIDs(t, tr), 1)
	stats, err := tr.LightningStore().Statistics(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "InMemoryLightningStore", stats["name"])
	shutdown(t, tr)

	again := start(t, cfg)
	defer shutdown(t, again)
	assert.Empty(t, searchRolloutIDs(t, again))
}

func TestWatchdogRunsWithoutTraffic(t *testing.T) {
	cfg := testConfig(BackendMemory, "")
	cfg.Watchdog = WatchdogConfig{Interval: 10 * time.Millisecond, Debounce: time.Hour}
	tr := start(t, cfg)
	defer shutdown(t, tr)

	// The start call makes the one scan the debounce allows; from then on
	// only the ticker can time the attempt out.
	r, err := tr.LightningStore().StartRollout(context.Background(), store.StartRolloutRequest{
		Input:  json.RawMessage(`1`),
		Config: &model.RolloutConfig{TimeoutSeconds: model.Ptr(0.02), MaxAttempts: 1},
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		a, err := tr.LightningStore().GetLatestAttempt(context.Background(), r.RolloutID)
		return err == nil && a != nil && a.Status == model.AttemptTimeout
	}, 5*time.Second, 10*time.Millisecond)
}

func TestCORSFromServerConfig(t *testing.T) {
	cfg := testConfig(BackendMemory, "")
	cfg.CORS = configoptional.Some(confighttp.CORSConfig{AllowedOrigins: []string{"http://localhost:3000"}})
	tr := start(t, cfg)
	defer shutdown(t, tr)

	_, header, _ := call(t, tr, http.MethodGet, "/v1/agl/health", "", "Origin", "http://localhost:3000")
	assert.Equal(t, "http://localhost:3000", header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", header.Get("Access-Control-Allow-Credentials"))
	_, header, _ = call(t, tr, http.MethodGet, "/v1/agl/health", "", "Origin", "http://elsewhere.example")
	assert.Empty(t, header.Get("Access-Control-Allow-Origin"))

	// A preflight answers as Agent Lightning v0.3 (Starlette's
	// CORSMiddleware with allow_methods=["*"]) does: 200, every method,
	// the requested headers, max age 600 — not confighttp's 204 listing
	// only the requested method.
	status, header := preflight(t, tr, "/v1/agl/rollouts", "http://localhost:3000", "POST", "content-type")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "http://localhost:3000", header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT", header.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "600", header.Get("Access-Control-Max-Age"))
	assert.Equal(t, "content-type", header.Get("Access-Control-Allow-Headers"))
	assert.Equal(t, "true", header.Get("Access-Control-Allow-Credentials"))

	status, header = preflight(t, tr, "/v1/agl/rollouts", "http://elsewhere.example", "POST", "")
	assert.Equal(t, http.StatusBadRequest, status, "a disallowed origin's preflight, as Starlette answers it")
	assert.Empty(t, header.Get("Access-Control-Allow-Origin"))
}

// preflight sends a browser's CORS preflight (its answer is not JSON).
func preflight(t *testing.T, tr *lightningStore, path, origin, method, headers string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, "http://"+tr.addr.String()+path, nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

func TestCORSWildcardOriginAndMaxAge(t *testing.T) {
	cfg := testConfig(BackendMemory, "")
	cfg.CORS = configoptional.Some(confighttp.CORSConfig{AllowedOrigins: []string{"https://*.example.com"}, MaxAge: 60})
	tr := start(t, cfg)
	defer shutdown(t, tr)
	status, header := preflight(t, tr, "/v1/agl/health", "https://app.example.com", "GET", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "https://app.example.com", header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "60", header.Get("Access-Control-Max-Age"))
	_, header, _ = call(t, tr, http.MethodGet, "/v1/agl/health", "", "Origin", "https://example.org")
	assert.Empty(t, header.Get("Access-Control-Allow-Origin"))
}

func TestStartFailures(t *testing.T) {
	busy, err := net.Listen("tcp", "localhost:0")
	require.NoError(t, err)
	defer busy.Close()

	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, []byte("x"), 0o600))

	tests := []struct {
		name    string
		cfg     *Config
		wantErr string
	}{
		{
			name: "port in use",
			cfg: func() *Config {
				c := testConfig(BackendMemory, "")
				c.NetAddr.Endpoint = busy.Addr().String()
				return c
			}(),
			wantErr: "listen on " + busy.Addr().String(),
		},
		{
			name:    "store directory cannot be created",
			cfg:     testConfig(BackendSQLite, filepath.Join(notADir, "sub", "lightning.db")),
			wantErr: "create the store directory",
		},
		{
			name:    "unknown backend",
			cfg:     testConfig("mysql", ""),
			wantErr: `unknown store backend "mysql"`,
		},
		{
			name: "postgres unreachable",
			cfg: func() *Config {
				c := testConfig(BackendPostgres, "")
				c.Store.DSN = configopaque.String("postgres://lightning:secret@" + busy.Addr().String() + "/lightning?sslmode=disable&connect_timeout=2")
				return c
			}(),
			wantErr: "open the postgres store",
		},
		{
			name: "postgres tls files missing",
			cfg: func() *Config {
				c := testConfig(BackendPostgres, "")
				c.Store.DSN = "postgres://localhost/lightning"
				c.Store.TLS = configoptional.Some(configtls.ClientConfig{Config: configtls.Config{CAFile: filepath.Join(notADir, "ca.pem")}})
				return c
			}(),
			wantErr: "store.tls",
		},
	}
	tests = append(tests, struct {
		name    string
		cfg     *Config
		wantErr string
	}{
		name: "api_v1 authenticator missing",
		cfg: func() *Config {
			c := testConfig(BackendMemory, "")
			c.APIv1.Auth = &configauth.Config{AuthenticatorID: component.MustNewID("bearertokenauth")}
			return c
		}(),
		wantErr: "api_v1 auth",
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), tt.cfg)
			require.NoError(t, err)
			err = ext.Start(context.Background(), componenttest.NewNopHost())
			require.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), "secret", "errors never quote the DSN's password")
			assert.Nil(t, ext.(*lightningStore).LightningStore())
			assert.NoError(t, ext.Shutdown(context.Background()), "shutdown after a failed start")
		})
	}
}

func TestShutdownWithoutStart(t *testing.T) {
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), createDefaultConfig())
	require.NoError(t, err)
	assert.NoError(t, ext.Shutdown(context.Background()))
	assert.Nil(t, ext.(store.Provider).LightningStore())
}

func TestIdentityPolicyComesFromConfig(t *testing.T) {
	cfg := testConfig(BackendMemory, "")
	cfg.Identity = IdentityConfig{Unlabeled: otlpspan.UnlabeledDrop, AutoRolloutKey: "session.id"}
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	p, ok := ext.(otlpspan.IdentityProvider)
	require.True(t, ok, "the extension is an otlpspan.IdentityProvider")
	assert.Equal(t, otlpspan.Config{Unlabeled: otlpspan.UnlabeledDrop, AutoKey: "session.id"}, p.IdentityPolicy(),
		"known before Start, and without the exporter's unknown_rollouts")
	require.NoError(t, ext.Shutdown(context.Background()))
}

func TestDataDir(t *testing.T) {
	dir := t.TempDir()
	sqlite := newLightningStore(testConfig(BackendSQLite, filepath.Join(dir, "lightning.db")), extensiontest.NewNopSettings(metadata.Type))
	assert.Equal(t, dir, sqlite.DataDir())
	memory := newLightningStore(testConfig(BackendMemory, ""), extensiontest.NewNopSettings(metadata.Type))
	assert.Empty(t, memory.DataDir())
}

func TestOtherComponentsMountRoutes(t *testing.T) {
	tr := start(t, testConfig(BackendMemory, ""))
	defer shutdown(t, tr)
	var router storeapi.Router = tr
	require.NoError(t, router.Handle("GET /v1/lightning/hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"hello": "world"}`)
	})))
	status, _, body := call(t, tr, http.MethodGet, "/v1/lightning/hello", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"hello": "world"}, body)

	err := router.Handle("GET /v1/lightning/hello", http.NotFoundHandler())
	require.ErrorContains(t, err, `mount "GET /v1/lightning/hello" on the store API`, "a clash is an error, not a panic")
	status, _, _ = call(t, tr, http.MethodPost, "/v1/lightning/hello", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status, "the API's own 405 still applies")
}

func TestHandleBeforeStart(t *testing.T) {
	ext := newLightningStore(testConfig(BackendMemory, ""), extensiontest.NewNopSettings(metadata.Type))
	assert.ErrorContains(t, ext.Handle("GET /x", http.NotFoundHandler()), "not running")
}

func TestNotifiersForwardToTheStore(t *testing.T) {
	tr := start(t, testConfig(BackendMemory, ""))
	defer shutdown(t, tr)
	events := make(chan store.AttemptEvent, 8)
	unsubscribe := tr.SubscribeAttempts(func(e store.AttemptEvent) { events <- e })
	defer unsubscribe()
	r, err := tr.LightningStore().StartRollout(context.Background(), store.StartRolloutRequest{Input: json.RawMessage(`1`)})
	require.NoError(t, err)
	_, err = tr.LightningStore().UpdateAttempt(context.Background(), r.RolloutID, r.Attempt.AttemptID,
		store.AttemptUpdate{Status: store.Patch[model.AttemptStatus]{Set: true, Value: model.Ptr(model.AttemptSucceeded)}})
	require.NoError(t, err)
	select {
	case e := <-events:
		assert.Equal(t, r.RolloutID, e.RolloutID)
	case <-time.After(5 * time.Second):
		t.Fatal("no attempt event")
	}
}

// TestAgentLightningV1 checks the v1.0 API is mounted (or not) and that the
// models it registers are the extension's llmmodels.Registry.
func TestAgentLightningV1(t *testing.T) {
	tr := start(t, testConfig(BackendMemory, ""))
	defer shutdown(t, tr)
	status, _, body := call(t, tr, http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"status": "ok"}, body)
	status, _, _ = call(t, tr, http.MethodPost, "/api/models", `[{"model":"m","endpoint":"http://b/v1"},{"model":"m","endpoint":"http://a/v1","version":2}]`)
	require.Equal(t, http.StatusCreated, status)
	var reg llmmodels.Registry = tr
	models, err := reg.Models(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []llmmodels.Model{{Name: "m", Endpoint: "http://a/v1", Version: 2}, {Name: "m", Endpoint: "http://b/v1"}}, models)
	require.NoError(t, reg.DeleteModels(context.Background()))
	require.NoError(t, reg.UpsertModels(context.Background(), []llmmodels.Model{{Name: "x", Endpoint: "http://x/v1"}}))
	status, _, _ = call(t, tr, http.MethodDelete, "/api/models", "")
	require.Equal(t, http.StatusOK, status)
	models, err = reg.Models(context.Background())
	require.NoError(t, err)
	assert.Empty(t, models)

	cfg := testConfig(BackendMemory, "")
	cfg.APIv1.Enabled = false
	off := start(t, cfg)
	defer shutdown(t, off)
	status, _, _ = call(t, off, http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusNotFound, status)
	status, _, _ = call(t, off, http.MethodGet, "/api/rollouts?state_in=queuing", "")
	assert.Equal(t, http.StatusNotFound, status)
}
