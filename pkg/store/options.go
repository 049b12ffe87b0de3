package store

import (
	"time"

	"go.uber.org/zap"
)

// Options tune Core. The zero value is usable: real clock, watchdog before
// every call and on a one-second ticker.
type Options struct {
	// Clock returns the current time; tests replace it to move time.
	Clock func() time.Time
	// ScanDebounce is the minimum time between two watchdog scans triggered
	// by API calls (Agent Lightning: scan_debounce_seconds). 0 scans on every call.
	ScanDebounce time.Duration
	// ScanInterval runs the watchdog on a ticker as well, so timeouts fire
	// without traffic. 0 disables the ticker.
	ScanInterval time.Duration
	// WaitPollInterval bounds how long WaitForRollouts sleeps between checks
	// when no in-process notification arrives (another process may have
	// finished the rollout). Default 100ms.
	WaitPollInterval time.Duration
	// Logger receives warnings such as duplicated spans. Default: no-op.
	Logger *zap.Logger
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.WaitPollInterval <= 0 {
		o.WaitPollInterval = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}
