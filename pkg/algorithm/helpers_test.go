package algorithm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/dataset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/runner"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newStore(t *testing.T) *store.Core {
	t.Helper()
	core := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { _ = core.Close() })
	return core
}

// dispatch runs in-process workers over s with exec, stopped at cleanup.
func dispatch(t *testing.T, s store.Store, exec runner.Executor, workers int) *runner.Runner {
	t.Helper()
	r := runner.New(s, exec, runner.Config{Mode: "test", Workers: workers, WorkerIDPrefix: "test", PollInterval: 20 * time.Millisecond}, nil, nil)
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, r.Stop(context.Background())) })
	return r
}

// executorFunc adapts a function to runner.Executor.
type executorFunc func(ctx context.Context, job *runner.Job) runner.Result

func (f executorFunc) Execute(ctx context.Context, job *runner.Job) runner.Result { return f(ctx, job) }

// mockLLM serves llmmock with the arithmetic behaviour and returns a client
// for it.
func mockLLM(t *testing.T) (*OpenAIClient, *llmmock.Handler) {
	t.Helper()
	h := llmmock.New(llmmock.Options{Respond: llmmock.Arithmetic})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	return &OpenAIClient{HTTP: client, BaseURL: srv.URL + "/v1"}, h
}

var lastNumber = regexp.MustCompile(`-?\d+`)

// arithmeticAgent is the agent of the APO tests: it asks the model the
// task's question under the rollout's prompt template, records the LLM
// call as a span (OTel GenAI attributes) and is rewarded 1 for the right
// answer, 0 otherwise.
func arithmeticAgent(s store.Store, llm ChatClient) runner.Executor {
	return executorFunc(func(ctx context.Context, job *runner.Job) runner.Result {
		var task struct {
			Question string `json:"question"`
			Answer   int    `json:"answer"`
		}
		if err := json.Unmarshal(job.Rollout.Input, &task); err != nil {
			return runner.Result{Status: model.AttemptFailed, Err: err}
		}
		_, prompt, err := findPrompt(job.Resources, "")
		if err != nil {
			return runner.Result{Status: model.AttemptFailed, Err: err}
		}
		msgs := []ChatMessage{{Role: "system", Content: prompt.Template}, {Role: "user", Content: task.Question}}
		reply, err := llm.Complete(ctx, "agent", msgs, 0)
		if err != nil {
			return runner.Result{Status: model.AttemptFailed, Err: err}
		}
		if err := addChatSpan(ctx, s, job, msgs, reply); err != nil {
			return runner.Result{Status: model.AttemptFailed, Err: err}
		}
		reward := 0.0
		if nums := lastNumber.FindAllString(reply, -1); len(nums) > 0 && nums[len(nums)-1] == strconv.Itoa(task.Answer) {
			reward = 1
		}
		return runner.Result{Status: model.AttemptSucceeded, Reward: &reward}
	})
}

func addChatSpan(ctx context.Context, s store.Store, job *runner.Job, msgs []ChatMessage, reply string) error {
	type part struct {
		Type    string `json:"type"`
		Content string `json:"content"`
	}
	type message struct {
		Role  string `json:"role"`
		Parts []part `json:"parts"`
	}
	in := make([]message, len(msgs))
	for i, m := range msgs {
		in[i] = message{Role: m.Role, Parts: []part{{Type: "text", Content: m.Content}}}
	}
	inJSON, _ := json.Marshal(in)
	outJSON, _ := json.Marshal([]message{{Role: "assistant", Parts: []part{{Type: "text", Content: reply}}}})
	ids, err := s.NextSequenceIDs(ctx, []store.SequenceKey{{RolloutID: job.Rollout.RolloutID, AttemptID: job.Attempt.AttemptID}})
	if err != nil {
		return err
	}
	_, err = s.AddSpan(ctx, model.Span{
		RolloutID: job.Rollout.RolloutID, AttemptID: job.Attempt.AttemptID, SequenceID: ids[0],
		TraceID: fmt.Sprintf("%032x", ids[0]), SpanID: fmt.Sprintf("%016x", ids[0]), Name: "chat agent",
		Status: model.TraceStatus{StatusCode: model.StatusOK},
		Attributes: model.Attributes{
			"gen_ai.operation.name":  "chat",
			"gen_ai.request.model":   "agent",
			"gen_ai.input.messages":  string(inJSON),
			"gen_ai.output.messages": string(outJSON),
		},
		Events: []model.Event{}, Links: []model.Link{},
	})
	return err
}

// arithmeticTasks makes tasks "What is a + b?"; small ones (both operands
// single-digit) the mock gets right with any prompt, large ones only when
// told to work step by step.
func arithmeticTasks(prefix string, small, large int) []dataset.Task {
	var out []dataset.Task
	add := func(a, b int) {
		input, _ := json.Marshal(map[string]any{"question": fmt.Sprintf("What is %d + %d?", a, b), "answer": a + b})
		out = append(out, dataset.Task{ID: fmt.Sprintf("%s-%d", prefix, len(out)+1), Input: input})
	}
	for i := range small {
		add(i+1, 2)
	}
	for i := range large {
		add(10+i*7, 25+i)
	}
	return out
}
