package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Executor runs one claimed rollout. It must return soon after ctx is
// cancelled (the runner then decides the status from the cause) and must
// not update the attempt itself.
type Executor interface {
	Execute(ctx context.Context, job *Job) Result
}

// Job is a claimed rollout with what an agent needs to run it.
type Job struct {
	Rollout model.Rollout
	Attempt model.Attempt
	// ResourcesID names the snapshot Resources come from ("" when the
	// store has none).
	ResourcesID string
	// Resources is the rollout's tunable resources (never nil).
	Resources model.NamedResources
	// OTLPEndpoint is where the agent should export its spans.
	OTLPEndpoint string
	// WorkerID is the worker running the job.
	WorkerID string
}

// Mode returns the rollout mode, or "" when it has none.
func (j *Job) Mode() string {
	if j.Rollout.Mode == nil {
		return ""
	}
	return string(*j.Rollout.Mode)
}

// ResourceAttributes returns the OTel resource attributes that file the
// agent's spans under this attempt.
func (j *Job) ResourceAttributes() string {
	return "agentlightning.rollout_id=" + j.Rollout.RolloutID + ",agentlightning.attempt_id=" + j.Attempt.AttemptID
}

// Result is what an Executor reports.
type Result struct {
	// Status is succeeded or failed; the runner replaces it when the job
	// was cancelled (timeout, shutdown).
	Status model.AttemptStatus
	// Reward, when set, is recorded as a reward span on success.
	Reward *float64
	// Metadata is merged into the attempt's metadata.
	Metadata map[string]any
	// Err tells why the attempt failed; it becomes metadata.error.
	Err error
}

// run executes one claimed rollout and records its outcome.
func (r *Runner) run(workerID string, ro model.Rollout) {
	started := time.Now()
	r.busy.Add(1)
	r.observer.AttemptStarted()
	defer r.busy.Add(-1)

	job := &Job{Rollout: ro, Attempt: *ro.Attempt, OTLPEndpoint: r.cfg.OTLPEndpoint, WorkerID: workerID}
	ro.Attempt = nil
	log := r.logger.With(zap.String("rollout_id", ro.RolloutID), zap.String("attempt_id", job.Attempt.AttemptID), zap.String("worker_id", workerID))

	var res Result
	var cause error
	if err := r.loadResources(job); err != nil {
		res = Result{Status: model.AttemptFailed, Err: err}
		if r.jobsCtx.Err() != nil {
			cause = errShutdown
		}
	} else {
		res, cause = r.execute(job, log)
	}
	status := r.finish(job, res, cause, time.Since(started), log)
	r.done.Add(1)
	r.observer.AttemptFinished(status, time.Since(started))
}

// loadResources reads the snapshot the rollout names, or the latest one
// when it names none.
func (r *Runner) loadResources(job *Job) error {
	ctx, cancel := context.WithTimeout(r.jobsCtx, finishTimeout)
	defer cancel()
	var snap *model.ResourcesUpdate
	var err error
	if id := job.Rollout.ResourcesID; id != nil && *id != "" {
		snap, err = r.store.GetResources(ctx, *id)
		if err == nil && snap == nil {
			err = fmt.Errorf("resources %q not found", *id)
		}
	} else {
		snap, err = r.store.GetLatestResources(ctx)
	}
	if err != nil {
		return fmt.Errorf("load the rollout's resources: %w", err)
	}
	job.Resources = model.NamedResources{}
	if snap != nil {
		job.ResourcesID = snap.ResourcesID
		maps.Copy(job.Resources, snap.Resources)
	}
	return nil
}

// execute runs the executor under the attempt's timeout and heartbeat and
// returns its result with the reason its context ended, if it did.
func (r *Runner) execute(job *Job, log *zap.Logger) (Result, error) {
	ctx, cancel := context.WithCancelCause(r.jobsCtx)
	defer cancel(nil)
	if t := job.Rollout.Config.TimeoutSeconds; t != nil {
		deadline := floatTime(job.Attempt.StartTime).Add(time.Duration(*t * float64(time.Second)))
		timer := time.AfterFunc(time.Until(deadline), func() { cancel(errTimeout) })
		defer timer.Stop()
	}
	hbDone := make(chan struct{})
	hbStop := make(chan struct{})
	go func() {
		defer close(hbDone)
		r.heartbeatAttempt(ctx, job, hbStop, func(reason string) {
			log.Info("Abandoning rollout", zap.String("reason", reason))
			cancel(fmt.Errorf("%w: %s", errAbandoned, reason))
		})
	}()
	res := r.exec.Execute(ctx, job)
	close(hbStop)
	<-hbDone
	if ctx.Err() != nil {
		return res, context.Cause(ctx)
	}
	return res, nil
}

// heartbeatAttempt refreshes the attempt's last_heartbeat_time until stop
// closes, and calls abandon when the rollout was cancelled or the attempt
// was ended by someone else (the watchdog, an API client).
func (r *Runner) heartbeatAttempt(ctx context.Context, job *Job, stop <-chan struct{}, abandon func(reason string)) {
	interval := r.cfg.AttemptHeartbeatInterval
	if u := job.Rollout.Config.UnresponsiveSeconds; u != nil {
		interval = min(interval, time.Duration(*u*float64(time.Second))/3)
	}
	interval = max(interval, minAttemptHeartbeat)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		// Any update of the latest attempt recomputes the rollout status,
		// which would revive a cancelled rollout: look first.
		ro, err := r.store.GetRollout(ctx, job.Rollout.RolloutID)
		switch {
		case err != nil:
			continue
		case ro == nil:
			abandon("the rollout was deleted")
			return
		case ro.Status == model.RolloutCancelled:
			abandon("the rollout was cancelled")
			return
		}
		a, err := r.store.UpdateAttempt(ctx, job.Rollout.RolloutID, job.Attempt.AttemptID, store.AttemptUpdate{
			LastHeartbeatTime: store.To(nowSeconds()),
		})
		if err == nil && endedElsewhere(a.Status) {
			abandon("the attempt was set to " + string(a.Status))
			return
		}
	}
}

// endedElsewhere reports statuses only another party can have set while
// the executor runs. unresponsive is not one: a later span revives it.
func endedElsewhere(s model.AttemptStatus) bool {
	return s == model.AttemptFailed || s == model.AttemptSucceeded || s == model.AttemptTimeout
}

// finish records the outcome: a reward span when there is a reward, then
// the attempt status with the merged metadata. It returns the status set,
// or "" when the attempt was left alone.
func (r *Runner) finish(job *Job, res Result, cause error, elapsed time.Duration, log *zap.Logger) model.AttemptStatus {
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	status := res.Status
	switch {
	case errors.Is(cause, errAbandoned):
		return ""
	case errors.Is(cause, errTimeout):
		status, res.Err = model.AttemptTimeout, cause
	case errors.Is(cause, errShutdown):
		status, res.Err = model.AttemptFailed, cause
	case status != model.AttemptSucceeded:
		status = model.AttemptFailed
	}
	current, err := r.attempt(ctx, job)
	if err != nil {
		log.Warn("Cannot read the attempt to record its outcome", zap.Error(err))
		return ""
	}
	if current == nil || endedElsewhere(current.Status) {
		log.Info("Attempt already ended elsewhere; outcome not recorded", zap.String("outcome", string(status)))
		return ""
	}
	if status == model.AttemptSucceeded && res.Reward != nil {
		if err := r.addRewardSpan(ctx, job, *res.Reward); err != nil {
			log.Warn("Cannot store the reward span", zap.Error(err))
		}
	}
	extra := map[string]any{"worker_id": job.WorkerID, "duration_seconds": elapsed.Seconds()}
	maps.Copy(extra, res.Metadata)
	if res.Err != nil {
		extra["error"] = res.Err.Error()
	}
	if _, err := r.store.UpdateAttempt(ctx, job.Rollout.RolloutID, job.Attempt.AttemptID, store.AttemptUpdate{
		Status:   store.To(status),
		Metadata: store.To(mergeMetadata(current.Metadata, extra)),
	}); err != nil {
		log.Warn("Cannot record the attempt's outcome", zap.String("status", string(status)), zap.Error(err))
		return ""
	}
	fields := []zap.Field{zap.String("status", string(status)), zap.Duration("elapsed", elapsed)}
	if res.Err != nil {
		fields = append(fields, zap.NamedError("reason", res.Err))
	}
	log.Debug("Rollout attempt finished", fields...)
	return status
}

// attempt reads the job's attempt as the store has it now.
func (r *Runner) attempt(ctx context.Context, job *Job) (*model.Attempt, error) {
	page, err := r.store.QueryAttempts(ctx, store.AttemptQuery{RolloutID: job.Rollout.RolloutID, Page: store.AllPage()})
	if err != nil {
		return nil, err
	}
	for i := range page.Items {
		if page.Items[i].AttemptID == job.Attempt.AttemptID {
			return &page.Items[i], nil
		}
	}
	return nil, nil
}

// addRewardSpan stores the reward the way Agent Lightning's runner does for
// a float returned by the agent: an agentlightning.annotation span with the
// primary reward dimension and a freshly allocated sequence id.
func (r *Runner) addRewardSpan(ctx context.Context, job *Job, reward float64) error {
	ids, err := r.store.NextSequenceIDs(ctx, []store.SequenceKey{{RolloutID: job.Rollout.RolloutID, AttemptID: job.Attempt.AttemptID}})
	if err != nil {
		return fmt.Errorf("allocate a sequence id: %w", err)
	}
	now := nowSeconds()
	traceID, spanID := randomHex(16), randomHex(8)
	span := model.Span{
		RolloutID:  job.Rollout.RolloutID,
		AttemptID:  job.Attempt.AttemptID,
		SequenceID: ids[0],
		TraceID:    traceID,
		SpanID:     spanID,
		Name:       rewards.AnnotationSpanName,
		Status:     model.TraceStatus{StatusCode: model.StatusUnset},
		Attributes: model.Attributes{
			rewards.RewardPrefix + ".0.name":  rewards.PrimaryName,
			rewards.RewardPrefix + ".0.value": reward,
			"agentlightning.rollout_id":       job.Rollout.RolloutID,
			"agentlightning.attempt_id":       job.Attempt.AttemptID,
		},
		Events:    []model.Event{},
		Links:     []model.Link{},
		StartTime: &now,
		EndTime:   &now,
		Context:   &model.SpanContext{TraceID: traceID, SpanID: spanID, TraceState: map[string]string{}},
		Resource: model.OtelResource{Attributes: model.Attributes{
			"service.name":              "otelcol-lightning-runner",
			"agentlightning.worker_id":  job.WorkerID,
			"agentlightning.rollout_id": job.Rollout.RolloutID,
			"agentlightning.attempt_id": job.Attempt.AttemptID,
		}},
	}
	_, err = r.store.AddSpan(ctx, span)
	return err
}

// mergeMetadata adds extra's keys to an attempt's metadata object. Metadata
// that is not an object is kept under "previous".
func mergeMetadata(current json.RawMessage, extra map[string]any) json.RawMessage {
	out := map[string]any{}
	if len(current) > 0 && string(current) != "null" {
		if err := json.Unmarshal(current, &out); err != nil {
			out = map[string]any{"previous": current}
		}
	}
	maps.Copy(out, extra)
	b, err := json.Marshal(out)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

func nowSeconds() float64 { return float64(time.Now().UnixNano()) / 1e9 }

func floatTime(s float64) time.Time { return time.Unix(0, int64(s*1e9)) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
