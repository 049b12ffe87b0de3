package model

import (
	"encoding/json"
	"fmt"
)

// Resource type discriminators of the tunable-resources union.
const (
	ResourceLLM            = "llm"
	ResourceProxyLLM       = "proxy_llm"
	ResourcePromptTemplate = "prompt_template"
)

// LLM describes an LLM endpoint ("llm" or "proxy_llm").
type LLM struct {
	ResourceType       string          `json:"resource_type"`
	Endpoint           string          `json:"endpoint"`
	Model              string          `json:"model"`
	APIKey             *string         `json:"api_key"`
	SamplingParameters json.RawMessage `json:"sampling_parameters"`
}

// PromptTemplate is a tunable prompt.
type PromptTemplate struct {
	ResourceType string `json:"resource_type"`
	Template     string `json:"template"`
	Engine       string `json:"engine"`
}

// NamedResources maps a resource name to its JSON form, already normalised
// by NormalizeResources.
type NamedResources map[string]json.RawMessage

// ResourcesUpdate is one versioned snapshot of named resources.
type ResourcesUpdate struct {
	ResourcesID string         `json:"resources_id"`
	CreateTime  float64        `json:"create_time"`
	UpdateTime  float64        `json:"update_time"`
	Version     int            `json:"version"`
	Resources   NamedResources `json:"resources"`
}

// NormalizeResources validates each resource against the discriminated union
// and fills the defaults Pydantic would, so stored snapshots read back exactly
// as the Python server returns them.
func NormalizeResources(in NamedResources) (NamedResources, error) {
	out := make(NamedResources, len(in))
	for name, raw := range in {
		norm, err := normalizeResource(raw)
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", name, err)
		}
		out[name] = norm
	}
	return out, nil
}

func normalizeResource(raw json.RawMessage) (json.RawMessage, error) {
	var head struct {
		ResourceType *string `json:"resource_type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("not an object: %w", err)
	}
	if head.ResourceType == nil {
		return nil, fmt.Errorf("resource_type is required")
	}
	switch *head.ResourceType {
	case ResourceLLM, ResourceProxyLLM:
		var r LLM
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, err
		}
		if r.Endpoint == "" || r.Model == "" {
			return nil, fmt.Errorf("endpoint and model are required")
		}
		if len(r.SamplingParameters) == 0 || string(r.SamplingParameters) == "null" {
			r.SamplingParameters = json.RawMessage("{}")
		}
		return json.Marshal(r)
	case ResourcePromptTemplate:
		var r PromptTemplate
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, err
		}
		switch r.Engine {
		case "jinja", "f-string", "poml":
		default:
			return nil, fmt.Errorf("engine must be one of jinja, f-string, poml, got %q", r.Engine)
		}
		return json.Marshal(r)
	default:
		return nil, fmt.Errorf("unknown resource_type %q", *head.ResourceType)
	}
}
