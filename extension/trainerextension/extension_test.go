package trainerextension

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-lightning/otelcol-lightning/extension/trainerextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/algorithm"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

// client does not keep connections alive, so no transport goroutine
// outlives a test (goleak checks at the end).
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// host is a component.Host holding the given extensions.
type host map[component.ID]component.Component

func (h host) GetExtensions() map[component.ID]component.Component { return h }

// fakeStore stands in for the lightningstore extension: a memory store, a
// mux the trainer mounts its routes on, served on a test server, and an
// optional data directory.
type fakeStore struct {
	component.StartFunc
	component.ShutdownFunc
	st     *store.Core
	mux    *http.ServeMux
	server *httptest.Server
	dir    string
}

func newFakeStore(t *testing.T, dir string) *fakeStore {
	t.Helper()
	fs := &fakeStore{st: store.New(memstore.New(), store.Options{}), mux: http.NewServeMux(), dir: dir}
	fs.server = httptest.NewServer(fs.mux)
	t.Cleanup(func() {
		fs.server.Close()
		assert.NoError(t, fs.st.Close())
	})
	return fs
}

func (f *fakeStore) LightningStore() store.Store {
	if f.st == nil {
		return nil // not started
	}
	return f.st
}
func (f *fakeStore) DataDir() string { return f.dir }

func (f *fakeStore) Handle(pattern string, h http.Handler) error {
	f.mux.Handle(pattern, h)
	return nil
}

func (f *fakeStore) host() host { return host{defaultStoreExtension: f} }

// start creates and starts a trainer over fs through its factory.
func start(t *testing.T, cfg *Config, fs *fakeStore) *trainer {
	t.Helper()
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), fs.host()))
	return ext.(*trainer)
}

func shutdown(t *testing.T, tr *trainer) {
	t.Helper()
	require.NoError(t, tr.Shutdown(context.Background()))
}

// onlyStore provides a store but no HTTP server to mount routes on.
type onlyStore struct {
	component.StartFunc
	component.ShutdownFunc
	st store.Store
}

func (o onlyStore) LightningStore() store.Store { return o.st }

func TestStartNeedsTheStoreExtension(t *testing.T) {
	fs := newFakeStore(t, "")
	tests := []struct {
		name    string
		host    host
		wantErr string
	}{
		{
			name:    "missing",
			host:    host{},
			wantErr: "store extension lightningstore not found; is it listed under service.extensions?",
		},
		{
			name:    "not a store",
			host:    host{defaultStoreExtension: struct{ component.Component }{}},
			wantErr: "extension lightningstore does not provide an Agent Lightning store and API server",
		},
		{
			name:    "no API server",
			host:    host{defaultStoreExtension: onlyStore{st: fs.st}},
			wantErr: "extension lightningstore does not provide an Agent Lightning store and API server",
		},
		{
			name:    "not started",
			host:    host{defaultStoreExtension: &fakeStore{mux: http.NewServeMux()}},
			wantErr: "extension lightningstore has no store",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), createDefaultConfig())
			require.NoError(t, err)
			require.ErrorContains(t, ext.Start(context.Background(), tt.host), tt.wantErr)
			assert.NoError(t, ext.Shutdown(context.Background()), "shutdown after a failed start")
		})
	}
}

func TestDependsOnTheNamedStore(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Store = component.MustNewIDWithName("lightningstore", "gateway")
	tr := newTrainer(cfg, extensiontest.NewNopSettings(metadata.Type))
	assert.Equal(t, []component.ID{cfg.Store}, tr.Dependencies())

	fs := newFakeStore(t, "")
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.ErrorContains(t, ext.Start(context.Background(), fs.host()), "store extension lightningstore/gateway not found")
	require.NoError(t, ext.Start(context.Background(), host{cfg.Store: fs}))
	defer func() { require.NoError(t, ext.Shutdown(context.Background())) }()
	assert.Equal(t, algorithm.StateIdle, algorithmStatus(t, fs).State, "the report is served on the named store's server")
}

func TestReportDefaultsToTheStoreDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := createDefaultConfig().(*Config)
	cfg.Algorithm.Name = algorithm.NameEvaluate
	cfg.Algorithm.Dataset.Path = writeTasks(t, `{"id": "a"}`)
	tr := start(t, cfg, newFakeStore(t, dir))
	defer shutdown(t, tr)
	assert.Equal(t, filepath.Join(dir, "algorithm-report.json"), tr.loop.reportPath())

	noDir := start(t, cfg, newFakeStore(t, ""))
	defer shutdown(t, noDir)
	assert.Empty(t, noDir.loop.reportPath(), "no file when the store has no local directory")
}

func TestShutdownWithoutStart(t *testing.T) {
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), createDefaultConfig())
	require.NoError(t, err)
	assert.NoError(t, ext.Shutdown(context.Background()))
	_, isProvider := ext.(store.Provider)
	assert.False(t, isProvider, "components name the store extension, not the trainer")
}

// newTestHost is the host of the generated lifecycle test.
func newTestHost(t *testing.T) component.Host { return newFakeStore(t, "").host() }
