// Command apo runs the prompt optimization example end to end with one
// command, from the repository root:
//
//	go run ./examples/apo
//
// It builds the collector and the arithmetic example agent into bin/,
// serves the repository's deterministic mock model on a loopback port,
// starts the collector with config/trainer-apo.yaml (every listener on a
// free port, the store in a fresh data directory), follows the run on
// GET /v1/lightning/algorithm, prints the scores and the best prompt, and
// stops everything. It exits non-zero unless the optimized prompt beats the
// seed on the validation set.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
)

func main() {
	dataDir := flag.String("data", "", "data directory of the run (default: a new temporary directory, kept)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	agent := flag.String("agent", "", "agent executable run per rollout (default: the Go arithmetic agent, built from examples/arithmetic-agent)")
	flag.Parse()
	if err := run(*dataDir, *agent, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "apo example:", err)
		os.Exit(1)
	}
}

func run(dataDir, agent string, timeout time.Duration) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "lightning-apo-"); err != nil {
			return err
		}
	}
	collectorBin, agentBin := filepath.Join(root, "bin", "otelcol-lightning"), filepath.Join(root, "bin", "arithmetic-agent")
	builds := map[string]string{"./cmd/otelcol-lightning": collectorBin, "./examples/arithmetic-agent": agentBin}
	if agent != "" {
		if agentBin, err = filepath.Abs(agent); err != nil {
			return err
		}
		delete(builds, "./examples/arithmetic-agent")
	}
	fmt.Println("==> building the collector and the agent")
	for pkg, out := range builds {
		if err := goBuild(root, pkg, out); err != nil {
			return err
		}
	}

	mock, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the mock model: %w", err)
	}
	mockSrv := &http.Server{Handler: llmmock.New(llmmock.Options{Respond: llmmock.Arithmetic}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = mockSrv.Serve(mock) }()
	defer mockSrv.Close()
	llm := "http://" + mock.Addr().String() + "/v1"

	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	api := "http://127.0.0.1:" + ports[2]
	logPath := filepath.Join(dataDir, "collector.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(collectorBin, "--config", filepath.Join(root, "config", "trainer-apo.yaml"))
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(),
		"LIGHTNING_OTLP_GRPC_ENDPOINT=127.0.0.1:"+ports[0],
		"LIGHTNING_OTLP_HTTP_ENDPOINT=127.0.0.1:"+ports[1],
		"LIGHTNING_API_ENDPOINT=127.0.0.1:"+ports[2],
		"LIGHTNING_HEALTH_ENDPOINT=127.0.0.1:"+ports[3],
		"LIGHTNING_METRICS_PORT="+ports[4],
		"LIGHTNING_DATA_DIR="+dataDir,
		"LIGHTNING_LLM_ENDPOINT="+llm,
		"LIGHTNING_AGENT="+agentBin,
	)
	fmt.Printf("==> starting the collector (store API %s, mock model %s, data %s)\n", api, llm, dataDir)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the collector: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()

	st, err := follow(api, exited, timeout)
	if err != nil {
		return fmt.Errorf("%w (collector log: %s)", err, logPath)
	}
	return report(api, st, dataDir)
}

// status is the part of GET /v1/lightning/algorithm printed here.
type status struct {
	State         string   `json:"state"`
	Round         int      `json:"round"`
	Rounds        int      `json:"rounds"`
	BaselineScore *float64 `json:"baseline_score"`
	BestScore     *float64 `json:"best_score"`
	BestID        *string  `json:"best_resources_id"`
	BestPrompt    *string  `json:"best_prompt"`
	RolloutsDone  int      `json:"rollouts_done"`
	Error         *string  `json:"error"`
	History       []struct {
		Round       int     `json:"round"`
		Kind        string  `json:"kind"`
		Label       string  `json:"label"`
		ResourcesID string  `json:"resources_id"`
		Score       float64 `json:"score"`
	} `json:"history"`
}

// follow polls the algorithm until it ends, printing each new round.
func follow(api string, exited <-chan error, timeout time.Duration) (status, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	lastRound := -1
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return status{}, fmt.Errorf("the collector exited: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
		var st status
		if err := getJSON(client, api+"/v1/lightning/algorithm", &st); err != nil {
			continue // not up yet
		}
		if st.Round != lastRound && st.State == "running" {
			lastRound = st.Round
			fmt.Printf("    round %d/%d, %d rollouts scored so far\n", st.Round, st.Rounds, st.RolloutsDone)
		}
		switch st.State {
		case "succeeded":
			return st, nil
		case "failed", "cancelled":
			msg := ""
			if st.Error != nil {
				msg = *st.Error
			}
			return st, fmt.Errorf("the algorithm %s: %s", st.State, msg)
		}
	}
	return status{}, fmt.Errorf("no result after %s", timeout)
}

func report(api string, st status, dataDir string) error {
	fmt.Println("==> validation scores")
	for _, h := range st.History {
		if h.Kind == "baseline" || h.Kind == "leader" {
			fmt.Printf("    round %d  %-8s %-4s %s  %.3f\n", h.Round, h.Kind, h.Label, h.ResourcesID, h.Score)
		}
	}
	var resources struct {
		Total int `json:"total"`
	}
	if err := getJSON(&http.Client{Timeout: 5 * time.Second}, api+"/v1/agl/resources", &resources); err != nil {
		return err
	}
	if st.BaselineScore == nil || st.BestScore == nil || st.BestID == nil || st.BestPrompt == nil {
		return errors.New("the report has no baseline or best score")
	}
	fmt.Printf("==> %d candidate prompts, each a resources version (GET %s/v1/agl/resources)\n", resources.Total, api)
	fmt.Printf("==> seed %.3f -> best %.3f (%s); best prompt:\n%s\n", *st.BaselineScore, *st.BestScore, *st.BestID, indent(*st.BestPrompt))
	fmt.Printf("==> report: %s\n", filepath.Join(dataDir, "algorithm-report.json"))
	if *st.BestScore <= *st.BaselineScore {
		return errors.New("the optimized prompt does not beat the seed")
	}
	return nil
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

func getJSON(client *http.Client, url string, out any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run this from inside the otelcol-lightning repository")
	}
	return filepath.Dir(gomod), nil
}

func goBuild(root, pkg, out string) error {
	cmd := exec.CommandContext(context.Background(), "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return nil
}

// freePorts reserves n loopback ports at once and releases them for the
// collector.
func freePorts(n int) ([]string, error) {
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return ports, nil
}
