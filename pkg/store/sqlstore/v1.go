package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// The tables of Agent Lightning v1.0's API (migration 3 of each dialect):
//
//	rollout_ext(rollout_id primary key, api, doc)
//	terminal_counter(id primary key, value), one row with id 1
//	terminal_log(pos primary key, rollout_id)
//	llm_models(name, endpoint, version), primary key (name, endpoint)
//
// They are used rarely enough (once per v1 request or status change) that
// their statements are run-time texts, prepared by the statement cache.

func (t *tx) GetRolloutExt(rolloutID string) (*model.RolloutExt, error) {
	var doc []byte
	err := t.queryRowText(t.b.d.Rebind(`SELECT doc FROM rollout_ext WHERE rollout_id = ?`), rolloutID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, t.wrap("get rollout extension", err)
	}
	out := new(model.RolloutExt)
	if err := json.Unmarshal(doc, out); err != nil {
		return nil, fmt.Errorf("get rollout extension: decode stored document: %w", err)
	}
	return out, nil
}

func (t *tx) PutRolloutExt(e *model.RolloutExt) error {
	const op = "put rollout extension"
	doc, err := marshalDoc(op, e)
	if err != nil {
		return err
	}
	_, err = t.execText(t.b.d.Rebind(`INSERT INTO rollout_ext (rollout_id, api, doc) VALUES (?, ?, ?)
		ON CONFLICT (rollout_id) DO UPDATE SET api = excluded.api, doc = excluded.doc`), e.RolloutID, e.API, doc)
	return t.wrap(op, err)
}

func (t *tx) V1Rollouts(states []string, limit int) ([]model.Rollout, error) {
	if len(states) == 0 || limit == 0 {
		return []model.Rollout{}, nil
	}
	args := make([]any, 0, len(states)+2)
	args = append(args, model.APIv1)
	for _, s := range states {
		args = append(args, s)
	}
	// From rollout_ext (indexed by api): the store may hold many more
	// running v0.3 rollouts (one per unlabelled trace) than v1.0 ones.
	q := `SELECT r.doc FROM rollout_ext e JOIN rollouts r ON r.rollout_id = e.rollout_id
		WHERE e.api = ? AND r.status IN (` + placeholders(len(states)) + `) ORDER BY r.seq`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := t.queryText(t.b.d.Rebind(q), args...)
	return decodeDocs[model.Rollout](t, "v1 rollouts", rows, err)
}

func (t *tx) AppendTerminal(rolloutID string) (int, error) {
	const op = "append to the completion log"
	var pos int
	// The counter row is locked by the UPDATE until commit: appends from
	// every process are serialised and commit in position order.
	err := t.queryRowText(`UPDATE terminal_counter SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&pos)
	if err != nil {
		return 0, t.wrap(op, err)
	}
	_, err = t.execText(t.b.d.Rebind(`INSERT INTO terminal_log (pos, rollout_id) VALUES (?, ?)`), pos, rolloutID)
	if err != nil {
		return 0, t.wrap(op, err)
	}
	return pos, nil
}

func (t *tx) TerminalLog(after, limit int) ([]string, int, error) {
	const op = "read the completion log"
	var total int
	if err := t.queryRowText(`SELECT value FROM terminal_counter WHERE id = 1`).Scan(&total); err != nil {
		return nil, 0, t.wrap(op, err)
	}
	rows, err := t.queryText(t.b.d.Rebind(`SELECT rollout_id FROM terminal_log WHERE pos > ? AND pos <= ? ORDER BY pos`),
		after, after+limit)
	if err != nil {
		return nil, 0, t.wrap(op, err)
	}
	ids, err := scanStrings(rows)
	if err != nil {
		return nil, 0, t.wrap(op, err)
	}
	return ids, total, nil
}

func (t *tx) SpanAttempts(rolloutID string) ([]string, error) {
	rows, err := t.queryText(t.b.d.Rebind(`SELECT attempt_id FROM spans WHERE rollout_id = ?
		GROUP BY attempt_id ORDER BY MIN(seq)`), rolloutID)
	if err != nil {
		return nil, t.wrap("attempts with spans", err)
	}
	ids, err := scanStrings(rows)
	return ids, t.wrap("attempts with spans", err)
}

func (t *tx) DeleteRollout(rolloutID string) error {
	for _, table := range []string{"rollouts", "attempts", "spans", "rollout_queue", "span_sequence",
		"triplet_revisions", "triplets", "messages", "rollout_ext"} {
		if _, err := t.execText(t.b.d.Rebind(`DELETE FROM `+table+` WHERE rollout_id = ?`), rolloutID); err != nil {
			return t.wrap("delete rollout from "+table, err)
		}
	}
	return nil
}

func (t *tx) UpsertModels(models []llmmodels.Model) error {
	q := t.b.d.Rebind(`INSERT INTO llm_models (name, endpoint, version) VALUES (?, ?, ?)
		ON CONFLICT (name, endpoint) DO UPDATE SET version = excluded.version`)
	for _, m := range models {
		if _, err := t.execText(q, m.Name, m.Endpoint, m.Version); err != nil {
			return t.wrap("register model", err)
		}
	}
	return nil
}

func (t *tx) DeleteModels() error {
	_, err := t.execText(`DELETE FROM llm_models`)
	return t.wrap("delete models", err)
}

func (t *tx) Models() ([]llmmodels.Model, error) {
	const op = "list models"
	rows, err := t.queryText(`SELECT name, endpoint, version FROM llm_models ORDER BY name, endpoint`)
	if err != nil {
		return nil, t.wrap(op, err)
	}
	defer rows.Close()
	out := []llmmodels.Model{}
	for rows.Next() {
		var m llmmodels.Model
		if err := rows.Scan(&m.Name, &m.Endpoint, &m.Version); err != nil {
			return nil, t.wrap(op, err)
		}
		out = append(out, m)
	}
	return out, t.wrap(op, rows.Err())
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
