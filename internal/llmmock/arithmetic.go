package llmmock

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The prompt-sensitive behaviour of Arithmetic, exported so tests and
// examples can state their expectations.
const (
	// StepByStepInstruction is the instruction that makes the mock solve
	// every arithmetic task; any system prompt containing "step by step"
	// (any case) counts.
	StepByStepInstruction = "Show your work step by step."
	// TemplateOpenTag and TemplateCloseTag delimit the prompt template in an
	// optimizer's request: a request containing them asks for a critique.
	TemplateOpenTag  = "<prompt_template>"
	TemplateCloseTag = "</prompt_template>"
	// CritiqueOpenTag marks a request that also carries a critique: it asks
	// for the edited template.
	CritiqueOpenTag = "<critique>"
)

// operation finds "A + B", "A - B", "A * B" or "A x B" in a question.
var operation = regexp.MustCompile(`(-?\d+)\s*([-+*x×])\s*(-?\d+)`)

// Arithmetic is a Respond function that makes the mock a tiny, fully
// predictable model whose quality depends on its prompt, so that a prompt
// optimizer has something real to find:
//
//   - A request whose messages contain a <critique> block (besides the
//     <prompt_template> block) is an optimizer's "apply the edit" call: the
//     reply is the template with StepByStepInstruction appended when the
//     critique asks for it, else the template unchanged.
//   - A request containing a <prompt_template> block is an optimizer's
//     "gradient" call: the reply is a critique that asks for
//     StepByStepInstruction, or says the template already has it.
//   - Otherwise the last user message is an arithmetic question ("What is
//     17 + 25?"). When the system prompt says "step by step", or both
//     operands are single digits, the answer is right; otherwise it is off
//     by one. The reply always ends with "The answer is N."
func Arithmetic(messages []Message) string {
	all := joinContents(messages)
	if template, ok := between(all, TemplateOpenTag, TemplateCloseTag); ok {
		if strings.Contains(all, CritiqueOpenTag) {
			return applyEdit(template, all)
		}
		return critique(template)
	}
	return answer(messages)
}

func critique(template string) string {
	if hasStepByStep(template) {
		return "- The template already asks the model to work step by step, which is what makes its answers right. Keep it unchanged."
	}
	return strings.Join([]string{
		"- Several answers are off by one: the model jumps to the result of multi-digit arithmetic without working it out.",
		`- Add this exact instruction to the template: "` + StepByStepInstruction + `"`,
		"- Keep the rest of the template, including every placeholder in braces.",
	}, "\n")
}

func applyEdit(template, request string) string {
	critiqueText, _ := between(request, CritiqueOpenTag, "</critique>")
	if hasStepByStep(template) || !strings.Contains(critiqueText, StepByStepInstruction) {
		return template
	}
	return strings.TrimRight(template, " \n") + "\n" + StepByStepInstruction
}

func answer(messages []Message) string {
	var system, question string
	for _, m := range messages {
		switch m.Role {
		case "system", "developer":
			system += m.Content + "\n"
		case "user":
			question = m.Content
		}
	}
	match := operation.FindStringSubmatch(question)
	if match == nil {
		return "I can only answer arithmetic questions such as: What is 17 + 25?"
	}
	a, errA := strconv.Atoi(match[1])
	b, errB := strconv.Atoi(match[3])
	if errA != nil || errB != nil {
		return "Those numbers are too large for me."
	}
	var result int
	var verb string
	switch match[2] {
	case "+":
		result, verb = a+b, "add"
	case "-":
		result, verb = a-b, "subtract"
	default:
		result, verb = a*b, "multiply by"
	}
	careful := hasStepByStep(system)
	if !careful && (abs(a) > 9 || abs(b) > 9) {
		return fmt.Sprintf("The answer is %d.", result+1)
	}
	if careful {
		return fmt.Sprintf("Step 1: start from %d. Step 2: %s %d. The answer is %d.", a, verb, b, result)
	}
	return fmt.Sprintf("The answer is %d.", result)
}

func hasStepByStep(s string) bool { return strings.Contains(strings.ToLower(s), "step by step") }

func joinContents(messages []Message) string {
	parts := make([]string, len(messages))
	for i, m := range messages {
		parts[i] = m.Content
	}
	return strings.Join(parts, "\n")
}

// between returns the text between the first open tag and the next close
// tag, trimmed.
func between(s, open, closing string) (string, bool) {
	_, rest, ok := strings.Cut(s, open)
	if !ok {
		return "", false
	}
	inner, _, ok := strings.Cut(rest, closing)
	if !ok {
		return "", false
	}
	return strings.TrimSpace(inner), true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
