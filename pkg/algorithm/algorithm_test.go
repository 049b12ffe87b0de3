package algorithm

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/dataset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/runner"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// scriptedAgent rewards each task with its "reward" field; "fail" tasks
// fail, tasks without a reward succeed without one.
func scriptedAgent() runner.Executor {
	return executorFunc(func(_ context.Context, job *runner.Job) runner.Result {
		var task struct {
			Reward *float64 `json:"reward"`
			Fail   bool     `json:"fail"`
		}
		if err := json.Unmarshal(job.Rollout.Input, &task); err != nil || task.Fail {
			return runner.Result{Status: model.AttemptFailed, Err: errors.New("scripted failure")}
		}
		return runner.Result{Status: model.AttemptSucceeded, Reward: task.Reward}
	})
}

type recordingMetrics struct {
	mu       sync.Mutex
	rollouts map[string]int
	scores   map[string][]float64
}

func (m *recordingMetrics) RolloutScored(id string, _ model.RolloutStatus, _ float64, _ bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rollouts == nil {
		m.rollouts = map[string]int{}
	}
	m.rollouts[id]++
}

func (m *recordingMetrics) ResourcesScored(id string, score float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.scores == nil {
		m.scores = map[string][]float64{}
	}
	m.scores[id] = append(m.scores[id], score)
}

func TestEvaluateReportsMeans(t *testing.T) {
	s := newStore(t)
	r := dispatch(t, s, scriptedAgent(), 3)
	tasks, err := dataset.Read(strings.NewReader(strings.Join([]string{
		`{"id": "one", "reward": 1}`,
		`{"id": "half", "reward": 0.5}`,
		`{"id": "broken", "fail": true}`,
		`{"id": "silent"}`,
	}, "\n")), "tasks.jsonl")
	require.NoError(t, err)
	metrics := &recordingMetrics{}
	var persisted atomic.Int64
	env := &Env{
		Store:        s,
		Dataset:      dataset.Dataset{Train: tasks[:2], Val: tasks[2:]},
		Resources:    model.NamedResources{"prompt": json.RawMessage(`{"resource_type":"prompt_template","template":"x","engine":"f-string"}`)},
		Progress:     NewProgress(NameEvaluate, func(Status) { persisted.Add(1) }),
		Metrics:      metrics,
		Notify:       r.Wake,
		RewardSettle: 50 * time.Millisecond,
	}
	require.NoError(t, NewEvaluate(EvaluateConfig{Repeats: 2}).Run(context.Background(), env))

	st := env.Progress.Snapshot()
	require.NotNil(t, st.Report)
	rep := st.Report
	assert.Equal(t, 8, rep.Rollouts)
	assert.Equal(t, 8, rep.Finished)
	assert.Equal(t, 6, rep.Succeeded)
	assert.Equal(t, 2, rep.Failed)
	assert.Equal(t, 4, rep.Rewarded)
	// Rewards 1,1,0.5,0.5,0,0,0,0: mean 0.375; population stddev.
	assert.InDelta(t, 0.375, rep.Mean, 1e-9)
	assert.InDelta(t, math.Sqrt((2*0.625*0.625+2*0.125*0.125+4*0.375*0.375)/8), rep.Stddev, 1e-9)
	byID := map[string]TaskReport{}
	for _, tr := range rep.Tasks {
		byID[tr.TaskID] = tr
	}
	assert.InDelta(t, 1, byID["one"].Mean, 1e-9)
	assert.InDelta(t, 0.5, byID["half"].Mean, 1e-9)
	assert.Zero(t, byID["broken"].Mean)
	assert.Equal(t, []*float64{nil, nil}, byID["silent"].Rewards)
	assert.Len(t, byID["one"].RolloutIDs, 2)

	assert.Equal(t, StateRunning, st.State, "Finish is the caller's")
	assert.Equal(t, 8, st.RolloutsDone)
	require.NotNil(t, st.BestScore)
	assert.InDelta(t, 0.375, *st.BestScore, 1e-9)
	require.Len(t, st.History, 1)
	assert.Equal(t, ScoreEvaluation, st.History[0].Kind)
	assert.Equal(t, rep.ResourcesID, *st.BestResourcesID)
	assert.Positive(t, persisted.Load())

	// The configured resources were published and used by every rollout.
	latest, err := s.GetLatestResources(context.Background())
	require.NoError(t, err)
	assert.Equal(t, latest.ResourcesID, rep.ResourcesID)
	assert.Equal(t, 8, metrics.rollouts[rep.ResourcesID])
	assert.Equal(t, []float64{0.375}, metrics.scores[rep.ResourcesID])

	ro, err := s.GetRollout(context.Background(), byID["one"].RolloutIDs[0])
	require.NoError(t, err)
	assert.Equal(t, model.ModeVal, *ro.Mode)
	assert.JSONEq(t, `{"task_id": "one", "algorithm": "evaluate"}`, string(ro.Metadata))
}

func TestEvaluateSplitAndErrors(t *testing.T) {
	s := newStore(t)
	env := &Env{Store: s, Dataset: dataset.Dataset{Train: arithmeticTasks("t", 1, 0)}, Progress: NewProgress(NameEvaluate, nil)}
	err := NewEvaluate(EvaluateConfig{Split: SplitVal}).Run(context.Background(), env)
	assert.ErrorContains(t, err, "the val split of the dataset is empty")
	err = NewEvaluate(EvaluateConfig{Split: "nope"}).Run(context.Background(), env)
	assert.ErrorContains(t, err, `unknown split "nope"`)
}

func TestEvaluateTimeoutCancelsUnfinished(t *testing.T) {
	s := newStore(t)
	// No dispatch: nothing ever runs.
	env := &Env{Store: s, Dataset: dataset.Dataset{Train: arithmeticTasks("t", 2, 0)}, Progress: NewProgress(NameEvaluate, nil)}
	require.NoError(t, NewEvaluate(EvaluateConfig{Timeout: 100 * time.Millisecond}).Run(context.Background(), env))
	rep := env.Progress.Snapshot().Report
	assert.Equal(t, 2, rep.Rollouts)
	assert.Zero(t, rep.Finished)
	for _, tr := range rep.Tasks {
		ro, err := s.GetRollout(context.Background(), tr.RolloutIDs[0])
		require.NoError(t, err)
		assert.Equal(t, model.RolloutCancelled, ro.Status)
	}
}

func TestAPOImprovesOnTheMock(t *testing.T) {
	s := newStore(t)
	llm, mock := mockLLM(t)
	r := dispatch(t, s, arithmeticAgent(s, llm), 4)
	seed := "You are a calculator. Answer the question with a number."
	env := &Env{
		Store: s,
		Dataset: dataset.Dataset{
			Train: arithmeticTasks("train", 3, 5),
			Val:   arithmeticTasks("val", 2, 4),
		},
		Resources: model.NamedResources{
			"system_prompt": json.RawMessage(`{"resource_type":"prompt_template","template":"` + seed + `","engine":"f-string"}`),
			"llm":           json.RawMessage(`{"resource_type":"llm","endpoint":"http://mock/v1","model":"agent","api_key":null,"sampling_parameters":{}}`),
		},
		LLM:          llm,
		Progress:     NewProgress(NameAPO, nil),
		Notify:       r.Wake,
		RewardSettle: 50 * time.Millisecond,
	}
	apo := NewAPO(APOConfig{BeamWidth: 2, BranchFactor: 2, BeamRounds: 2, GradientBatchSize: 3, ValBatchSize: 4, Seed: 7})
	require.NoError(t, apo.Run(context.Background(), env))

	st := env.Progress.Snapshot()
	require.NotNil(t, st.BaselineScore)
	require.NotNil(t, st.BestScore)
	t.Logf("baseline %.3f, best %.3f, %d history entries, %d model calls", *st.BaselineScore, *st.BestScore, len(st.History), mock.Calls())
	assert.InDelta(t, 2.0/6, *st.BaselineScore, 1e-9, "the seed only gets the small tasks right")
	assert.Greater(t, *st.BestScore, *st.BaselineScore)
	assert.InDelta(t, 1, *st.BestScore, 1e-9)
	require.NotNil(t, st.BestPrompt)
	assert.Contains(t, *st.BestPrompt, llmmock.StepByStepInstruction)
	assert.Contains(t, *st.BestPrompt, seed, "the edit keeps the seed's text")
	assert.Equal(t, 2, st.Rounds)
	assert.Equal(t, 2, st.Round)

	// Every candidate is its own resources snapshot, and the best one is
	// now the latest.
	labels := map[string]string{}
	for _, sc := range st.History {
		if sc.Label != "" {
			labels[sc.ResourcesID] = sc.Label
		}
	}
	page, err := s.QueryResources(context.Background(), store.ResourcesQuery{Page: store.AllPage()})
	require.NoError(t, err)
	assert.Len(t, page.Items, 1+2*2*2, "seed + beam width × branches × rounds")
	for _, snap := range page.Items {
		assert.Contains(t, labels, snap.ResourcesID)
		assert.Contains(t, string(snap.Resources["llm"]), "http://mock/v1", "other resources carried along")
	}
	latest, err := s.GetLatestResources(context.Background())
	require.NoError(t, err)
	assert.Equal(t, *st.BestResourcesID, latest.ResourcesID)
	assert.Equal(t, 2, latest.Version)

	kinds := map[string]int{}
	for _, sc := range st.History {
		kinds[sc.Kind]++
	}
	assert.Equal(t, 1, kinds[ScoreBaseline])
	assert.Equal(t, 2, kinds[ScoreLeader])
	assert.Equal(t, 2*2*2, kinds[ScoreParent])
	assert.Positive(t, kinds[ScoreCandidate])
}

func TestAPONeedsItsInputs(t *testing.T) {
	s := newStore(t)
	llm, _ := mockLLM(t)
	tasks := arithmeticTasks("t", 2, 0)
	tests := []struct {
		name string
		env  Env
		err  string
	}{
		{"no llm", Env{Dataset: dataset.Dataset{Train: tasks, Val: tasks}}, "optimizer model"},
		{"no val", Env{LLM: llm, Dataset: dataset.Dataset{Train: tasks}}, "training and validation tasks"},
		{"no prompt", Env{LLM: llm, Dataset: dataset.Dataset{Train: tasks, Val: tasks}}, "no prompt_template resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			env.Store, env.Progress = s, NewProgress(NameAPO, nil)
			assert.ErrorContains(t, NewAPO(APOConfig{}).Run(context.Background(), &env), tt.err)
		})
	}
}

func TestFindPrompt(t *testing.T) {
	res := model.NamedResources{
		"b_prompt": json.RawMessage(`{"resource_type":"prompt_template","template":"B","engine":"jinja"}`),
		"a_llm":    json.RawMessage(`{"resource_type":"llm","endpoint":"e","model":"m"}`),
		"c_prompt": json.RawMessage(`{"resource_type":"prompt_template","template":"C","engine":"f-string"}`),
	}
	name, p, err := findPrompt(res, "")
	require.NoError(t, err)
	assert.Equal(t, "b_prompt", name)
	assert.Equal(t, "jinja", p.Engine)
	name, p, err = findPrompt(res, "c_prompt")
	require.NoError(t, err)
	assert.Equal(t, "c_prompt", name)
	assert.Equal(t, "C", p.Template)
	_, _, err = findPrompt(res, "a_llm")
	assert.ErrorContains(t, err, "not a prompt_template")
	_, _, err = findPrompt(res, "zzz")
	assert.ErrorContains(t, err, "does not exist")
}

func TestBatcher(t *testing.T) {
	tasks := arithmeticTasks("t", 5, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	b := newBatcher(tasks, 2, rng)
	seen := map[string]int{}
	for range 2 {
		batch := b.next()
		require.Len(t, batch, 2)
		assert.NotEqual(t, batch[0].ID, batch[1].ID, "distinct within a batch")
		for _, tk := range batch {
			seen[tk.ID]++
		}
	}
	assert.Len(t, seen, 4, "no repeats within an epoch")
	big := newBatcher(tasks, 10, rng)
	assert.Len(t, big.next(), 5, "a batch larger than the data is all of it")
}

func TestCleanTemplate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  plain\n", "plain"},
		{"```\nfenced {q}\n```", "fenced {q}"},
		{"```text\nfenced\n```\n", "fenced"},
		{"<prompt_template>\ntagged\n</prompt_template>", "tagged"},
		{"", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, cleanTemplate(tt.in), "%q", tt.in)
	}
}

func TestGradientPromptCarriesTheTranscript(t *testing.T) {
	reward := 0.0
	spans := []model.Span{{Name: "chat m", Attributes: model.Attributes{
		"gen_ai.operation.name":  "chat",
		"gen_ai.input.messages":  `[{"role":"user","parts":[{"type":"text","content":"What is 10 + 25?"}]}]`,
		"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"The answer is 36."}]}]`,
	}}}
	msgs := gradientMessages(0, "Be exact.", []rolloutResult{{
		Task: dataset.Task{ID: "t", Input: json.RawMessage(`{"question":"What is 10 + 25?"}`)}, Status: model.RolloutSucceeded, Reward: &reward, Spans: spans,
	}})
	require.Len(t, msgs, 2)
	user := msgs[1].Content
	assert.Contains(t, user, "<prompt_template>\nBe exact.\n</prompt_template>")
	assert.Contains(t, user, `status="succeeded" reward="0"`)
	assert.Contains(t, user, "[user] What is 10 + 25?")
	assert.Contains(t, user, "[assistant] The answer is 36.")

	edit := editMessages(1, "Be exact.", "- add X")
	assert.Contains(t, edit[1].Content, "<critique>\n- add X\n</critique>")
}

func TestOpenAIClient(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		assert.Equal(t, "/v1/chat/completions", r.URL.Path)
		assert.Equal(t, "Bearer k", r.Header.Get("Authorization"))
		var req chatRequest
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		switch req.Model {
		case "flaky":
			if n == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte(`{"choices":[{"message":{"role":"assistant","content":"ok"}}]}`))
		case "bad":
			http.Error(w, `{"error":{"message":"no"}}`, http.StatusBadRequest)
		default:
			_, _ = w.Write([]byte(`{"choices":[]}`))
		}
	}))
	defer srv.Close()
	c := &OpenAIClient{HTTP: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, BaseURL: srv.URL + "/v1/", APIKey: "k", Retries: 1}
	out, err := c.Complete(context.Background(), "flaky", []ChatMessage{{Role: "user", Content: "hi"}}, 1)
	require.NoError(t, err)
	assert.Equal(t, "ok", out)
	assert.EqualValues(t, 2, calls.Load(), "a 503 is retried")

	calls.Store(0)
	_, err = c.Complete(context.Background(), "bad", nil, 1)
	assert.ErrorContains(t, err, "400")
	assert.EqualValues(t, 1, calls.Load(), "a 400 is not")
	_, err = c.Complete(context.Background(), "empty", nil, 1)
	assert.ErrorContains(t, err, "no message content")
}

func TestProgressFinishAndReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "report.json")
	var last Status
	p := NewProgress(NameEvaluate, func(s Status) { last = s })
	p.Start(3)
	p.SetBest(0.5, "rs-1", "prompt")
	p.Finish(context.Canceled)
	assert.Equal(t, StateCancelled, last.State)
	p.Finish(errors.New("boom"))
	assert.Equal(t, StateFailed, p.Snapshot().State)
	assert.Equal(t, "boom", *p.Snapshot().Error)
	p.Finish(nil)
	assert.Equal(t, StateSucceeded, p.Snapshot().State)

	require.NoError(t, WriteReport(path, p.Snapshot()))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var got Status
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Equal(t, "rs-1", *got.BestResourcesID)
	assert.Equal(t, "prompt", *got.BestPrompt)
	assert.Equal(t, 3, got.Rounds)
}
