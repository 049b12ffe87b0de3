package tripletprocessor

import (
	"math"
	"os"
	"runtime/debug"
)

// baseMemoryMiB is what the rest of the collector needs besides the
// processor's buffers: the runtime and binary, SQLite, requests in flight,
// the exporter's and connector's dedup sets (measured: 60–120 MiB under the
// benchmark load).
const baseMemoryMiB = 128

// goMemoryLimit returns the soft memory limit, in bytes, that limits ask for,
// or 0 to leave the runtime alone. GOMEMLIMIT, when set, always wins.
func goMemoryLimit(limits LimitsConfig, getenv func(string) string) int64 {
	if getenv("GOMEMLIMIT") != "" || limits.GoMemoryLimitMiB < 0 {
		return 0
	}
	if limits.GoMemoryLimitMiB > 0 {
		return int64(limits.GoMemoryLimitMiB) << 20
	}
	// What the limits let the processor hold: span copies and log events
	// (max_buffered_mib each) and the span ids. The limit allows that twice
	// (the runtime's headroom, GOGC=100) plus the base: the heap cannot
	// double past what the configuration allows, and the runtime does not
	// collect continuously near it (with the held bytes once, a sustained
	// overload lost 25-35 % of its ingest rate to collection).
	held := int64(2*limits.MaxBufferedMiB)<<20 + int64(limits.MaxBufferedSpans)*spanRefBytes
	return int64(baseMemoryMiB)<<20 + 2*held
}

// applyGoMemoryLimit sets the runtime's soft memory limit from limits, never
// lowering a limit already set (another collector component, or a larger
// configuration of a second processor).
func applyGoMemoryLimit(limits LimitsConfig) (int64, bool) {
	limit := goMemoryLimit(limits, os.Getenv)
	if limit <= 0 {
		return 0, false
	}
	current := debug.SetMemoryLimit(-1) // reads without changing
	if current != math.MaxInt64 && current >= limit {
		return current, false
	}
	debug.SetMemoryLimit(limit)
	return limit, true
}
