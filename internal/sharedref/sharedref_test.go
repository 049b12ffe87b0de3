package sharedref

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/component"
)

func TestRegistry(t *testing.T) {
	var r Registry[*int]
	id := component.MustNewID("x")
	made := 0
	create := func() *int { made++; v := made; return &v }
	a := r.Acquire(id, create)
	b := r.Acquire(id, create)
	assert.Same(t, a, b, "one value per id")
	other := r.Acquire(component.MustNewIDWithName("x", "2"), create)
	assert.NotSame(t, a, other)
	r.Release(id)
	assert.Same(t, a, r.Acquire(id, create), "still held once")
	r.Release(id)
	r.Release(id)
	assert.NotSame(t, a, r.Acquire(id, create), "the last release freed it")
	r.Release(component.MustNewID("unknown")) // harmless
}
