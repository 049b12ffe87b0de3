package benchrun

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatCPUTicks(t *testing.T) {
	// A real line (Linux 6.x, 52 fields) with utime 1234 and stime 567.
	line := "4242 (otelcol-lightn) S 1 4242 4242 0 -1 4194560 51234 0 12 0 1234 567 0 0 20 0 14 0 987654 " +
		"2147483648 40000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	n, err := statCPUTicks(line)
	require.NoError(t, err)
	assert.Equal(t, int64(1234+567), n)

	// The command name may hold spaces and parentheses: count from the last ')'.
	odd := "77 (python3 -m (store) x) R 1 77 77 0 -1 0 0 0 0 0 9 1 3 4 20 0 1 0 5 6 7\n"
	n, err = statCPUTicks(odd)
	require.NoError(t, err)
	assert.Equal(t, int64(10), n, "utime and stime, not the children's cutime and cstime")

	for _, bad := range []string{"", "77 python3 R 1", "77 (x) R 1 77 77 0 -1 0 0 0 0 0", "77 (x) R 1 77 77 0 -1 0 0 0 0 0 nine 1 3 4"} {
		_, err := statCPUTicks(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// TestStatCPUTicksSelf reads this process's own /proc stat while it burns
// CPU: the parsed figure must grow, which it would not if the fields were
// miscounted (most neighbouring fields are constant).
func TestStatCPUTicksSelf(t *testing.T) {
	read := func() int64 {
		raw, err := os.ReadFile("/proc/self/stat")
		if err != nil {
			t.Skipf("no /proc: %v", err)
		}
		n, err := statCPUTicks(string(raw))
		require.NoError(t, err)
		return n
	}
	before := read()
	deadline := time.Now().Add(10 * time.Second)
	x := 1.0
	for read() < before+5 { // 50 ms of CPU
		if time.Now().After(deadline) {
			t.Fatalf("CPU ticks stayed at %d after 10 s of busy work", before)
		}
		for i := range 1_000_000 {
			x = x*1.0000001 + float64(i&1)
		}
	}
	assert.Positive(t, x)
}
