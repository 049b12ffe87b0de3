package algorithm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// The optimizer's prompts. The template and the critique always travel in
// <prompt_template> and <critique> blocks, so that models (and the test
// mock) can find them whatever the surrounding wording.

// Limits that keep a critique request a reasonable size whatever the
// agent's transcripts look like.
const (
	maxTaskChars         = 2000
	maxMessageChars      = 1500
	maxMessagesPerResult = 12
)

// gradientPrompt is one wording of the "textual gradient" request.
type gradientPrompt struct {
	system string
	intro  string
	ask    string
}

var gradientPrompts = []gradientPrompt{
	{
		system: "You review the prompt templates that steer an AI agent. From a few recorded runs you work out why the agent earned the rewards it did and what in the template should change.",
		intro:  "The agent ran with the prompt template below. Higher rewards are better.",
		ask: "Write a critique of the template: a short bulleted list in which every bullet is one concrete change " +
			"to the template that would raise the reward on tasks like these, and that someone could check. " +
			"Base every bullet on the runs shown. Do not write the new template.",
	},
	{
		system: "You are an expert in prompt design. You diagnose failures of an agent from its transcripts and propose precise fixes to its prompt.",
		intro:  "Here is the current prompt template of an agent, followed by transcripts of runs that were scored with a reward (more is better).",
		ask: "List, as bullet points, the changes to the prompt template that would most increase the reward. " +
			"Each bullet must name a specific edit (what to add, remove or reword) and the failure it fixes. " +
			"Answer with the bullets only.",
	},
}

// editPrompt is one wording of the "apply the edit" request.
type editPrompt struct {
	system string
	ask    string
}

var editPrompts = []editPrompt{
	{
		system: "You revise prompt templates. You answer with the revised template and nothing else: no preamble, no explanation, no code fences.",
		ask:    "Rewrite the prompt template so that it follows every point of the critique.",
	},
	{
		system: "You are a careful editor of prompts for AI agents. Your answer is always the complete new prompt text, ready to use as is.",
		ask:    "Apply the critique to the prompt template and produce the improved template.",
	},
}

const editRules = "Keep every placeholder in braces (such as {question}) exactly as written, keep what already works, " +
	"and answer with the new template text only."

// gradientMessages renders the critique request for a template and the
// results of running it.
func gradientMessages(variant int, template string, results []rolloutResult) []ChatMessage {
	p := gradientPrompts[variant%len(gradientPrompts)]
	var b strings.Builder
	b.WriteString(p.intro)
	b.WriteString("\n\n<prompt_template>\n")
	b.WriteString(template)
	b.WriteString("\n</prompt_template>\n\n")
	fmt.Fprintf(&b, "Runs (%d):\n\n", len(results))
	for i, r := range results {
		writeResult(&b, i+1, r)
	}
	b.WriteString(p.ask)
	return []ChatMessage{{Role: "system", Content: p.system}, {Role: "user", Content: b.String()}}
}

func writeResult(b *strings.Builder, index int, r rolloutResult) {
	reward := "none"
	if r.Reward != nil {
		reward = strconv.FormatFloat(*r.Reward, 'g', 6, 64)
	}
	fmt.Fprintf(b, "<run index=\"%d\" status=\"%s\" reward=\"%s\">\n", index, r.Status, reward)
	b.WriteString("<task>\n")
	b.WriteString(truncate(string(model.RawOrNull(r.Task.Input)), maxTaskChars))
	b.WriteString("\n</task>\n")
	if msgs := conversation(r.Spans); len(msgs) > 0 {
		b.WriteString("<transcript>\n")
		for _, m := range msgs {
			fmt.Fprintf(b, "[%s] %s\n", m.Role, truncate(m.Content, maxMessageChars))
		}
		b.WriteString("</transcript>\n")
	}
	b.WriteString("</run>\n\n")
}

// conversation recovers the agent's LLM conversation from its spans (what
// Agent Lightning's TraceToMessages adapter gives APO): the prompt and
// answer of the last LLM call, whose prompt usually holds the earlier
// turns, in any instrumentation convention the genai parser knows.
func conversation(spans []model.Span) []ChatMessage {
	for i := len(spans) - 1; i >= 0; i-- {
		if !genai.IsLLMCallSpan(spans[i]) {
			continue
		}
		call, _ := genai.ParseSpan(spans[i])
		if call == nil || !call.HasContent() {
			continue
		}
		var out []ChatMessage
		for _, m := range call.Conversation() {
			text := m.Content.String()
			if text == "" && len(m.ToolCalls) > 0 {
				calls, _ := json.Marshal(m.ToolCalls)
				text = "tool calls: " + string(calls)
			}
			out = append(out, ChatMessage{Role: m.Role, Content: text})
		}
		if len(out) > maxMessagesPerResult {
			out = out[len(out)-maxMessagesPerResult:]
		}
		return out
	}
	return nil
}

// editMessages renders the request that applies a critique.
func editMessages(variant int, template, critique string) []ChatMessage {
	p := editPrompts[variant%len(editPrompts)]
	var b strings.Builder
	b.WriteString(p.ask)
	b.WriteString("\n\n<prompt_template>\n")
	b.WriteString(template)
	b.WriteString("\n</prompt_template>\n\n<critique>\n")
	b.WriteString(critique)
	b.WriteString("\n</critique>\n\n")
	b.WriteString(editRules)
	return []ChatMessage{{Role: "system", Content: p.system}, {Role: "user", Content: b.String()}}
}

// cleanTemplate strips what models wrap a template in despite being asked
// not to: code fences and echoed <prompt_template> tags.
func cleanTemplate(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "```") {
		if nl := strings.IndexByte(s, '\n'); nl >= 0 {
			s = s[nl+1:]
		} else {
			s = strings.TrimPrefix(s, "```")
		}
		s = strings.TrimSuffix(strings.TrimSpace(s), "```")
	}
	s = strings.TrimSpace(s)
	if inner, ok := strings.CutPrefix(s, "<prompt_template>"); ok {
		s, _ = strings.CutSuffix(strings.TrimSpace(inner), "</prompt_template>")
	}
	return strings.TrimSpace(s)
}
