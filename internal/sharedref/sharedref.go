// Package sharedref hands one value to the several instances the collector
// creates for one component id (one per signal, or per signal pair of a
// connector) and frees it with the last of them: what contrib's internal
// sharedcomponent does, which other modules cannot import, reduced to the
// reference count our components need.
package sharedref // import "github.com/otelcol-lightning/otelcol-lightning/internal/sharedref"

import (
	"sync"

	"go.opentelemetry.io/collector/component"
)

// Registry holds one value per component id.
type Registry[T any] struct {
	mu sync.Mutex
	m  map[component.ID]*entry[T]
}

type entry[T any] struct {
	value T
	refs  int
}

// Acquire returns the value of id, made by create on the first call, and
// counts one more holder.
func (r *Registry[T]) Acquire(id component.ID, create func() T) T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[component.ID]*entry[T]{}
	}
	e := r.m[id]
	if e == nil {
		e = &entry[T]{value: create()}
		r.m[id] = e
	}
	e.refs++
	return e.value
}

// Release counts one holder less; the last release forgets the value.
func (r *Registry[T]) Release(id component.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.m[id]; e != nil {
		if e.refs--; e.refs <= 0 {
			delete(r.m, id)
		}
	}
}
