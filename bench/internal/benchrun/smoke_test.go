package benchrun

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/bench/loadgen"
)

// TestSmoke runs a tiny load through the whole benchmark machinery against
// the ceiling and the SQLite pipeline, so that bench/run keeps working. It
// builds the collector, so it is skipped with -short.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), "otelcol-lightning")
	build := exec.Command("go", "build", "-o", bin, "./cmd/otelcol-lightning")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	msg, err := build.CombinedOutput()
	require.NoError(t, err, "%s", msg)

	w := loadgen.DefaultWorkload()
	w.RunID = uint64(time.Now().UnixNano())
	load := LoadConfig{
		Workload: w, Rollouts: 20, Workers: 2, Protocol: "grpc",
		LatencyRate: 100, LatencyDuration: time.Second, Probers: 1, DrainTimeout: 30 * time.Second,
	}
	env := &Env{Root: root, Binary: bin, WorkDir: t.TempDir(), RunID: w.RunID}
	rep := Report{Name: "smoke", Load: NewLoadReport(load), Machine: DescribeMachine(root, "")}
	for _, target := range Targets() {
		if target.Key != "a" && target.Key != "b" {
			continue
		}
		inst, err := target.Start(env)
		require.NoError(t, err)
		res, err := Run(context.Background(), target, inst, load)
		require.NoError(t, inst.Proc.Stop(30*time.Second))
		require.NoError(t, err, "%s", inst.Proc.LogTail(30))
		assert.Zero(t, res.FailedExports, res.FirstError)
		assert.Equal(t, 20*w.SpansPerRollout(), res.Spans)
		require.NotNil(t, res.SpansPerSec)
		require.NotNil(t, res.PeakRSSBytes)
		require.NotNil(t, res.CPUMsPerRollout)
		assert.InDelta(t, 1000*res.CPUSeconds/20, *res.CPUMsPerRollout, 1e-9)
		if target.Key == "b" {
			assert.Equal(t, 20*w.TripletsPerRollout(), res.Triplets)
			assert.NotZero(t, res.VisibleSamples)
			assert.NotZero(t, res.TripletsSamples)
			assert.Zero(t, res.MissingSpans+res.MissingTriplets)
		}
		rep.Results = append(rep.Results, res)
	}
	path, err := rep.Write(t.TempDir())
	require.NoError(t, err)
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(doc), "| b | otelcol-lightning, SQLite |")
	assert.Contains(t, string(doc), "×a")
}
