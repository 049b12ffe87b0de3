package sqlstore

import (
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// latestAttemptsChunk bounds the ids bound in one statement, well under
// every database's parameter limit.
const latestAttemptsChunk = 500

func (t *tx) GetRollout(rolloutID string) (*model.Rollout, error) {
	return getKeyed[model.Rollout](t, "get rollout", stmtGetRollout, "rollouts", rolloutID)
}

// rolloutDoc is the stored form of r: never with its attempt, which lives
// in attempts.
func rolloutDoc(op string, r *model.Rollout) (string, error) {
	c := *r
	c.Attempt = nil
	c.Input = model.RawOrNull(c.Input)
	c.Metadata = model.RawOrNull(c.Metadata)
	return marshalDoc(op, c)
}

func (t *tx) InsertRollout(r *model.Rollout) error {
	const op = "insert rollout"
	doc, err := rolloutDoc(op, r)
	if err != nil {
		return err
	}
	res, err := t.exec(stmtInsertRollout, r.RolloutID, string(r.Status), r.Mode, r.ResourcesID, r.StartTime, r.EndTime,
		watched(r), doc)
	if err != nil {
		return t.wrap(op, err)
	}
	if n, err := t.affected(op, res); err != nil || n > 0 {
		return err
	}
	return valueError("Item already exists with primary key(s): rollout_id='%s'", r.RolloutID)
}

func (t *tx) UpdateRollout(r *model.Rollout) error {
	const op = "update rollout"
	doc, err := rolloutDoc(op, r)
	if err != nil {
		return err
	}
	res, err := t.exec(stmtUpdateRollout, string(r.Status), r.Mode, r.ResourcesID, r.StartTime, r.EndTime, watched(r), doc,
		r.RolloutID)
	if err != nil {
		return t.wrap(op, err)
	}
	if n, err := t.affected(op, res); err != nil || n > 0 {
		return err
	}
	return valueError("Item does not exist with primary key(s): rollout_id='%s'", r.RolloutID)
}

func (t *tx) QueryRollouts(f store.Filter, p store.Page) ([]model.Rollout, int, error) {
	return queryPage[model.Rollout](t, &t.b.tables.rollouts, f, p)
}

func (t *tx) WatchedRollouts() ([]model.Rollout, error) {
	rows, err := t.query(stmtWatchedRollouts)
	return decodeDocs[model.Rollout](t, "watched rollouts", rows, err)
}

// watched is the rollouts.watched column: 1 when the watchdog must look at
// the rollout while it is active.
func watched(r *model.Rollout) int {
	if r.Config.Watched() {
		return 1
	}
	return 0
}

func (t *tx) GetAttempt(rolloutID, attemptID string) (*model.Attempt, error) {
	return getKeyed[model.Attempt](t, "get attempt", stmtGetAttempt, "attempts", rolloutID, attemptID)
}

func (t *tx) LatestAttempts(rolloutIDs []string) (map[string]*model.Attempt, error) {
	out := make(map[string]*model.Attempt, len(rolloutIDs))
	for start := 0; start < len(rolloutIDs); start += latestAttemptsChunk {
		ids := rolloutIDs[start:min(start+latestAttemptsChunk, len(rolloutIDs))]
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		q := t.b.d.Rebind(`SELECT doc FROM (
			SELECT doc, ROW_NUMBER() OVER (PARTITION BY rollout_id ORDER BY sequence_id DESC, seq DESC) AS rn
			FROM attempts WHERE rollout_id IN (` + placeholders(len(ids)) + `)) AS latest WHERE rn = 1`)
		rows, err := t.queryText(q, args...)
		attempts, err := decodeDocs[model.Attempt](t, "latest attempts", rows, err)
		if err != nil {
			return nil, err
		}
		for i := range attempts {
			out[attempts[i].RolloutID] = &attempts[i]
		}
	}
	return out, nil
}

func (t *tx) CountAttempts(rolloutID string) (int, error) {
	var n int
	if err := t.queryRow(stmtCountAttempts, rolloutID).Scan(&n); err != nil {
		return 0, t.wrap("count attempts", err)
	}
	return n, nil
}

func attemptDoc(op string, a *model.Attempt) (string, error) {
	c := *a
	c.Metadata = model.RawOrNull(c.Metadata)
	return marshalDoc(op, c)
}

func (t *tx) InsertAttempt(a *model.Attempt) error {
	const op = "insert attempt"
	doc, err := attemptDoc(op, a)
	if err != nil {
		return err
	}
	res, err := t.exec(stmtInsertAttempt, a.RolloutID, a.AttemptID, a.SequenceID, string(a.Status), a.WorkerID,
		a.StartTime, a.EndTime, a.LastHeartbeatTime, doc)
	if err != nil {
		return t.wrap(op, err)
	}
	if n, err := t.affected(op, res); err != nil || n > 0 {
		return err
	}
	return valueError("Item already exists with primary key(s): rollout_id='%s', attempt_id='%s'", a.RolloutID, a.AttemptID)
}

func (t *tx) UpdateAttempt(a *model.Attempt) error {
	const op = "update attempt"
	doc, err := attemptDoc(op, a)
	if err != nil {
		return err
	}
	res, err := t.exec(stmtUpdateAttempt, a.SequenceID, string(a.Status), a.WorkerID, a.StartTime, a.EndTime,
		a.LastHeartbeatTime, doc, a.RolloutID, a.AttemptID)
	if err != nil {
		return t.wrap(op, err)
	}
	if n, err := t.affected(op, res); err != nil || n > 0 {
		return err
	}
	return valueError("Attempt %s not found for rollout %s", a.AttemptID, a.RolloutID)
}

func (t *tx) QueryAttempts(rolloutID string, p store.Page) ([]model.Attempt, int, error) {
	f := store.Filter{Must: []store.Cond{{Field: "rollout_id", Op: store.OpExact, Value: rolloutID}}}
	return queryPage[model.Attempt](t, &t.b.tables.attempts, f, p)
}
