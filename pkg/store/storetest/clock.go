package storetest

import (
	"sync"
	"time"
)

// Clock is a manual clock for store.Options.Clock. Heartbeats, the watchdog
// and end times all read the store clock, so a test that moves this clock
// sees exactly the timestamps it expects, with no sleeping.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the current time of the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Seconds returns the current time as float seconds since the epoch, the
// unit of every timestamp the store returns.
func (c *Clock) Seconds() float64 { return seconds(c.Now()) }

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// secondsDuration converts float seconds (the unit of RolloutConfig) to a
// duration for Advance.
func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
