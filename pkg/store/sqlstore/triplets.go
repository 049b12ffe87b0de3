package sqlstore

import (
	"database/sql"
	"errors"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// ReplaceTriplets keeps the attempt's revision in triplet_revisions rather
// than deriving it from the triplet rows, so replacing with an empty list
// still fences off older revisions.
func (t *tx) ReplaceTriplets(rolloutID, attemptID string, revision int, ts []model.TripletRecord) (bool, error) {
	const op = "replace triplets"
	stored, found, err := t.tripletRevision(op, rolloutID, attemptID)
	if err == nil && !found {
		// A concurrent first write of this attempt's triplets is waited
		// for, so its revision is compared with ours.
		var locked bool
		if locked, err = t.lockKey(op, "triplet_revisions", rolloutID, attemptID); locked {
			stored, found, err = t.tripletRevision(op, rolloutID, attemptID)
		}
	}
	if err != nil {
		return false, err
	}
	if revision <= store.NextRevision {
		revision = stored + 1 // 1 when none is stored
	} else if found && revision < stored {
		return false, nil
	}
	if _, err := t.exec(stmtSetTripletRevision, rolloutID, attemptID, revision); err != nil {
		return false, t.wrap(op, err)
	}
	if _, err := t.exec(stmtDeleteTriplets, rolloutID, attemptID); err != nil {
		return false, t.wrap(op, err)
	}
	// The records are stored as given; the columns file them under this
	// attempt and revision.
	for _, tr := range ts {
		tr.RolloutID, tr.AttemptID, tr.Revision = rolloutID, attemptID, revision
		tr.Triplet.Prompt = model.RawOrNull(tr.Triplet.Prompt)
		tr.Triplet.Response = model.RawOrNull(tr.Triplet.Response)
		tr.Triplet.Metadata = model.RawOrNull(tr.Triplet.Metadata)
		doc, err := marshalDoc(op, tr)
		if err != nil {
			return false, err
		}
		if _, err := t.exec(stmtInsertTriplet, rolloutID, attemptID, revision, tr.Index, tr.SpanID, doc); err != nil {
			return false, t.wrap(op, err)
		}
	}
	// The rollout's reward column (browsing, store.BrowseQuery) follows the
	// triplets written last.
	if _, err := t.exec(stmtSetRolloutReward, store.TripletsReward(ts), rolloutID); err != nil {
		return false, t.wrap(op, err)
	}
	return true, nil
}

// tripletRevision reads (and in Update locks) the attempt's stored revision.
func (t *tx) tripletRevision(op, rolloutID, attemptID string) (int, bool, error) {
	var stored int
	err := t.queryRow(stmtTripletRevision, rolloutID, attemptID).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, t.wrap(op, err)
	}
	return stored, true, nil
}

// QueryTriplets returns one attempt's triplets by index, or with an empty
// attemptID the whole rollout's, attempt after attempt.
func (t *tx) QueryTriplets(rolloutID, attemptID string) ([]model.TripletRecord, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if attemptID == "" {
		rows, err = t.query(stmtTripletsOfRollout, rolloutID)
	} else {
		rows, err = t.query(stmtTripletsOfAttempt, rolloutID, attemptID)
	}
	return decodeDocs[model.TripletRecord](t, "query triplets", rows, err)
}

func (t *tx) InsertMessages(msgs []model.MessageRecord) error {
	const op = "insert messages"
	for _, m := range msgs {
		m.Body = model.RawOrNull(m.Body)
		m.Attributes = model.RawOrNull(m.Attributes)
		doc, err := marshalDoc(op, m)
		if err != nil {
			return err
		}
		if _, err := t.exec(stmtInsertMessage, m.RolloutID, m.AttemptID, m.TraceID, m.SpanID, m.SequenceID, doc); err != nil {
			return t.wrap(op, err)
		}
	}
	return nil
}

// MaxMessageSequence reads the rollout's greatest message sequence id (the
// messages_rollout_sequence index answers it).
func (t *tx) MaxMessageSequence(rolloutID string) (int, error) {
	var v int
	if err := t.queryRow(stmtMaxMessageSequence, rolloutID).Scan(&v); err != nil {
		return 0, t.wrap("read message sequence", err)
	}
	return v, nil
}

// QueryMessages returns messages by sequence id then insertion; an empty
// attemptID selects every attempt of the rollout.
func (t *tx) QueryMessages(rolloutID, attemptID string) ([]model.MessageRecord, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if attemptID == "" {
		rows, err = t.query(stmtMessagesOfRollout, rolloutID)
	} else {
		rows, err = t.query(stmtMessagesOfAttempt, rolloutID, attemptID)
	}
	return decodeDocs[model.MessageRecord](t, "query messages", rows, err)
}
