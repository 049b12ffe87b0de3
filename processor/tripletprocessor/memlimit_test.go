package tripletprocessor

import "testing"

func TestGoMemoryLimit(t *testing.T) {
	defaults := createDefaultConfig().(*Config).Limits
	env := func(v string) func(string) string { return func(string) string { return v } }
	for _, tc := range []struct {
		name   string
		limits func(LimitsConfig) LimitsConfig
		env    string
		want   int64
	}{
		{"derived from the defaults", func(l LimitsConfig) LimitsConfig { return l }, "",
			128<<20 + 2*(2*64<<20+200000*spanRefBytes)},
		{"GOMEMLIMIT wins", func(l LimitsConfig) LimitsConfig { return l }, "1GiB", 0},
		{"off", func(l LimitsConfig) LimitsConfig { l.GoMemoryLimitMiB = -1; return l }, "", 0},
		{"explicit", func(l LimitsConfig) LimitsConfig { l.GoMemoryLimitMiB = 700; return l }, "", 700 << 20},
		{"follows the buffer size", func(l LimitsConfig) LimitsConfig { l.MaxBufferedMiB = 16; l.MaxBufferedSpans = 1000; return l }, "",
			128<<20 + 2*(2*16<<20+1000*spanRefBytes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := goMemoryLimit(tc.limits(defaults), env(tc.env)); got != tc.want {
				t.Errorf("goMemoryLimit = %d MiB, want %d MiB", got>>20, tc.want>>20)
			}
		})
	}
}
