// Package dataset loads the task datasets of the collector's trainer loop:
// JSON Lines files with one task (any JSON value) per line, split into a
// training and a validation set.
//
// A task's input is the line as written; it becomes the rollout's input and
// what a command agent reads on stdin. A task is named, for per-task
// reports, by its "id" or "task_id" field when it is an object that has one
// (a string or a number), else by "<file name>:<line number>".
package dataset // import "github.com/otelcol-lightning/otelcol-lightning/pkg/dataset"

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// maxLineBytes bounds one task line; a task is a prompt-sized object, so
// anything larger is almost certainly not a JSONL dataset.
const maxLineBytes = 16 << 20

// Task is one dataset item.
type Task struct {
	// ID names the task in reports.
	ID string `json:"id"`
	// Input is the task's JSON, compacted.
	Input json.RawMessage `json:"input"`
}

// Config says where the tasks are and how to split them.
type Config struct {
	// Path is the JSONL file of the tasks (the training set when ValPath is
	// set, otherwise split by ValFraction).
	Path string
	// ValPath is an optional JSONL file of validation tasks.
	ValPath string
	// ValFraction moves this fraction of Path's tasks, chosen at random with
	// Seed, to the validation set; used only without ValPath.
	ValFraction float64
	// Seed makes the split reproducible.
	Seed uint64
}

// Dataset is a loaded dataset.
type Dataset struct {
	Train []Task
	Val   []Task
}

// All returns the training tasks followed by the validation tasks.
func (d Dataset) All() []Task {
	out := make([]Task, 0, len(d.Train)+len(d.Val))
	out = append(out, d.Train...)
	return append(out, d.Val...)
}

// Load reads and splits the dataset cfg describes.
func Load(cfg Config) (Dataset, error) {
	if cfg.ValFraction < 0 || cfg.ValFraction >= 1 {
		return Dataset{}, fmt.Errorf("val_fraction must be in [0, 1), got %v", cfg.ValFraction)
	}
	tasks, err := ReadFile(cfg.Path)
	if err != nil {
		return Dataset{}, err
	}
	if cfg.ValPath != "" {
		val, err := ReadFile(cfg.ValPath)
		if err != nil {
			return Dataset{}, err
		}
		return Dataset{Train: tasks, Val: val}, nil
	}
	train, val := Split(tasks, cfg.ValFraction, cfg.Seed)
	return Dataset{Train: train, Val: val}, nil
}

// ReadFile reads a JSONL file of tasks.
func ReadFile(path string) ([]Task, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	defer f.Close()
	tasks, err := Read(f, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("read dataset %s: %w", path, err)
	}
	return tasks, nil
}

// Read parses JSONL from r; name prefixes the ids of tasks that have none.
// Blank lines are skipped; a line that is not one JSON value is an error
// naming its line number.
func Read(r io.Reader, name string) ([]Task, error) {
	br := bufio.NewReader(r)
	var tasks []Task
	seen := map[string]int{}
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			task, perr := parseTask(trimmed, name, lineNo)
			if perr != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, perr)
			}
			if prev, dup := seen[task.ID]; dup {
				return nil, fmt.Errorf("line %d: task id %q already used on line %d", lineNo, task.ID, prev)
			}
			seen[task.ID] = lineNo
			tasks = append(tasks, task)
		}
		if errors.Is(err, io.EOF) {
			return tasks, nil
		}
	}
}

// readLine returns one line without its newline, refusing lines over
// maxLineBytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLineBytes {
			return nil, fmt.Errorf("longer than %d bytes", maxLineBytes)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), err
	}
}

func parseTask(line []byte, name string, lineNo int) (Task, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, line); err != nil {
		return Task{}, fmt.Errorf("not a JSON value: %w", err)
	}
	id := idOf(compact.Bytes())
	if id == "" {
		id = name + ":" + strconv.Itoa(lineNo)
	}
	return Task{ID: id, Input: json.RawMessage(compact.Bytes())}, nil
}

// idOf returns the "id" or "task_id" field of an object, or "".
func idOf(input []byte) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(input, &obj) != nil {
		return ""
	}
	for _, key := range []string{"id", "task_id"} {
		raw, ok := obj[key]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return s
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// Split moves round(fraction × len) tasks, chosen at random with seed, to
// the validation set; at least one when fraction > 0 and there are two or
// more tasks, and never all of them. Both sets keep the file order.
func Split(tasks []Task, fraction float64, seed uint64) (train, val []Task) {
	n := len(tasks)
	k := int(math.Round(fraction * float64(n)))
	if fraction > 0 && k == 0 && n > 1 {
		k = 1
	}
	if k >= n {
		k = n - 1
	}
	if k <= 0 {
		return append([]Task(nil), tasks...), nil
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	inVal := make([]bool, n)
	for _, i := range rng.Perm(n)[:k] {
		inVal[i] = true
	}
	for i, t := range tasks {
		if inVal[i] {
			val = append(val, t)
		} else {
			train = append(train, t)
		}
	}
	return train, val
}
