package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPowerOfTwoAtMost(t *testing.T) {
	for n, want := range map[int]int{-1: 0, 0: 0, 1: 1, 2: 2, 3: 2, 511: 256, 512: 512, 700: 512, 1 << 20: 1 << 20} {
		assert.Equal(t, want, powerOfTwoAtMost(n), "n=%d", n)
	}
}
