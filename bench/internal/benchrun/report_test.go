package benchrun

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(101-i)*time.Millisecond)
	}
	assert.InDelta(t, 50, *percentileMs(ds, 50), 1e-9)
	assert.InDelta(t, 99, *percentileMs(ds, 99), 1e-9)
	assert.InDelta(t, 100, *percentileMs(ds, 100), 1e-9)
	assert.InDelta(t, 7, *percentileMs([]time.Duration{7 * time.Millisecond}, 99), 1e-9)
	assert.Nil(t, percentileMs(nil, 50))
}

func TestTableRatios(t *testing.T) {
	rep := Report{Results: []Result{
		{Key: "a", Name: "ceiling", SpansPerSec: ptr(10000.0), PeakRSSBytes: ptr(int64(50 << 20)), CPUMsPerRollout: ptr(0.5)},
		{Key: "b", Name: "sqlite", SpansPerSec: ptr(2500.0), TripletsPerSec: ptr(1000.0),
			VisibleP50Ms: ptr(120.0), VisibleP99Ms: ptr(300.0), PeakRSSBytes: ptr(int64(200 << 20)), CPUMsPerRollout: ptr(4.0)},
		{Key: "c", Name: "postgres", Skipped: "no DSN"},
		{Key: "d", Name: "agl", SpansPerSec: ptr(500.0), VisibleP50Ms: ptr(4.0), VisibleP99Ms: ptr(30.0), PeakRSSBytes: ptr(int64(400 << 20)), CPUMsPerRollout: ptr(16.0)},
	}}
	md := rep.Markdown()
	lines := strings.Split(strings.TrimSpace(md), "\n")
	require.Len(t, lines, 6)
	assert.Contains(t, lines[3], "2 500/s (0.25×a, 5.00×d)")
	assert.Contains(t, lines[3], "1 000/s |") // no reference has triplets
	assert.Contains(t, lines[3], "120 ms (30×d)")
	assert.Contains(t, lines[3], "200 MiB (4.00×a, 0.50×d)")
	assert.Contains(t, lines[0], "| CPU per rollout |")
	assert.Contains(t, lines[3], "4.0 ms (8.00×a, 0.25×d) |")
	assert.Contains(t, lines[5], "16 ms (32×a, 1.00×d) |")
	assert.Contains(t, lines[4], "skipped: no DSN")
	assert.Contains(t, lines[2], "10 000/s (1.00×a, 20×d)")
	assert.Contains(t, lines[5], "4.0 ms (1.00×d)")
	assert.Equal(t, strings.Count(lines[0], "|"), strings.Count(lines[4], "|"), "a skipped row keeps the columns")
}

func TestFormatting(t *testing.T) {
	assert.Equal(t, "1 234 567/s", formatCount(1234567.4))
	assert.Equal(t, "999/s", formatCount(999))
	assert.Equal(t, "0.050", formatRatio(0.05))
	assert.Equal(t, "2.50", formatRatio(2.5))
	assert.Equal(t, "120", formatRatio(120))
	assert.Equal(t, "9.5 ms", formatMs(9.5))
	assert.Equal(t, "24 GiB", formatBytes(24<<30))
}
