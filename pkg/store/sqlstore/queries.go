package sqlstore

// stmtID names one of the fixed statements. Write transactions run them
// through statements prepared once on the writer pool; read transactions
// run the same text without the row locks.
type stmtID int

const (
	stmtGetRollout stmtID = iota
	stmtInsertRollout
	stmtUpdateRollout
	stmtWatchedRollouts
	stmtGetAttempt
	stmtCountAttempts
	stmtInsertAttempt
	stmtUpdateAttempt
	stmtQueuePush
	stmtQueuePop
	stmtQueueContains
	stmtSeqRaise
	stmtSeqIncrement
	stmtInsertSpan
	stmtGetResources
	stmtPutResources
	stmtLatestResources
	stmtGetWorker
	stmtPutWorker
	stmtTripletRevision
	stmtSetTripletRevision
	stmtDeleteTriplets
	stmtInsertTriplet
	stmtSetRolloutReward
	stmtTripletsOfAttempt
	stmtTripletsOfRollout
	stmtInsertMessage
	stmtMessagesOfAttempt
	stmtMessagesOfRollout
	stmtMaxMessageSequence
	stmtCounts
	numStmts
)

// queries holds the rebound text of every fixed statement: sql for write
// transactions (with the dialect's row locks) and read for read-only ones.
type queries struct {
	sql  [numStmts]string
	read [numStmts]string
}

func buildQueries(d Dialect) queries {
	lock := d.ForUpdate()
	if lock != "" {
		lock = " " + lock
	}
	var q queries
	set := func(id stmtID, text string, locked bool) {
		q.read[id] = d.Rebind(text)
		if locked {
			text += lock
		}
		q.sql[id] = d.Rebind(text)
	}

	set(stmtGetRollout, `SELECT doc FROM rollouts WHERE rollout_id = ?`, true)
	set(stmtInsertRollout, `INSERT INTO rollouts (rollout_id, status, mode, resources_id, start_time, end_time, watched, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, false)
	set(stmtUpdateRollout, `UPDATE rollouts SET status = ?, mode = ?, resources_id = ?, start_time = ?, end_time = ?, watched = ?,
		doc = ? WHERE rollout_id = ?`, false)
	// Locked in Update: the watchdog then reads the attempts of rollouts
	// nobody else can change before it commits.
	// rollouts_watched (watched, status, seq) in both schemas makes this
	// cost the watched rollouts, not every active one.
	set(stmtWatchedRollouts, `SELECT doc FROM rollouts WHERE watched = 1 AND status IN ('preparing', 'running')
		ORDER BY seq`, true)

	set(stmtGetAttempt, `SELECT doc FROM attempts WHERE rollout_id = ? AND attempt_id = ?`, true)
	set(stmtCountAttempts, `SELECT COUNT(*) FROM attempts WHERE rollout_id = ?`, false)
	set(stmtInsertAttempt, `INSERT INTO attempts (rollout_id, attempt_id, sequence_id, status, worker_id,
		start_time, end_time, last_heartbeat_time, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, false)
	set(stmtUpdateAttempt, `UPDATE attempts SET sequence_id = ?, status = ?, worker_id = ?, start_time = ?,
		end_time = ?, last_heartbeat_time = ?, doc = ? WHERE rollout_id = ? AND attempt_id = ?`, false)

	set(stmtQueuePush, `INSERT INTO rollout_queue (rollout_id) VALUES (?)`, false)
	set(stmtQueuePop, d.QueuePop(), false)
	set(stmtQueueContains, `SELECT 1 FROM rollout_queue WHERE rollout_id = ? LIMIT 1`, false)

	set(stmtSeqRaise, `INSERT INTO span_sequence (rollout_id, value) VALUES (?, ?)
		ON CONFLICT (rollout_id) DO UPDATE SET value = `+d.Greatest("span_sequence.value", "excluded.value"), false)
	set(stmtSeqIncrement, `INSERT INTO span_sequence (rollout_id, value) VALUES (?, ?)
		ON CONFLICT (rollout_id) DO UPDATE SET value = span_sequence.value + excluded.value
		RETURNING value`, false)
	set(stmtInsertSpan, `INSERT INTO spans (rollout_id, attempt_id, sequence_id, trace_id, span_id, parent_id, name,
		start_time, end_time, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, false)

	set(stmtGetResources, `SELECT doc FROM resources WHERE resources_id = ?`, true)
	// write_seq orders snapshots written with the same update_time.
	set(stmtPutResources, `INSERT INTO resources (resources_id, create_time, update_time, version, write_seq, doc)
		VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(write_seq), 0) + 1 FROM resources), ?)
		ON CONFLICT (resources_id) DO UPDATE SET create_time = excluded.create_time,
		update_time = excluded.update_time, version = excluded.version, write_seq = excluded.write_seq,
		doc = excluded.doc`, false)
	set(stmtLatestResources, `SELECT doc FROM resources ORDER BY update_time DESC, write_seq DESC LIMIT 1`, false)

	set(stmtGetWorker, `SELECT doc FROM workers WHERE worker_id = ?`, true)
	set(stmtPutWorker, `INSERT INTO workers (worker_id, status, last_heartbeat_time, last_dequeue_time,
		last_busy_time, last_idle_time, current_rollout_id, current_attempt_id, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (worker_id) DO UPDATE SET status = excluded.status,
		last_heartbeat_time = excluded.last_heartbeat_time, last_dequeue_time = excluded.last_dequeue_time,
		last_busy_time = excluded.last_busy_time, last_idle_time = excluded.last_idle_time,
		current_rollout_id = excluded.current_rollout_id, current_attempt_id = excluded.current_attempt_id,
		doc = excluded.doc`, false)

	set(stmtTripletRevision, `SELECT revision FROM triplet_revisions WHERE rollout_id = ? AND attempt_id = ?`, true)
	set(stmtSetTripletRevision, `INSERT INTO triplet_revisions (rollout_id, attempt_id, revision) VALUES (?, ?, ?)
		ON CONFLICT (rollout_id, attempt_id) DO UPDATE SET revision = excluded.revision`, false)
	set(stmtDeleteTriplets, `DELETE FROM triplets WHERE rollout_id = ? AND attempt_id = ?`, false)
	set(stmtInsertTriplet, `INSERT INTO triplets (rollout_id, attempt_id, revision, idx, span_id, doc)
		VALUES (?, ?, ?, ?, ?, ?)`, false)
	set(stmtSetRolloutReward, `UPDATE rollouts SET reward = ? WHERE rollout_id = ?`, false)
	set(stmtTripletsOfAttempt, `SELECT doc FROM triplets WHERE rollout_id = ? AND attempt_id = ? ORDER BY idx, seq`, false)
	// Triplets of a whole rollout come attempt by attempt, in attempt order.
	set(stmtTripletsOfRollout, `SELECT t.doc FROM triplets t
		LEFT JOIN attempts a ON a.rollout_id = t.rollout_id AND a.attempt_id = t.attempt_id
		WHERE t.rollout_id = ? ORDER BY COALESCE(a.sequence_id, 0), t.attempt_id, t.idx, t.seq`, false)

	set(stmtInsertMessage, `INSERT INTO messages (rollout_id, attempt_id, trace_id, span_id, sequence_id, doc)
		VALUES (?, ?, ?, ?, ?, ?)`, false)
	set(stmtMessagesOfAttempt, `SELECT doc FROM messages WHERE rollout_id = ? AND attempt_id = ? ORDER BY sequence_id, seq`, false)
	set(stmtMaxMessageSequence, `SELECT COALESCE(MAX(sequence_id), 0) FROM messages WHERE rollout_id = ?`, false)
	set(stmtMessagesOfRollout, `SELECT doc FROM messages WHERE rollout_id = ? ORDER BY sequence_id, seq`, false)

	set(stmtCounts, `SELECT (SELECT COUNT(*) FROM rollouts), (SELECT COUNT(*) FROM attempts),
		(SELECT COUNT(*) FROM spans), (SELECT COUNT(*) FROM resources), (SELECT COUNT(*) FROM workers),
		(SELECT COUNT(*) FROM triplets), (SELECT COUNT(*) FROM messages)`, false)
	return q
}
