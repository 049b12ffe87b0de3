package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// resources builds normalised NamedResources from name → JSON pairs.
func resources(t *testing.T, kv ...string) model.NamedResources {
	t.Helper()
	require.Zero(t, len(kv)%2)
	in := model.NamedResources{}
	for i := 0; i < len(kv); i += 2 {
		in[kv[i]] = raw(kv[i+1])
	}
	out, err := model.NormalizeResources(in)
	require.NoError(t, err)
	return out
}

func llm(endpoint, modelName string) string {
	return fmt.Sprintf(`{"resource_type":"llm","endpoint":%q,"model":%q,"sampling_parameters":{"temperature":0.7}}`, endpoint, modelName)
}

func prompt(template string) string {
	return fmt.Sprintf(`{"resource_type":"prompt_template","template":%q,"engine":"jinja"}`, template)
}

func (f *fixture) addResources(res model.NamedResources) *model.ResourcesUpdate {
	f.t.Helper()
	u, err := f.s.AddResources(f.ctx, res)
	require.NoError(f.t, err)
	require.NotNil(f.t, u)
	return u
}

func (f *fixture) updateResources(id string, res model.NamedResources) *model.ResourcesUpdate {
	f.t.Helper()
	u, err := f.s.UpdateResources(f.ctx, id, res)
	require.NoError(f.t, err)
	require.NotNil(f.t, u)
	return u
}

func (f *fixture) latestResources() *model.ResourcesUpdate {
	f.t.Helper()
	u, err := f.s.GetLatestResources(f.ctx)
	require.NoError(f.t, err)
	return u
}

func (f *fixture) resourcesByID(id string) *model.ResourcesUpdate {
	f.t.Helper()
	u, err := f.s.GetResources(f.ctx, id)
	require.NoError(f.t, err)
	return u
}

func (f *fixture) queryResources(q store.ResourcesQuery) model.Paginated[model.ResourcesUpdate] {
	f.t.Helper()
	p, err := f.s.QueryResources(f.ctx, q)
	require.NoError(f.t, err)
	return p
}

func resourcesIDs(us []model.ResourcesUpdate) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ResourcesID
	}
	return out
}

// requireSameResources compares two NamedResources as JSON, resource by resource.
func requireSameResources(t *testing.T, want, got model.NamedResources) {
	t.Helper()
	require.Len(t, got, len(want))
	for name, w := range want {
		require.Contains(t, got, name)
		require.JSONEq(t, string(w), string(got[name]), name)
	}
}

// testResources covers resource snapshots (spec §1.10, §2.3 resources,
// §6.4 rows "resources" and "resource versions").
func (s suite) testResources(t *testing.T) {
	t.Run("add resources generates an id, keeps the types and becomes latest", func(t *testing.T) {
		f := s.fresh(t)
		assert.Nil(t, f.latestResources())
		res := resources(t,
			"main_llm", `{"resource_type":"llm","endpoint":"http://localhost:8080/v1","model":"test-model","sampling_parameters":{"temperature":0.7}}`,
			"greeting", `{"resource_type":"prompt_template","template":"Hello {name}!","engine":"f-string"}`,
			"proxy", `{"resource_type":"proxy_llm","endpoint":"http://h:4000/v1","model":"m","api_key":"sk-1"}`,
		)
		u := f.addResources(res)
		assert.Regexp(t, resourcesIDPattern, u.ResourcesID)
		assert.Len(t, u.ResourcesID, 15)
		assert.Equal(t, 1, u.Version)
		assert.InDelta(t, f.now(), u.CreateTime, 1e-6)
		assert.InDelta(t, u.CreateTime, u.UpdateTime, 1e-9)
		requireSameResources(t, res, u.Resources)

		latest := f.latestResources()
		require.NotNil(t, latest)
		assert.Equal(t, u.ResourcesID, latest.ResourcesID)
		requireSameResources(t, res, latest.Resources)
		byID := f.resourcesByID(u.ResourcesID)
		require.NotNil(t, byID)
		assert.Equal(t, mustJSON(t, u), mustJSON(t, byID))
	})

	t.Run("each add gets a new id and the last one is latest", func(t *testing.T) {
		f := s.fresh(t)
		u1 := f.addResources(resources(t, "llm", llm("http://localhost:8080", "model-v1")))
		f.advance(1)
		u2 := f.addResources(resources(t, "llm", llm("http://localhost:8080", "model-v2")))
		assert.NotEqual(t, u1.ResourcesID, u2.ResourcesID)
		assert.Regexp(t, resourcesIDPattern, u2.ResourcesID)
		requireSameResources(t, resources(t, "llm", llm("http://localhost:8080", "model-v1")), f.resourcesByID(u1.ResourcesID).Resources)
		requireSameResources(t, resources(t, "llm", llm("http://localhost:8080", "model-v2")), f.resourcesByID(u2.ResourcesID).Resources)
		assert.Equal(t, u2.ResourcesID, f.latestResources().ResourcesID)
		assert.Equal(t, 1, u2.Version)
	})

	t.Run("query resources lists the history in insertion order", func(t *testing.T) {
		f := s.fresh(t)
		assert.Empty(t, f.queryResources(resourcesQuery()).Items)
		first := f.addResources(resources(t, "llm", llm("http://localhost:8080", "model-v1")))
		f.advance(1)
		second := f.updateResources("custom-snapshot", resources(t, "prompt", prompt("Hi {name}")))
		f.advance(1)
		third := f.addResources(resources(t, "llm", llm("http://localhost:8080", "model-v3")))
		got := f.queryResources(resourcesQuery())
		assert.Equal(t, []string{first.ResourcesID, second.ResourcesID, third.ResourcesID}, resourcesIDs(got.Items))
		assert.Equal(t, 3, got.Total)
		for _, u := range got.Items {
			assert.Positive(t, u.CreateTime)
			assert.Positive(t, u.UpdateTime)
			assert.GreaterOrEqual(t, u.Version, 1)
			assert.NotEmpty(t, u.Resources)
		}
	})

	t.Run("query resources filters, sorts and pages", func(t *testing.T) {
		f := s.fresh(t)
		for _, suffix := range []string{"alpha", "beta", "gamma"} {
			f.updateResources("manual-"+suffix, resources(t, "prompt", prompt(suffix)))
		}
		f.updateResources("other", resources(t, "prompt", prompt("x")))

		q := resourcesQuery()
		q.ResourcesIDContains = model.Ptr("beta")
		assert.Equal(t, []string{"manual-beta"}, resourcesIDs(f.queryResources(q).Items))

		q = resourcesQuery()
		q.ResourcesID = model.Ptr("manual-alpha")
		q.ResourcesIDContains = model.Ptr("manual")
		assert.Equal(t, []string{"manual-alpha"}, resourcesIDs(f.queryResources(q).Items))
		q.ResourcesIDContains = model.Ptr("beta")
		assert.Empty(t, f.queryResources(q).Items, "exact and contains are always ANDed")

		q = resourcesQuery()
		q.Page = sortedPage("resources_id", store.SortDesc, 1, 0)
		assert.Equal(t, []string{"other"}, resourcesIDs(f.queryResources(q).Items))
		q.Page = sortedPage("resources_id", store.SortDesc, 1, 1)
		assert.Equal(t, []string{"manual-gamma"}, resourcesIDs(f.queryResources(q).Items))

		q = resourcesQuery()
		q.ResourcesIDContains = model.Ptr("manual-")
		q.Page = sortedPage("resources_id", store.SortAsc, 2, 1)
		got := f.queryResources(q)
		assert.Equal(t, []string{"manual-beta", "manual-gamma"}, resourcesIDs(got.Items))
		assert.Equal(t, 2, got.Limit)
		assert.Equal(t, 1, got.Offset)
		assert.Equal(t, 3, got.Total)

		q = resourcesQuery()
		q.Page = sortedPage("resources_id", store.SortAsc, 1, 5)
		got = f.queryResources(q)
		assert.Empty(t, got.Items)
		assert.Equal(t, 4, got.Total)
	})

	t.Run("resources lifecycle with update", func(t *testing.T) {
		f := s.fresh(t)
		assert.Nil(t, f.latestResources())
		assert.Nil(t, f.resourcesByID("any-id"))
		v1res := resources(t, "main_llm", llm("http://localhost:8080/v1", "test-model-v1"))
		v1 := f.updateResources("v1", v1res)
		assert.Equal(t, "v1", v1.ResourcesID)
		assert.Equal(t, 1, v1.Version)
		assert.Equal(t, "v1", f.latestResources().ResourcesID)

		f.advance(1)
		v2res := resources(t, "main_llm", llm("http://localhost:8080/v2", "test-model-v2"))
		v2 := f.updateResources("v2", v2res)
		assert.Equal(t, "v2", v2.ResourcesID)
		requireSameResources(t, v2res, v2.Resources)
		assert.Equal(t, "v2", f.latestResources().ResourcesID)
		old := f.resourcesByID("v1")
		require.NotNil(t, old)
		requireSameResources(t, v1res, old.Resources)
	})

	t.Run("updating an older snapshot makes it latest again", func(t *testing.T) {
		f := s.fresh(t)
		a := f.addResources(resources(t, "p", prompt("a")))
		f.advance(1)
		f.addResources(resources(t, "p", prompt("b")))
		f.advance(1)
		f.updateResources(a.ResourcesID, resources(t, "p", prompt("a2")))
		assert.Equal(t, a.ResourcesID, f.latestResources().ResourcesID)
	})

	t.Run("update resources bumps the version and keeps the create time", func(t *testing.T) {
		f := s.fresh(t)
		u1 := f.addResources(resources(t, "main_llm", llm("http://localhost:8080", "test-model")))
		other := f.addResources(resources(t, "llm", llm("http://localhost:8080", "model-2")))
		prev := u1
		for version := 2; version <= 5; version++ {
			f.advance(0.01)
			u := f.updateResources(u1.ResourcesID, resources(t, "main_llm", llm("http://localhost:8080", fmt.Sprintf("test-model-v%d", version))))
			assert.Equal(t, u1.ResourcesID, u.ResourcesID)
			assert.Equal(t, version, u.Version)
			assert.InDelta(t, u1.CreateTime, u.CreateTime, 1e-9, "create time never changes")
			assert.Greater(t, u.UpdateTime, prev.UpdateTime)
			assert.InDelta(t, f.now(), u.UpdateTime, 1e-6)
			prev = u
		}
		stored := f.resourcesByID(u1.ResourcesID)
		assert.Equal(t, 5, stored.Version)
		assert.Equal(t, 1, f.resourcesByID(other.ResourcesID).Version)
	})

	t.Run("update resources accepts an empty set", func(t *testing.T) {
		f := s.fresh(t)
		u := f.updateResources("empty", model.NamedResources{})
		assert.Empty(t, u.Resources)
		got := f.resourcesByID("empty")
		require.NotNil(t, got)
		assert.Empty(t, got.Resources)
		assert.Contains(t, mustJSON(t, got), `"resources":{}`)
	})

	t.Run("rollouts inherit the latest resources unless given one", func(t *testing.T) {
		f := s.fresh(t)
		f.updateResources("current", resources(t, "greeting", prompt("Hello {name}!")))
		r1 := f.enqueue(`{"id":1}`)
		assert.Equal(t, model.Ptr("current"), r1.ResourcesID)
		r2 := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{"id":2}`), ResourcesID: model.Ptr("override")})
		assert.Equal(t, model.Ptr("override"), r2.ResourcesID)
		started := f.startRollout(`{}`)
		assert.Equal(t, model.Ptr("current"), started.ResourcesID)

		f.advance(1)
		f.updateResources("new", resources(t, "greeting", prompt("Hi {name}!")))
		r3 := f.enqueue(`{"id":3}`)
		assert.Equal(t, model.Ptr("new"), r3.ResourcesID)
		assert.Equal(t, model.Ptr("current"), f.mustRollout(r1.RolloutID).ResourcesID, "existing rollouts keep theirs")
	})
}
