package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	in := strings.Join([]string{
		`{"id": "a", "question": "1 + 1"}`,
		``,
		`  {"task_id": 7, "question": "2 + 2"}  `,
		`"just a string"`,
		`{"question":   "no id"}`,
	}, "\n")
	tasks, err := Read(strings.NewReader(in), "tasks.jsonl")
	require.NoError(t, err)
	require.Len(t, tasks, 4)
	assert.Equal(t, "a", tasks[0].ID)
	assert.Equal(t, "7", tasks[1].ID)
	assert.JSONEq(t, `{"task_id": 7, "question": "2 + 2"}`, string(tasks[1].Input))
	assert.Equal(t, "tasks.jsonl:4", tasks[2].ID)
	assert.Equal(t, `"just a string"`, string(tasks[2].Input))
	assert.Equal(t, "tasks.jsonl:5", tasks[3].ID)
	assert.Equal(t, `{"question":"no id"}`, string(tasks[3].Input), "compacted")
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"not json", "{\"id\": 1}\n{oops}\n", "line 2: not a JSON value"},
		{"two values", `{"a":1} {"b":2}`, "line 1: not a JSON value"},
		{"duplicate id", "{\"id\":\"x\"}\n{\"id\":\"x\"}", `line 2: task id "x" already used on line 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.in), "f")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

func TestSplit(t *testing.T) {
	tasks := make([]Task, 10)
	for i := range tasks {
		tasks[i] = Task{ID: string(rune('a' + i))}
	}
	train, val := Split(tasks, 0.3, 1)
	assert.Len(t, train, 7)
	assert.Len(t, val, 3)
	train2, val2 := Split(tasks, 0.3, 1)
	assert.Equal(t, val, val2, "same seed, same split")
	assert.Equal(t, train, train2)
	all := map[string]bool{}
	for _, tk := range append(append([]Task{}, train...), val...) {
		all[tk.ID] = true
	}
	assert.Len(t, all, 10, "a partition")

	train, val = Split(tasks, 0, 1)
	assert.Len(t, train, 10)
	assert.Empty(t, val)
	train, val = Split(tasks[:2], 0.01, 1)
	assert.Len(t, train, 1, "a positive fraction gives at least one validation task")
	assert.Len(t, val, 1)
	train, val = Split(tasks[:1], 0.9, 1)
	assert.Len(t, train, 1, "never all tasks")
	assert.Empty(t, val)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	trainPath := filepath.Join(dir, "train.jsonl")
	valPath := filepath.Join(dir, "val.jsonl")
	require.NoError(t, os.WriteFile(trainPath, []byte("{\"id\":\"t1\"}\n{\"id\":\"t2\"}\n{\"id\":\"t3\"}\n{\"id\":\"t4\"}\n"), 0o600))
	require.NoError(t, os.WriteFile(valPath, []byte("{\"id\":\"v1\"}\n"), 0o600))

	d, err := Load(Config{Path: trainPath, ValPath: valPath, ValFraction: 0.5})
	require.NoError(t, err)
	assert.Len(t, d.Train, 4, "val_path wins over val_fraction")
	assert.Equal(t, []Task{{ID: "v1", Input: []byte(`{"id":"v1"}`)}}, d.Val)
	assert.Len(t, d.All(), 5)

	d, err = Load(Config{Path: trainPath, ValFraction: 0.5, Seed: 3})
	require.NoError(t, err)
	assert.Len(t, d.Train, 2)
	assert.Len(t, d.Val, 2)

	_, err = Load(Config{Path: filepath.Join(dir, "missing.jsonl")})
	assert.ErrorContains(t, err, "open dataset")
	_, err = Load(Config{Path: trainPath, ValFraction: 1})
	assert.ErrorContains(t, err, "val_fraction")
}
