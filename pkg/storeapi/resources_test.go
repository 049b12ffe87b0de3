package storeapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var exampleResources = map[string]any{
	"main_llm": map[string]any{
		"resource_type": "proxy_llm", "endpoint": "http://10.0.0.5:4000/v1", "model": "Qwen/Qwen2.5-1.5B-Instruct",
		"api_key": nil, "sampling_parameters": map[string]any{"temperature": 0.7},
	},
	"system_prompt": map[string]any{"resource_type": "prompt_template", "template": "You are a helpful assistant. {question}", "engine": "f-string"},
}

func TestResources(t *testing.T) {
	api := newTestAPI(t)
	assert.Nil(t, api.get("/resources/latest").expect(http.StatusOK), "no resources yet")
	assert.Nil(t, api.get("/resources/any-id").expect(http.StatusOK))

	added := api.post("/resources", exampleResources).object(http.StatusCreated)
	id := added["resources_id"].(string)
	assert.True(t, strings.HasPrefix(id, "rs-"))
	assert.Len(t, id, 15)
	assert.EqualValues(t, 1, added["version"])
	assert.Equal(t, added["create_time"], added["update_time"])
	assert.Equal(t, exampleResources, added["resources"])

	llmOnly := api.post("/resources", map[string]any{"llm": map[string]any{"resource_type": "llm", "endpoint": "http://x", "model": "m"}}).object(http.StatusCreated)
	assert.Equal(t, map[string]any{"resource_type": "llm", "endpoint": "http://x", "model": "m", "api_key": nil, "sampling_parameters": map[string]any{}},
		dig(llmOnly, "resources", "llm"), "defaults filled in as Pydantic would")
	assert.Equal(t, llmOnly, api.get("/resources/latest").object(http.StatusOK), "the last add is the latest")
	assert.Equal(t, added, api.get("/resources/"+id).object(http.StatusOK))

	v2 := api.post("/resources/"+id, map[string]any{}).object(http.StatusOK)
	assert.EqualValues(t, 2, v2["version"])
	assert.Equal(t, added["create_time"], v2["create_time"])
	assert.Equal(t, map[string]any{}, v2["resources"])
	assert.Equal(t, id, api.get("/resources/latest").object(http.StatusOK)["resources_id"], "an update makes it the latest")

	named := api.post("/resources/latest", exampleResources).object(http.StatusOK)
	assert.Equal(t, "latest", named["resources_id"], "POST /resources/latest is an upsert of the id \"latest\"")
	assert.EqualValues(t, 1, named["version"])

	// A rollout created without resources_id is stamped with the latest.
	r := api.enqueue(map[string]any{"input": 0})
	assert.Equal(t, "latest", api.get("/rollouts/" + r[0]).object(http.StatusOK)["resources_id"])
}

func TestQueryResources(t *testing.T) {
	api := newTestAPI(t)
	for _, id := range []string{"test-resource-001", "test-resource-002", "prod-resource-003", "prod-app-002", "prod-app-001", "prod-db-001"} {
		api.post("/resources/"+id, exampleResources).expect(http.StatusOK)
	}
	assert.ElementsMatch(t, []string{"test-resource-001", "test-resource-002"}, column(api.get("/resources?resources_id_contains=test-").page(-1, 0, 2), "resources_id"))
	assert.Equal(t, []string{"prod-resource-003"}, column(api.get("/resources?resources_id_contains=-003").page(-1, 0, 1), "resources_id"))
	assert.Equal(t, []string{"prod-app-001"}, column(api.get("/resources?resources_id=prod-app-001&resources_id_contains=prod").page(-1, 0, 1), "resources_id"))

	sorted := api.get("/resources?resources_id_contains=prod-&sort_by=resources_id&sort_order=asc&limit=2&offset=0").page(2, 0, 4)
	assert.Equal(t, []string{"prod-app-001", "prod-app-002"}, column(sorted, "resources_id"))
	rest := api.get("/resources?resources_id_contains=prod-&sort_by=resources_id&sort_order=asc&limit=2&offset=2").page(2, 2, 4)
	assert.Equal(t, []string{"prod-db-001", "prod-resource-003"}, column(rest, "resources_id"))
	assert.Len(t, api.get("/resources").page(-1, 0, 6), 6)
	assert.Equal(t, "test-resource-001", api.get("/resources?limit=1").page(1, 0, 6)[0]["resources_id"], "insertion order by default")

	assert.True(t, strings.HasPrefix(api.get("/resources?sort_by=name").detail(http.StatusBadRequest), "Invalid sort_by: name, allowed fields are: resources_id, create_time"))
	assert.Equal(t, "Limit must be greater than 0 or -1 for no limit", api.get("/resources?limit=0").detail(http.StatusBadRequest))
}

func TestResourcesValidation(t *testing.T) {
	api := newTestAPI(t)
	cases := []struct {
		name string
		body any
		want []map[string]any
	}{
		{
			name: "unknown resource type",
			body: map[string]any{"x": map[string]any{"resource_type": "gpu"}},
			want: []map[string]any{{
				"type": "union_tag_invalid", "loc": []any{"body", "x"},
				"msg":   "Input tag 'gpu' found using 'resource_type' does not match any of the expected tags: 'llm', 'proxy_llm', 'prompt_template'",
				"input": map[string]any{"resource_type": "gpu"},
				"ctx":   map[string]any{"discriminator": "'resource_type'", "tag": "gpu", "expected_tags": "'llm', 'proxy_llm', 'prompt_template'"},
			}},
		},
		{
			name: "missing discriminator",
			body: map[string]any{"x": map[string]any{"model": "m"}},
			want: []map[string]any{{
				"type": "union_tag_not_found", "loc": []any{"body", "x"}, "msg": "Unable to extract tag using discriminator 'resource_type'",
				"input": map[string]any{"model": "m"}, "ctx": map[string]any{"discriminator": "'resource_type'"},
			}},
		},
		{
			name: "prompt template without engine",
			body: map[string]any{"p": map[string]any{"resource_type": "prompt_template", "template": "t", "engine": "mustache"}},
			want: []map[string]any{{
				"type": "literal_error", "loc": []any{"body", "p", "prompt_template", "engine"}, "msg": "Input should be 'jinja', 'f-string' or 'poml'",
				"input": "mustache", "ctx": map[string]any{"expected": "'jinja', 'f-string' or 'poml'"},
			}},
		},
		{
			name: "llm without model",
			body: map[string]any{"l": map[string]any{"resource_type": "llm", "endpoint": "e"}},
			want: []map[string]any{{
				"type": "missing", "loc": []any{"body", "l", "llm", "model"}, "msg": "Field required",
				"input": map[string]any{"resource_type": "llm", "endpoint": "e"},
			}},
		},
		{
			name: "not a map",
			body: []any{},
			want: []map[string]any{{"type": "dict_type", "loc": []any{"body"}, "msg": "Input should be a valid dictionary", "input": []any{}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, api.post("/resources", tc.body).validation())
		})
	}
	require.Equal(t, "missing", api.do(http.MethodPost, "/resources", nil).validation()[0]["type"])
	assert.Equal(t, []any{}, api.get("/resources").object(http.StatusOK)["items"], "nothing was stored")
}
