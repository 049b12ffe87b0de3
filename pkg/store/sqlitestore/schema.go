package sqlitestore

import "github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlstore"

// migrations is the SQLite schema, oldest first. Never edit an applied
// migration; append a new one.
var migrations = []sqlstore.Migration{
	{Version: 1, Name: "initial schema", Statements: []string{
		`CREATE TABLE rollouts (
			seq          INTEGER PRIMARY KEY AUTOINCREMENT,
			rollout_id   TEXT NOT NULL UNIQUE,
			status       TEXT NOT NULL,
			mode         TEXT,
			resources_id TEXT,
			start_time   REAL NOT NULL,
			end_time     REAL,
			doc          TEXT NOT NULL
		)`,
		`CREATE INDEX rollouts_status ON rollouts (status, seq)`,

		`CREATE TABLE attempts (
			seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
			rollout_id          TEXT NOT NULL,
			attempt_id          TEXT NOT NULL,
			sequence_id         INTEGER NOT NULL,
			status              TEXT NOT NULL,
			worker_id           TEXT,
			start_time          REAL NOT NULL,
			end_time            REAL,
			last_heartbeat_time REAL,
			doc                 TEXT NOT NULL,
			UNIQUE (rollout_id, attempt_id)
		)`,
		`CREATE INDEX attempts_rollout_sequence ON attempts (rollout_id, sequence_id, seq)`,

		`CREATE TABLE spans (
			seq         INTEGER PRIMARY KEY AUTOINCREMENT,
			rollout_id  TEXT NOT NULL,
			attempt_id  TEXT NOT NULL,
			sequence_id INTEGER NOT NULL,
			trace_id    TEXT NOT NULL,
			span_id     TEXT NOT NULL,
			parent_id   TEXT,
			name        TEXT NOT NULL,
			start_time  REAL,
			end_time    REAL,
			doc         TEXT NOT NULL,
			UNIQUE (rollout_id, attempt_id, span_id)
		)`,
		`CREATE INDEX spans_rollout_sequence ON spans (rollout_id, sequence_id, seq)`,

		`CREATE TABLE resources (
			seq          INTEGER PRIMARY KEY AUTOINCREMENT,
			resources_id TEXT NOT NULL UNIQUE,
			create_time  REAL NOT NULL,
			update_time  REAL NOT NULL,
			version      INTEGER NOT NULL,
			write_seq    INTEGER NOT NULL,
			doc          TEXT NOT NULL
		)`,
		`CREATE INDEX resources_latest ON resources (update_time, write_seq)`,

		`CREATE TABLE workers (
			seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
			worker_id           TEXT NOT NULL UNIQUE,
			status              TEXT NOT NULL,
			last_heartbeat_time REAL,
			last_dequeue_time   REAL,
			last_busy_time      REAL,
			last_idle_time      REAL,
			current_rollout_id  TEXT,
			current_attempt_id  TEXT,
			doc                 TEXT NOT NULL
		)`,

		`CREATE TABLE rollout_queue (
			pos        INTEGER PRIMARY KEY AUTOINCREMENT,
			rollout_id TEXT NOT NULL
		)`,
		`CREATE INDEX rollout_queue_rollout ON rollout_queue (rollout_id)`,

		`CREATE TABLE span_sequence (
			rollout_id TEXT PRIMARY KEY,
			value      INTEGER NOT NULL
		) WITHOUT ROWID`,

		`CREATE TABLE triplet_revisions (
			rollout_id TEXT NOT NULL,
			attempt_id TEXT NOT NULL,
			revision   INTEGER NOT NULL,
			PRIMARY KEY (rollout_id, attempt_id)
		) WITHOUT ROWID`,
		`CREATE TABLE triplets (
			seq        INTEGER PRIMARY KEY AUTOINCREMENT,
			rollout_id TEXT NOT NULL,
			attempt_id TEXT NOT NULL,
			revision   INTEGER NOT NULL,
			idx        INTEGER NOT NULL,
			span_id    TEXT NOT NULL,
			doc        TEXT NOT NULL
		)`,
		`CREATE INDEX triplets_attempt ON triplets (rollout_id, attempt_id, idx)`,

		`CREATE TABLE messages (
			seq         INTEGER PRIMARY KEY AUTOINCREMENT,
			rollout_id  TEXT NOT NULL,
			attempt_id  TEXT NOT NULL,
			trace_id    TEXT NOT NULL,
			span_id     TEXT NOT NULL,
			sequence_id INTEGER NOT NULL,
			doc         TEXT NOT NULL
		)`,
		`CREATE INDEX messages_rollout_sequence ON messages (rollout_id, sequence_id, seq)`,
	}},
	{Version: 2, Name: "watched rollouts", Statements: []string{
		// The watchdog scanned every active rollout each tick; automatic
		// rollouts (one per unlabelled trace) stay running and have no
		// limits, so the scan grew with the store and held the writer.
		`ALTER TABLE rollouts ADD COLUMN watched INTEGER NOT NULL DEFAULT 0`,
		`UPDATE rollouts SET watched = 1
			WHERE json_extract(doc, '$.config.timeout_seconds') IS NOT NULL
			   OR json_extract(doc, '$.config.unresponsive_seconds') IS NOT NULL`,
		`CREATE INDEX rollouts_watched ON rollouts (watched, status, seq)`,
	}},
	{Version: 3, Name: "rollout reward for browsing", Statements: []string{
		// The dashboard filters and sorts rollouts by reward and pages them
		// by start time at a million rows; the reward (the last non-null
		// reward of the triplets written last) is kept beside the rollout
		// so both are index range scans; rollouts_reward also covers the
		// reward curve's GROUP BY (start time, resources version).
		`ALTER TABLE rollouts ADD COLUMN reward REAL`,
		`UPDATE rollouts SET reward = (SELECT json_extract(t.doc, '$.triplet.reward') FROM triplets t
			WHERE t.rollout_id = rollouts.rollout_id AND json_extract(t.doc, '$.triplet.reward') IS NOT NULL
			ORDER BY t.revision DESC, t.idx DESC, t.seq DESC LIMIT 1)`,
		`CREATE INDEX rollouts_start ON rollouts (start_time, seq)`,
		`CREATE INDEX rollouts_status_start ON rollouts (status, start_time, seq)`,
		`CREATE INDEX rollouts_reward ON rollouts (reward, seq, start_time, resources_id) WHERE reward IS NOT NULL`,
	}},
	{Version: 4, Name: "agent lightning v1.0", Statements: []string{
		// The v1.0 lifecycle of a rollout, and status.version, beside its
		// v0.3 record.
		`CREATE TABLE rollout_ext (
			rollout_id TEXT PRIMARY KEY,
			api        TEXT NOT NULL,
			doc        TEXT NOT NULL
		) WITHOUT ROWID`,
		// v1.0's list reads v1-owned rollouts without reading the
		// (possibly many) automatic v0.3 rollouts that are running.
		`CREATE INDEX rollout_ext_api ON rollout_ext (api)`,
		// The completion cursor: positions from one counter, taken in the
		// transaction that makes the rollout terminal.
		`CREATE TABLE terminal_counter (
			id    INTEGER PRIMARY KEY,
			value INTEGER NOT NULL
		)`,
		`INSERT INTO terminal_counter (id, value) VALUES (1, 0)`,
		`CREATE TABLE terminal_log (
			pos        INTEGER PRIMARY KEY,
			rollout_id TEXT NOT NULL
		)`,
		`CREATE TABLE llm_models (
			name     TEXT NOT NULL,
			endpoint TEXT NOT NULL,
			version  INTEGER NOT NULL,
			PRIMARY KEY (name, endpoint)
		) WITHOUT ROWID`,
	}},
}
