package algorithm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Run states.
const (
	StateIdle      = "idle"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// Kinds of Score entries in a run's history.
const (
	// ScoreBaseline is the seed prompt on the whole validation set.
	ScoreBaseline = "baseline"
	// ScoreParent is a beam parent on a training batch (the batch the
	// critique is written from).
	ScoreParent = "parent"
	// ScoreCandidate is a candidate on the round's validation batch.
	ScoreCandidate = "candidate"
	// ScoreLeader is the round's best candidate on the whole validation set.
	ScoreLeader = "leader"
	// ScoreEvaluation is an evaluate run.
	ScoreEvaluation = "evaluation"
)

// Score is one scored batch: a resources snapshot run on some tasks.
type Score struct {
	Round       int     `json:"round"`
	Kind        string  `json:"kind"`
	ResourcesID string  `json:"resources_id"`
	Label       string  `json:"label,omitempty"`
	Parent      string  `json:"parent_resources_id,omitempty"`
	Mode        string  `json:"mode"`
	Rollouts    int     `json:"rollouts"`
	Finished    int     `json:"finished"`
	Score       float64 `json:"score"`
	Time        float64 `json:"time"`
}

// Status is the public state of a run: what GET /v1/lightning/algorithm
// returns and what the report file holds.
type Status struct {
	Name            string            `json:"name"`
	State           string            `json:"state"`
	Round           int               `json:"round"`
	Rounds          int               `json:"rounds"`
	BestScore       *float64          `json:"best_score"`
	BestResourcesID *string           `json:"best_resources_id"`
	BestPrompt      *string           `json:"best_prompt"`
	BaselineScore   *float64          `json:"baseline_score"`
	RolloutsDone    int               `json:"rollouts_done"`
	History         []Score           `json:"history"`
	Report          *EvaluationReport `json:"report,omitempty"`
	Error           *string           `json:"error"`
	StartedAt       *float64          `json:"started_at"`
	FinishedAt      *float64          `json:"finished_at"`
}

// Progress is the live, concurrency-safe Status of a run. Every change is
// passed to the persist function, if any, so a report file follows the run.
type Progress struct {
	mu      sync.Mutex
	status  Status
	persist func(Status)
}

// NewProgress returns the progress of an algorithm that has not started;
// persist may be nil.
func NewProgress(name string, persist func(Status)) *Progress {
	return &Progress{status: Status{Name: name, State: StateIdle, History: []Score{}}, persist: persist}
}

// Snapshot returns a copy of the current status.
func (p *Progress) Snapshot() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.copyLocked()
}

func (p *Progress) copyLocked() Status {
	s := p.status
	s.History = slices.Clone(p.status.History)
	return s
}

func (p *Progress) update(fn func(s *Status)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(&p.status)
	if p.persist != nil {
		p.persist(p.copyLocked())
	}
}

// Start marks the run as running with the given number of rounds.
func (p *Progress) Start(rounds int) {
	p.update(func(s *Status) {
		s.State, s.Rounds, s.StartedAt = StateRunning, rounds, now()
	})
}

// SetRound records the round in progress.
func (p *Progress) SetRound(round int) {
	p.update(func(s *Status) { s.Round = round })
}

// AddScore appends a history entry.
func (p *Progress) AddScore(sc Score) {
	if sc.Time == 0 {
		sc.Time = *now()
	}
	p.update(func(s *Status) { s.History = append(s.History, sc) })
}

// AddRollouts counts rollouts whose results were read.
func (p *Progress) AddRollouts(n int) {
	p.update(func(s *Status) { s.RolloutsDone += n })
}

// SetBaseline records the seed's score.
func (p *Progress) SetBaseline(score float64) {
	p.update(func(s *Status) { s.BaselineScore = &score })
}

// SetBest records the best resources so far; prompt may be "" when the
// algorithm does not optimise a prompt.
func (p *Progress) SetBest(score float64, resourcesID, prompt string) {
	p.update(func(s *Status) {
		s.BestScore, s.BestResourcesID = &score, &resourcesID
		if prompt != "" {
			s.BestPrompt = &prompt
		}
	})
}

// SetReport attaches an evaluation report.
func (p *Progress) SetReport(r *EvaluationReport) {
	p.update(func(s *Status) { s.Report = r })
}

// Finish ends the run: succeeded without error, cancelled when err is a
// context cancellation, failed otherwise.
func (p *Progress) Finish(err error) {
	p.update(func(s *Status) {
		s.FinishedAt = now()
		switch {
		case err == nil:
			s.State = StateSucceeded
		case isCancellation(err):
			s.State = StateCancelled
		default:
			s.State = StateFailed
		}
		if err != nil {
			msg := err.Error()
			s.Error = &msg
		}
	})
}

// isCancellation tells a shutdown (the run's context ended) from a
// failure.
func isCancellation(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// WriteReport writes s as indented JSON to path atomically (a temporary
// file renamed over it), creating the directory when needed.
func WriteReport(path string, s Status) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create the report directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".report-*.json")
	if err != nil {
		return fmt.Errorf("create the report: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write the report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

func now() *float64 {
	t := float64(time.Now().UnixNano()) / 1e9
	return &t
}
