package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Set by TestMain: the repository root and the collector binary built from it.
var (
	repoRoot  string
	binary    string
	buildErr  error
	configDir string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "otelcol-lightning-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	repoRoot, buildErr = findRepoRoot()
	if buildErr == nil {
		configDir = filepath.Join(repoRoot, "config")
		binary = filepath.Join(tmp, "otelcol-lightning")
		buildErr = buildCollector(repoRoot, binary)
	}
	return m.Run()
}

// findRepoRoot asks the go command for the main module's directory, so the
// tests do not depend on the package's place in the tree.
func findRepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the otelcol-lightning module")
	}
	return filepath.Dir(gomod), nil
}

// buildCollector builds the distribution exactly as `make build` does.
func buildCollector(root, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/otelcol-lightning")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/otelcol-lightning: %w\n%s", err, stderr.String())
	}
	return nil
}

// requireBinary skips the test in -short mode and fails it when the binary
// could not be built.
func requireBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs the collector")
	}
	if buildErr != nil {
		t.Fatalf("collector binary unavailable: %v", buildErr)
	}
}
