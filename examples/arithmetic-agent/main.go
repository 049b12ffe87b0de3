// Command arithmetic-agent is a small agent for the collector's trainer
// loop. It answers arithmetic questions with an OpenAI-compatible model,
// traces the model call with the OpenTelemetry Go SDK (GenAI semantic
// conventions) and scores itself: reward 1 for the right answer, 0 for a
// wrong one. It imports nothing from Agent Lightning or the collector.
//
// Run by command dispatch (one process per rollout):
//
//	arithmetic-agent < task.json
//
// it reads the task ({"question": "What is 17 + 25?", "answer": 42}) on
// stdin, the rollout's resources from AGL_RESOURCES (a prompt_template for
// the system prompt, an llm for the endpoint and model), exports its spans
// to OTEL_EXPORTER_OTLP_ENDPOINT with the rollout and attempt ids that
// OTEL_RESOURCE_ATTRIBUTES carries, and prints the reward as its last
// stdout line (configure the dispatcher with reward_from_stdout: true).
//
// Run as an agent service for http dispatch:
//
//	arithmetic-agent -serve 127.0.0.1:8080
//
// it answers POST / with the rollout JSON the dispatcher sends
// ({"rollout_id", "attempt_id", "input", "resources", "otlp_endpoint", ...})
// and replies {"reward": r}; its spans carry the ids as span attributes and
// go to OTEL_EXPORTER_OTLP_ENDPOINT, or, when that is unset, to the
// otlp_endpoint of the first rollout it receives.
//
// With -emit-reward the agent also records its reward in its trace, as an
// OpenTelemetry gen_ai.evaluation.result event that the collector's reward
// processor turns into an Agent Lightning reward.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func main() {
	serve := flag.String("serve", "", "serve http dispatch on this address instead of reading one task from stdin")
	emitReward := flag.Bool("emit-reward", false, "also record the reward as a gen_ai.evaluation.result span event")
	flag.Parse()
	a := &agent{emitReward: *emitReward, http: &http.Client{Timeout: 60 * time.Second}}
	var err error
	if *serve != "" {
		err = a.serve(*serve)
	} else {
		err = a.runOnce()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "arithmetic-agent:", err)
		os.Exit(1)
	}
}

type agent struct {
	emitReward bool
	http       *http.Client

	tracingOnce sync.Once
	tracer      trace.Tracer
	shutdown    func(context.Context) error
	tracingErr  error
}

// task is one dataset line.
type task struct {
	Question string `json:"question"`
	Answer   *int   `json:"answer"`
}

// rollout is what one run needs: the task, the resources and, in service
// mode, the ids to put on the spans.
type rollout struct {
	Task      task
	Resources map[string]json.RawMessage
	RolloutID string
	AttemptID string
}

// setupTracing exports spans over OTLP/HTTP; endpoint and resource
// attributes come from the standard OTEL_* variables, and endpoint (a base
// URL such as http://localhost:4318) is used when the variables name none.
func (a *agent) setupTracing(ctx context.Context, endpoint string) (func(context.Context) error, error) {
	var opts []otlptracehttp.Option
	if endpoint != "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimRight(endpoint, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create the OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "arithmetic-agent")),
		resource.WithFromEnv(), // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME win
	)
	if err != nil {
		return nil, fmt.Errorf("build the OTel resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	a.tracer = tp.Tracer("arithmetic-agent")
	return tp.Shutdown, nil
}

// runOnce is command mode.
func (a *agent) runOnce() error {
	ctx := context.Background()
	var r rollout
	input, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		return fmt.Errorf("read the task: %w", err)
	}
	if err := json.Unmarshal(input, &r.Task); err != nil {
		return fmt.Errorf("decode the task %q: %w", input, err)
	}
	if env := os.Getenv("AGL_RESOURCES"); env != "" {
		if err := json.Unmarshal([]byte(env), &r.Resources); err != nil {
			return fmt.Errorf("decode AGL_RESOURCES: %w", err)
		}
	}
	shutdown, err := a.setupTracing(ctx, "")
	if err != nil {
		return err
	}
	reward, runErr := a.run(ctx, r)
	// Flush before exiting: the collector reads the spans after the exit.
	flushCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := errors.Join(runErr, shutdown(flushCtx)); err != nil {
		return err
	}
	fmt.Println(strconv.FormatFloat(reward, 'g', -1, 64))
	return nil
}

// serve is http dispatch mode.
func (a *agent) serve(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", a.handleRollout)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("arithmetic-agent listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(stopCtx)
	if a.shutdown != nil {
		err = errors.Join(err, a.shutdown(stopCtx))
	}
	return err
}

func (a *agent) handleRollout(w http.ResponseWriter, req *http.Request) {
	var body struct {
		RolloutID    string                     `json:"rollout_id"`
		AttemptID    string                     `json:"attempt_id"`
		Input        task                       `json:"input"`
		Resources    map[string]json.RawMessage `json:"resources"`
		OTLPEndpoint string                     `json:"otlp_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&body); err != nil {
		http.Error(w, "decode the rollout: "+err.Error(), http.StatusBadRequest)
		return
	}
	a.tracingOnce.Do(func() {
		// Lives as long as the service, not the request.
		a.shutdown, a.tracingErr = a.setupTracing(context.Background(), body.OTLPEndpoint)
	})
	if a.tracingErr != nil {
		http.Error(w, a.tracingErr.Error(), http.StatusInternalServerError)
		return
	}
	reward, err := a.run(req.Context(), rollout{Task: body.Input, Resources: body.Resources, RolloutID: body.RolloutID, AttemptID: body.AttemptID})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]float64{"reward": reward})
}

// run answers one task and returns its reward.
func (a *agent) run(ctx context.Context, r rollout) (float64, error) {
	var ids []attribute.KeyValue
	if r.RolloutID != "" {
		ids = append(ids, attribute.String("agentlightning.rollout_id", r.RolloutID), attribute.String("agentlightning.attempt_id", r.AttemptID))
	}
	ctx, span := a.tracer.Start(ctx, "arithmetic-agent", trace.WithAttributes(ids...), trace.WithAttributes(attribute.String("task.question", r.Task.Question)))
	defer span.End()
	if r.Task.Question == "" || r.Task.Answer == nil {
		err := errors.New(`the task needs "question" and "answer"`)
		span.SetStatus(codes.Error, err.Error())
		return 0, err
	}
	system := render(promptTemplate(r.Resources), r.Task)
	reply, err := a.chat(ctx, llmOf(r.Resources), system, r.Task.Question, ids)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return 0, err
	}
	reward := 0.0
	if n, ok := lastInteger(reply); ok && n == *r.Task.Answer {
		reward = 1
	}
	fmt.Fprintf(os.Stderr, "question %q, reply %q, reward %v\n", r.Task.Question, reply, reward)
	if a.emitReward {
		span.AddEvent("gen_ai.evaluation.result", trace.WithAttributes(
			attribute.String("gen_ai.evaluation.name", "correctness"),
			attribute.Float64("gen_ai.evaluation.score.value", reward),
		))
	}
	return reward, nil
}

// llm is the model resource (Agent Lightning's LLM).
type llm struct {
	Endpoint string  `json:"endpoint"`
	Model    string  `json:"model"`
	APIKey   *string `json:"api_key"`
}

// llmOf returns the first llm resource by name, else OPENAI_BASE_URL.
func llmOf(resources map[string]json.RawMessage) llm {
	for _, name := range sortedNames(resources) {
		var head struct {
			ResourceType string `json:"resource_type"`
		}
		var l llm
		if json.Unmarshal(resources[name], &head) == nil && (head.ResourceType == "llm" || head.ResourceType == "proxy_llm") &&
			json.Unmarshal(resources[name], &l) == nil {
			return l
		}
	}
	return llm{Endpoint: os.Getenv("OPENAI_BASE_URL"), Model: "gpt-4o-mini"}
}

// promptTemplate returns the first prompt_template resource by name.
func promptTemplate(resources map[string]json.RawMessage) string {
	for _, name := range sortedNames(resources) {
		var p struct {
			ResourceType string `json:"resource_type"`
			Template     string `json:"template"`
		}
		if json.Unmarshal(resources[name], &p) == nil && p.ResourceType == "prompt_template" {
			return p.Template
		}
	}
	return "You are a helpful assistant."
}

func sortedNames(m map[string]json.RawMessage) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// render fills an f-string template's {question} placeholder.
func render(template string, t task) string {
	return strings.ReplaceAll(template, "{question}", t.Question)
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// chat calls the model and records the call as a GenAI client span.
func (a *agent) chat(ctx context.Context, m llm, system, question string, ids []attribute.KeyValue) (string, error) {
	if m.Endpoint == "" {
		return "", errors.New("no llm resource and no OPENAI_BASE_URL")
	}
	msgs := []message{{Role: "system", Content: system}, {Role: "user", Content: question}}
	_, span := a.tracer.Start(ctx, "chat "+m.Model, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(ids...),
		trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.provider.name", "openai"),
			attribute.String("gen_ai.request.model", m.Model),
			attribute.String("gen_ai.input.messages", otelMessages(msgs)),
		))
	defer span.End()

	body, _ := json.Marshal(map[string]any{"model": m.Model, "messages": msgs, "temperature": 0})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(m.Endpoint, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	key := os.Getenv("OPENAI_API_KEY")
	if m.APIKey != nil {
		key = *m.APIKey
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return "", fmt.Errorf("call the model: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Choices []struct {
			Message      message `json:"message"`
			FinishReason string  `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		err := fmt.Errorf("the model answered %s: %s", resp.Status, data)
		span.SetStatus(codes.Error, err.Error())
		return "", err
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Choices) == 0 {
		err = errors.Join(errors.New("the model's answer has no choice"), err)
		span.SetStatus(codes.Error, err.Error())
		return "", err
	}
	reply := out.Choices[0].Message.Content
	span.SetAttributes(
		attribute.String("gen_ai.response.id", out.ID),
		attribute.String("gen_ai.response.model", out.Model),
		attribute.StringSlice("gen_ai.response.finish_reasons", []string{out.Choices[0].FinishReason}),
		attribute.Int("gen_ai.usage.input_tokens", out.Usage.PromptTokens),
		attribute.Int("gen_ai.usage.output_tokens", out.Usage.CompletionTokens),
		attribute.String("gen_ai.output.messages", otelMessages([]message{{Role: "assistant", Content: reply}})),
	)
	return reply, nil
}

// otelMessages encodes messages the way the GenAI semantic conventions
// (1.37+) do: role plus a list of typed parts.
func otelMessages(msgs []message) string {
	type part struct {
		Type    string `json:"type"`
		Content string `json:"content"`
	}
	type otelMessage struct {
		Role  string `json:"role"`
		Parts []part `json:"parts"`
	}
	out := make([]otelMessage, len(msgs))
	for i, m := range msgs {
		out[i] = otelMessage{Role: m.Role, Parts: []part{{Type: "text", Content: m.Content}}}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

var integer = regexp.MustCompile(`-?\d+`)

// lastInteger returns the last integer in s: the answer, by convention.
func lastInteger(s string) (int, bool) {
	all := integer.FindAllString(s, -1)
	if len(all) == 0 {
		return 0, false
	}
	n, err := strconv.Atoi(all[len(all)-1])
	return n, err == nil
}
