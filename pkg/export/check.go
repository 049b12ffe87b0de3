package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// CheckSFTLine reports why a line is not an OpenAI chat fine-tuning
// example, or nil when it is one: a "messages" list (and optionally
// "tools" and "parallel_tool_calls"); roles system, developer, user,
// assistant or tool, with system and developer messages only at the start;
// content a string or a list of typed parts, absent only on an assistant
// message that calls tools; tool_calls with an id, type "function" and
// function.arguments a JSON string; every tool message answering an
// earlier tool call by tool_call_id; and an assistant message last.
func CheckSFTLine(line []byte) error {
	var ex map[string]json.RawMessage
	if err := json.Unmarshal(line, &ex); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	for k := range ex {
		if k != "messages" && k != "tools" && k != "parallel_tool_calls" {
			return fmt.Errorf("unexpected key %q", k)
		}
	}
	if err := checkTools(ex["tools"]); err != nil {
		return err
	}
	var msgs []map[string]json.RawMessage
	if err := json.Unmarshal(ex["messages"], &msgs); err != nil || len(msgs) == 0 {
		return errors.New("messages: must be a non-empty list of objects")
	}
	calls := map[string]bool{}
	leading := true
	for i, m := range msgs {
		role, err := checkMessage(m, calls)
		if err != nil {
			return fmt.Errorf("messages[%d]: %w", i, err)
		}
		isSystem := role == "system" || role == "developer"
		if isSystem && !leading {
			return fmt.Errorf("messages[%d]: a %s message after the conversation started", i, role)
		}
		leading = leading && isSystem
		if i == len(msgs)-1 && role != "assistant" {
			return fmt.Errorf("messages[%d]: the last message is %s, not assistant", i, role)
		}
	}
	return nil
}

func checkTools(raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	var tools []struct {
		Type     string `json:"type"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &tools); err != nil {
		return errors.New("tools: must be a list")
	}
	for i, t := range tools {
		if t.Type != "function" || t.Function == nil || t.Function.Name == "" {
			return fmt.Errorf("tools[%d]: must be {\"type\":\"function\",\"function\":{\"name\":...}}", i)
		}
	}
	return nil
}

// checkMessage checks one message, recording the tool call ids it makes.
func checkMessage(m map[string]json.RawMessage, calls map[string]bool) (string, error) {
	for k := range m {
		switch k {
		case "role", "content", "name", "tool_calls", "tool_call_id", "weight":
		default:
			return "", fmt.Errorf("unexpected key %q", k)
		}
	}
	var role string
	if err := json.Unmarshal(m["role"], &role); err != nil {
		return "", errors.New("role: must be a string")
	}
	switch role {
	case "system", "developer", "user", "assistant", "tool":
	default:
		return "", fmt.Errorf("role: %q is not system, developer, user, assistant or tool", role)
	}
	hasCalls := false
	if raw, ok := m["tool_calls"]; ok {
		if role != "assistant" {
			return "", errors.New("tool_calls: only assistant messages call tools")
		}
		n, err := checkToolCalls(raw, calls)
		if err != nil {
			return "", err
		}
		hasCalls = n > 0
	}
	if err := checkContent(m["content"], role == "assistant" && hasCalls); err != nil {
		return "", err
	}
	if role == "tool" {
		var id string
		if err := json.Unmarshal(m["tool_call_id"], &id); err != nil || id == "" {
			return "", errors.New("tool_call_id: a tool message needs one")
		}
		if !calls[id] {
			return "", fmt.Errorf("tool_call_id: %q answers no earlier tool call", id)
		}
	}
	return role, nil
}

func checkToolCalls(raw json.RawMessage, calls map[string]bool) (int, error) {
	var tcs []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &tcs); err != nil {
		return 0, errors.New("tool_calls: must be a list of tool calls")
	}
	for i, tc := range tcs {
		var args string
		switch {
		case tc.ID == "":
			return 0, fmt.Errorf("tool_calls[%d].id: missing", i)
		case tc.Type != "function":
			return 0, fmt.Errorf("tool_calls[%d].type: %q, want function", i, tc.Type)
		case tc.Function.Name == "":
			return 0, fmt.Errorf("tool_calls[%d].function.name: missing", i)
		case json.Unmarshal(tc.Function.Arguments, &args) != nil:
			return 0, fmt.Errorf("tool_calls[%d].function.arguments: must be a JSON string", i)
		}
		calls[tc.ID] = true
	}
	return len(tcs), nil
}

func checkContent(raw json.RawMessage, optional bool) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		if optional {
			return nil
		}
		return errors.New("content: missing")
	}
	var s string
	if json.Unmarshal(t, &s) == nil {
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(t, &parts); err != nil {
		return errors.New("content: must be a string or a list of parts")
	}
	for i, p := range parts {
		if p.Type == "" {
			return fmt.Errorf("content[%d].type: missing", i)
		}
	}
	return nil
}
