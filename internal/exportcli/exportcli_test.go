package exportcli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/export"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlitestore"
)

// sqliteStore writes one succeeded rollout with a conversation and two
// triplets (the second without token ids) to a new SQLite file.
func sqliteStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lightning.db")
	backend, err := sqlitestore.Open(path)
	require.NoError(t, err)
	st := store.New(backend, store.Options{})
	defer func() { require.NoError(t, st.Close()) }()
	ctx := context.Background()

	r, err := st.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`"2+2"`), Mode: model.Ptr(model.ModeTrain)})
	require.NoError(t, err)
	_, err = st.UpdateRollout(ctx, r.RolloutID, store.RolloutUpdate{Status: store.To(model.RolloutSucceeded)})
	require.NoError(t, err)
	a := r.Attempt.AttemptID
	require.NoError(t, st.AddMessages(ctx, []model.MessageRecord{{
		RolloutID: r.RolloutID, AttemptID: a, SpanID: "s1", SequenceID: 1,
		Body: json.RawMessage(`{"messages":[{"role":"user","content":"2+2?"}],"tools":null,"completion":{"role":"assistant","content":"4"}}`),
	}}))
	require.NoError(t, st.ReplaceTriplets(ctx, r.RolloutID, a, 1, []model.TripletRecord{
		{Index: 0, SpanID: "s1", Triplet: model.Triplet{
			Prompt: json.RawMessage(`{"token_ids":[1,2]}`), Response: json.RawMessage(`{"token_ids":[3]}`), Reward: model.Ptr(1.0),
		}},
		{Index: 1, SpanID: "s2", Triplet: model.Triplet{Prompt: json.RawMessage(`{"token_ids":[]}`), Response: json.RawMessage(`{"token_ids":[]}`)}},
	}))
	return path
}

func runMain(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExportSFTToStdout(t *testing.T) {
	path := sqliteStore(t)
	code, out, errOut := runMain("--path", path, "--format", "sft", "--status", "succeeded,failed", "--mode", "train")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 1)
	require.NoError(t, export.CheckSFTLine([]byte(lines[0])))
	var sum export.Summary
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(errOut)), &sum))
	assert.Equal(t, 1, sum.Lines)
}

func TestExportTrajectoriesReportsMissingTokenIDs(t *testing.T) {
	path := sqliteStore(t)
	file := filepath.Join(t.TempDir(), "rows.jsonl")
	code, out, errOut := runMain("--path", path, "--format", "trajectories", "--min-reward", "0.5", "--output", file)
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, out)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var row export.TrajectoryLine
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(data), &row))
	assert.Equal(t, []int64{3}, row.ResponseIDs)
	assert.Contains(t, errOut, `"calls_without_token_ids":1`)
	assert.Contains(t, errOut, "1 LLM calls had no token ids")
	assert.Contains(t, errOut, "s2")
}

func TestUsageErrors(t *testing.T) {
	path := sqliteStore(t)
	for name, args := range map[string][]string{
		"no format":       {"--path", path},
		"bad format":      {"--path", path, "--format", "csv"},
		"bad status":      {"--path", path, "--format", "sft", "--status", "done"},
		"bad number":      {"--path", path, "--format", "sft", "--min-reward", "high"},
		"missing file":    {"--path", filepath.Join(t.TempDir(), "none.db"), "--format", "sft"},
		"bad backend":     {"--backend", "mongo", "--format", "sft"},
		"postgres no dsn": {"--backend", "postgres", "--dsn", "", "--format", "sft"},
		"extra argument":  {"--path", path, "--format", "sft", "more"},
	} {
		code, _, errOut := runMain(args...)
		assert.Equal(t, 2, code, name)
		assert.NotEmpty(t, errOut, name)
	}
	code, _, errOut := runMain("--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "Usage: otelcol-lightning export")
}

func TestOutputError(t *testing.T) {
	path := sqliteStore(t)
	code, _, errOut := runMain("--path", path, "--format", "sft", "--output", filepath.Join(t.TempDir(), "no", "such", "dir", "x.jsonl"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--output")
}
