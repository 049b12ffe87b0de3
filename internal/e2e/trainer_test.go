package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
)

// The trainer loop end to end: the real binary dispatches rollouts to the
// arithmetic example agent (examples/arithmetic-agent), which calls the
// deterministic mock model and exports its spans over OTLP.

const trainerTimeout = 3 * time.Minute

// buildAgent builds the example agent into a temporary directory.
func buildAgent(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "arithmetic-agent")
	cmd := exec.Command("go", "build", "-o", out, "./examples/arithmetic-agent")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the example agent: %v\n%s", err, msg)
	}
	return out
}

// startMockLLM serves the prompt-sensitive mock model and returns its API
// root (…/v1).
func startMockLLM(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(llmmock.New(llmmock.Options{Respond: llmmock.Arithmetic}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func trainerTestdata(name string) string { return testdataPath(filepath.Join("trainer", name)) }

// launchTrainer starts the collector with config/collector.yaml plus the
// overlay, the agent and the mock wired in through the environment.
func launchTrainer(t *testing.T, overlay, agent, llm string, env ...string) *managed {
	t.Helper()
	env = append(env,
		"LIGHTNING_AGENT="+agent,
		"LIGHTNING_LLM_ENDPOINT="+llm,
		"LIGHTNING_TESTDATA="+testdataPath("trainer"),
	)
	return launch(t, t.TempDir(), launchSpec{configs: []string{trainerTestdata(overlay)}, env: env})
}

// wireRolloutFull is a rollout with the fields these tests look at.
type wireRolloutFull struct {
	RolloutID string `json:"rollout_id"`
	Status    string `json:"status"`
	Attempt   *struct {
		AttemptID string         `json:"attempt_id"`
		Status    string         `json:"status"`
		WorkerID  *string        `json:"worker_id"`
		Metadata  map[string]any `json:"metadata"`
	} `json:"attempt"`
}

type wireAttemptFull struct {
	AttemptID  string         `json:"attempt_id"`
	SequenceID int            `json:"sequence_id"`
	Status     string         `json:"status"`
	Metadata   map[string]any `json:"metadata"`
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("decode GET %s: %v", url, err)
	}
}

func addResources(t *testing.T, c *collector, resources map[string]any) string {
	t.Helper()
	var out struct {
		ResourcesID string `json:"resources_id"`
	}
	postJSONStatus(t, c.api("/v1/agl/resources"), http.StatusCreated, resources, &out)
	return out.ResourcesID
}

func enqueueTasks(t *testing.T, c *collector, items ...map[string]any) []string {
	t.Helper()
	var out []wireRolloutFull
	postJSONStatus(t, c.api("/v1/agl/queues/rollouts/enqueue"), http.StatusCreated, map[string]any{"rollouts": items}, &out)
	ids := make([]string, len(out))
	for i, r := range out {
		ids[i] = r.RolloutID
	}
	return ids
}

func getRollout(t *testing.T, c *collector, id string) wireRolloutFull {
	t.Helper()
	var r wireRolloutFull
	getJSON(t, c.api("/v1/agl/rollouts/"+id), &r)
	return r
}

func waitRolloutStatus(t *testing.T, c *collector, id string, want ...string) wireRolloutFull {
	t.Helper()
	var last wireRolloutFull
	eventually(t, trainerTimeout, func() error {
		last = getRollout(t, c, id)
		for _, w := range want {
			if last.Status == w {
				return nil
			}
		}
		return notYet("rollout %s is %s, want %v", id, last.Status, want)
	})
	return last
}

func attemptsOf(t *testing.T, c *collector, id string) []wireAttemptFull {
	t.Helper()
	var p page[wireAttemptFull]
	getJSON(t, c.api("/v1/agl/rollouts/"+id+"/attempts"), &p)
	return p.Items
}

// rewardOf returns the value of the last reward span of a rollout.
func rewardOf(t *testing.T, c *collector, id string) (float64, bool) {
	t.Helper()
	spans := allSpans(t, c, id)
	for i := len(spans) - 1; i >= 0; i-- {
		if v, ok := spans[i].Attributes["agentlightning.reward.0.value"].(float64); ok {
			return v, true
		}
	}
	return 0, false
}

func agentResources(llm, prompt string) map[string]any {
	return map[string]any{
		"system_prompt": map[string]any{"resource_type": "prompt_template", "engine": "f-string", "template": prompt},
		"llm":           map[string]any{"resource_type": "llm", "endpoint": llm, "model": "llmmock"},
	}
}

func TestTrainerCommandDispatch(t *testing.T) {
	requireBinary(t)
	agent, llm := buildAgent(t), startMockLLM(t)
	m := launchTrainer(t, "command.yaml", agent, llm)
	c := m.collector
	addResources(t, c, agentResources(llm, "You are a calculator. "+llmmock.StepByStepInstruction))

	retry := map[string]any{"max_attempts": 2, "retry_condition": []string{"failed"}}
	ids := enqueueTasks(t, c,
		map[string]any{"input": map[string]any{"question": "What is 17 + 25?", "answer": 42}, "mode": "val"},
		map[string]any{"input": map[string]any{"behavior": "crash"}, "config": retry},
		map[string]any{"input": map[string]any{"behavior": "hang"}, "config": map[string]any{"timeout_seconds": 1}},
		map[string]any{"input": map[string]any{"behavior": "garbage"}},
	)
	good, crash, hang, garbage := ids[0], ids[1], ids[2], ids[3]

	t.Run("success with reward and agent spans", func(t *testing.T) {
		r := waitRolloutStatus(t, c, good, "succeeded", "failed")
		if r.Status != "succeeded" {
			t.Fatalf("rollout %s: %+v", r.Status, r.Attempt)
		}
		if v, ok := rewardOf(t, c, good); !ok || v != 1 {
			t.Errorf("reward = %v, %v; want 1", v, ok)
		}
		// The agent's model call arrives through the OTLP receiver and the
		// pipeline, filed under the rollout by OTEL_RESOURCE_ATTRIBUTES.
		eventually(t, dataTimeout, func() error {
			for _, s := range allSpans(t, c, good) {
				if s.Name == "chat llmmock" {
					if s.AttemptID != r.Attempt.AttemptID {
						return fmt.Errorf("chat span under attempt %s, want %s", s.AttemptID, r.Attempt.AttemptID)
					}
					return nil
				}
			}
			return notYet("no chat span yet")
		})
	})
	t.Run("crash is retried then fails, stderr kept", func(t *testing.T) {
		waitRolloutStatus(t, c, crash, "failed")
		atts := attemptsOf(t, c, crash)
		if len(atts) != 2 {
			t.Fatalf("%d attempts, want 2 (max_attempts)", len(atts))
		}
		for _, a := range atts {
			if a.Status != "failed" || a.Metadata["exit_code"] != float64(3) || a.Metadata["stderr"] != "agent crashed on purpose\n" {
				t.Errorf("attempt %d = %s %v", a.SequenceID, a.Status, a.Metadata)
			}
		}
	})
	t.Run("hang times out", func(t *testing.T) {
		waitRolloutStatus(t, c, hang, "failed")
		atts := attemptsOf(t, c, hang)
		if len(atts) != 1 || atts[0].Status != "timeout" {
			t.Errorf("attempts = %+v, want one timeout", atts)
		}
	})
	t.Run("garbage output succeeds without reward", func(t *testing.T) {
		r := waitRolloutStatus(t, c, garbage, "succeeded", "failed")
		if r.Status != "succeeded" {
			t.Fatalf("status %s", r.Status)
		}
		if _, ok := rewardOf(t, c, garbage); ok {
			t.Error("a reward span was stored for output that is not a number")
		}
		if r.Attempt.Metadata["reward_error"] == nil {
			t.Errorf("metadata %v lacks reward_error", r.Attempt.Metadata)
		}
	})
	t.Run("workers registered", func(t *testing.T) {
		var workers page[struct {
			WorkerID       string         `json:"worker_id"`
			HeartbeatStats map[string]any `json:"heartbeat_stats"`
		}]
		getJSON(t, c.api("/v1/agl/workers"), &workers)
		if len(workers.Items) != 3 {
			t.Fatalf("%d workers, want 3", len(workers.Items))
		}
		for _, w := range workers.Items {
			if w.HeartbeatStats["mode"] != "command" {
				t.Errorf("worker %s stats %v", w.WorkerID, w.HeartbeatStats)
			}
		}
	})
}

func TestTrainerShutdownRequeuesAndRestartFinishes(t *testing.T) {
	requireBinary(t)
	agent, llm := buildAgent(t), startMockLLM(t)
	m := launchTrainer(t, "command.yaml", agent, llm)
	addResources(t, m.collector, agentResources(llm, "You are a calculator."))
	id := enqueueTasks(t, m.collector, map[string]any{
		"input":  map[string]any{"question": "What is 2 + 3?", "answer": 5, "behavior": "hang_once"},
		"config": map[string]any{"max_attempts": 2, "retry_condition": []string{"failed"}},
	})[0]
	// The agent is running once it left its marker.
	eventually(t, trainerTimeout, func() error {
		if _, err := os.Stat(filepath.Join(m.DataDir, id)); err != nil {
			return notYet("agent not started: %v", err)
		}
		return nil
	})

	started := time.Now()
	m.stop(t)
	if d := time.Since(started); d > 15*time.Second {
		t.Errorf("shutdown took %s with a hanging agent; shutdown_grace is 1s", d)
	}
	m.restart(t)
	c := m.collector
	r := waitRolloutStatus(t, c, id, "succeeded", "failed")
	if r.Status != "succeeded" {
		t.Fatalf("after restart: %s", r.Status)
	}
	atts := attemptsOf(t, c, id)
	if len(atts) != 2 {
		t.Fatalf("%d attempts, want 2", len(atts))
	}
	if atts[0].Status != "failed" || atts[0].Metadata["error"] != "collector shutdown" {
		t.Errorf("first attempt = %s %v, want failed by the shutdown", atts[0].Status, atts[0].Metadata)
	}
	if v, ok := rewardOf(t, c, id); !ok || v != 1 {
		t.Errorf("reward = %v, %v", v, ok)
	}
}

// startAgentService runs the example agent in http dispatch mode and
// returns its URL.
func startAgentService(t *testing.T, agent string) string {
	t.Helper()
	cmd := exec.Command(agent, "-serve", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the agent service: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read the agent service's address: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "arithmetic-agent listening on ")
	if !ok {
		t.Fatalf("unexpected first line %q", line)
	}
	return url + "/"
}

// algorithmState is the part of GET /v1/lightning/algorithm the tests read.
type algorithmState struct {
	Name            string   `json:"name"`
	State           string   `json:"state"`
	Round           int      `json:"round"`
	Rounds          int      `json:"rounds"`
	BestScore       *float64 `json:"best_score"`
	BestResourcesID *string  `json:"best_resources_id"`
	BestPrompt      *string  `json:"best_prompt"`
	BaselineScore   *float64 `json:"baseline_score"`
	Error           *string  `json:"error"`
	History         []struct {
		Round       int     `json:"round"`
		Kind        string  `json:"kind"`
		Label       string  `json:"label"`
		ResourcesID string  `json:"resources_id"`
		Score       float64 `json:"score"`
		Rollouts    int     `json:"rollouts"`
	} `json:"history"`
	Report *struct {
		Mean     float64 `json:"mean"`
		Rollouts int     `json:"rollouts"`
		Finished int     `json:"finished"`
		Tasks    []struct {
			TaskID string  `json:"task_id"`
			Mean   float64 `json:"mean"`
		} `json:"tasks"`
	} `json:"report"`
}

func waitAlgorithm(t *testing.T, c *collector) algorithmState {
	t.Helper()
	var st algorithmState
	eventually(t, trainerTimeout, func() error {
		getJSON(t, c.api("/v1/lightning/algorithm"), &st)
		switch st.State {
		case "succeeded":
			return nil
		case "failed", "cancelled":
			t.Fatalf("algorithm %s: %v", st.State, deref(st.Error))
		}
		return notYet("algorithm %s, round %d/%d", st.State, st.Round, st.Rounds)
	})
	return st
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestTrainerHTTPDispatchEvaluate(t *testing.T) {
	requireBinary(t)
	agent, llm := buildAgent(t), startMockLLM(t)
	service := startAgentService(t, agent)
	m := launchTrainer(t, "http-evaluate.yaml", agent, llm, "LIGHTNING_AGENT_SERVICE="+service)
	st := waitAlgorithm(t, m.collector)
	if st.Report == nil {
		t.Fatal("no evaluation report")
	}
	// The seed prompt lacks the instruction: the mock gets the one-digit
	// questions right and the others wrong, every time.
	if st.Report.Rollouts != 8 || st.Report.Finished != 8 || st.Report.Mean != 0.5 {
		t.Errorf("report: %d rollouts, %d finished, mean %v; want 8, 8, 0.5", st.Report.Rollouts, st.Report.Finished, st.Report.Mean)
	}
	want := map[string]float64{"small-sum": 1, "small-product": 1, "large-sum": 0, "large-product": 0}
	for _, task := range st.Report.Tasks {
		if task.Mean != want[task.TaskID] {
			t.Errorf("task %s mean %v, want %v", task.TaskID, task.Mean, want[task.TaskID])
		}
	}
	if _, err := os.Stat(filepath.Join(m.DataDir, "algorithm-report.json")); err != nil {
		t.Errorf("report file: %v", err)
	}
}

// launchAPO runs the APO example: config/trainer-apo.yaml with the
// arithmetic agent against the mock LLM.
func launchAPO(t *testing.T) *managed {
	t.Helper()
	agent, llm := buildAgent(t), startMockLLM(t)
	return launch(t, t.TempDir(), launchSpec{
		configs: []string{filepath.Join(configDir, "trainer-apo.yaml")},
		replace: true,
		env: []string{
			"LIGHTNING_AGENT=" + agent,
			"LIGHTNING_LLM_ENDPOINT=" + llm,
			"LIGHTNING_APO_TRAIN=" + filepath.Join(repoRoot, "examples", "apo", "train.jsonl"),
			"LIGHTNING_APO_VAL=" + filepath.Join(repoRoot, "examples", "apo", "val.jsonl"),
		},
	})
}

func TestTrainerAPOExample(t *testing.T) {
	requireBinary(t)
	m := launchAPO(t)
	c := m.collector
	st := waitAlgorithm(t, c)
	for _, h := range st.History {
		if h.Kind == "baseline" || h.Kind == "leader" {
			t.Logf("round %d %-8s %-4s %s score %.3f over %d rollouts", h.Round, h.Kind, h.Label, h.ResourcesID, h.Score, h.Rollouts)
		}
	}
	if st.BaselineScore == nil || st.BestScore == nil || *st.BestScore <= *st.BaselineScore {
		t.Fatalf("no improvement: baseline %v, best %v", deref(st.BaselineScore), deref(st.BestScore))
	}
	if st.BestPrompt == nil || !strings.Contains(*st.BestPrompt, llmmock.StepByStepInstruction) {
		t.Errorf("best prompt %v lacks the instruction", deref(st.BestPrompt))
	}
	// Every candidate is a resources version over the API, and the best one
	// is now the latest.
	var res page[struct {
		ResourcesID string                    `json:"resources_id"`
		Version     int                       `json:"version"`
		Resources   map[string]map[string]any `json:"resources"`
	}]
	getJSON(t, c.api("/v1/agl/resources"), &res)
	if want := 1 + 2*2*2; len(res.Items) != want {
		t.Errorf("%d resources versions, want %d (seed + beam_width × branch_factor × rounds)", len(res.Items), want)
	}
	var latest struct {
		ResourcesID string `json:"resources_id"`
	}
	getJSON(t, c.api("/v1/agl/resources/latest"), &latest)
	if latest.ResourcesID != *st.BestResourcesID {
		t.Errorf("latest resources %s, want the best %s", latest.ResourcesID, *st.BestResourcesID)
	}
	if _, err := os.Stat(filepath.Join(m.DataDir, "algorithm-report.json")); err != nil {
		t.Errorf("report file: %v", err)
	}
}

func TestValidateTrainerAPOConfig(t *testing.T) {
	requireBinary(t)
	out, err := exec.Command(binary, "validate", "--config", filepath.Join(configDir, "trainer-apo.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("validate config/trainer-apo.yaml: %v\n%s", err, out)
	}
}
