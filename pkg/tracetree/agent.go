package tracetree

import (
	"fmt"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// AgentName returns the agent a span stands for, by the first matching rule
// of Agent Lightning's adapter (OpenAI Agents SDK, AgentOps, AutoGen,
// LangGraph, agent-framework, Weave), or "" when it is not an agent span.
func AgentName(s *model.Span) string {
	a := s.Attributes
	if v := str(a["agent.name"]); v != "" {
		return v
	}
	if str(a["agentops.span.kind"]) == "agent" {
		if v := str(a["operation.name"]); v != "" {
			return v
		}
	}
	for _, key := range []string{"recipient_agent_type", "langchain.chain.type", "executor.id"} {
		if v := str(a[key]); v != "" {
			return v
		}
	}
	if str(a["type"]) == "agent" {
		if v := str(a["agentlightning.operation.input.name"]); v != "" {
			return v
		}
	}
	if strings.HasPrefix(s.Name, "langchain.Chain.") {
		return str(a["lc_name"])
	}
	return ""
}

// str renders an attribute value as Python's str() would for the scalar
// types agents write; lists and missing values give "".
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case []any:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// ResponseID is the call's response id: the first string among
// gen_ai.response.id and agentlightning.operation.output.id.
func ResponseID(s *model.Span) string {
	for _, key := range []string{"gen_ai.response.id", "agentlightning.operation.output.id"} {
		if v, ok := s.Attributes[key].(string); ok && v != "" {
			return v
		}
	}
	return ""
}
