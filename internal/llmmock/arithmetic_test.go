package llmmock

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArithmeticAnswers(t *testing.T) {
	tests := []struct {
		name, system, question, want string
	}{
		{"small operands right without the instruction", "You are a calculator.", "What is 3 + 4?", "The answer is 7."},
		{"large operands wrong without the instruction", "You are a calculator.", "What is 17 + 25?", "The answer is 43."},
		{"large operands right with the instruction", "You are a calculator.\nShow your work step by step.", "What is 17 + 25?", "Step 1: start from 17. Step 2: add 25. The answer is 42."},
		{"any case counts", "Work STEP BY STEP.", "What is 12 * 11?", "Step 1: start from 12. Step 2: multiply by 11. The answer is 132."},
		{"subtraction", "", "What is 30 - 45?", "The answer is -14."},
		{"x as times", "step by step", "Compute 13 x 3", "Step 1: start from 13. Step 2: multiply by 3. The answer is 39."},
		{"not arithmetic", "", "Hello", "I can only answer arithmetic questions such as: What is 17 + 25?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := []Message{{Role: "user", Content: tt.question}}
			if tt.system != "" {
				msgs = append([]Message{{Role: "system", Content: tt.system}}, msgs...)
			}
			assert.Equal(t, tt.want, Arithmetic(msgs))
		})
	}
}

func TestArithmeticOptimizerCalls(t *testing.T) {
	seed := "You are a calculator. Answer {question}."
	gradient := Arithmetic([]Message{{Role: "user", Content: "Critique this.\n" + TemplateOpenTag + "\n" + seed + "\n" + TemplateCloseTag + "\nResults: reward 0"}})
	assert.Contains(t, gradient, StepByStepInstruction, "the critique names the instruction")

	edited := Arithmetic([]Message{
		{Role: "system", Content: "You edit prompts."},
		{Role: "user", Content: TemplateOpenTag + seed + TemplateCloseTag + "\n" + CritiqueOpenTag + gradient + "</critique>"},
	})
	assert.Equal(t, seed+"\n"+StepByStepInstruction, edited)

	assert.Contains(t, Arithmetic([]Message{{Role: "user", Content: TemplateOpenTag + edited + TemplateCloseTag}}), "Keep it unchanged")
	unchanged := Arithmetic([]Message{{Role: "user", Content: TemplateOpenTag + seed + TemplateCloseTag + CritiqueOpenTag + "Be nicer.</critique>"}})
	assert.Equal(t, seed, unchanged, "an edit follows its critique")
}

func TestRespondOption(t *testing.T) {
	h := New(Options{Respond: Arithmetic, Now: fixedNow})
	rec := post(t, h, `{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"Go step by step."}]},{"role":"user","content":"What is 20 + 22?"}],"return_token_ids":true}`)
	require.Equal(t, http.StatusOK, rec.Code)
	var resp ChatCompletion
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	want := "Step 1: start from 20. Step 2: add 22. The answer is 42."
	assert.Equal(t, want, resp.Choices[0].Message.Content)
	assert.Equal(t, TokenIDs(want), resp.Choices[0].TokenIDs)
	assert.Equal(t, TokenIDs("system: Go step by step.\nuser: What is 20 + 22?"), resp.PromptTokenIDs)
}
