package pgstore

import "github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlstore"

// migrations is the PostgreSQL schema, oldest first. Never edit an applied
// migration; append a new one.
var migrations = []sqlstore.Migration{
	{Version: 1, Name: "initial schema", Statements: []string{
		`CREATE TABLE rollouts (
			seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			rollout_id   TEXT COLLATE "C" NOT NULL UNIQUE,
			status       TEXT COLLATE "C" NOT NULL,
			mode         TEXT COLLATE "C",
			resources_id TEXT COLLATE "C",
			start_time   DOUBLE PRECISION NOT NULL,
			end_time     DOUBLE PRECISION,
			doc          TEXT NOT NULL
		)`,
		`CREATE INDEX rollouts_status ON rollouts (status, seq)`,

		`CREATE TABLE attempts (
			seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			rollout_id          TEXT COLLATE "C" NOT NULL,
			attempt_id          TEXT COLLATE "C" NOT NULL,
			sequence_id         BIGINT NOT NULL,
			status              TEXT COLLATE "C" NOT NULL,
			worker_id           TEXT COLLATE "C",
			start_time          DOUBLE PRECISION NOT NULL,
			end_time            DOUBLE PRECISION,
			last_heartbeat_time DOUBLE PRECISION,
			doc                 TEXT NOT NULL,
			UNIQUE (rollout_id, attempt_id)
		)`,
		`CREATE INDEX attempts_rollout_sequence ON attempts (rollout_id, sequence_id, seq)`,

		`CREATE TABLE spans (
			seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			rollout_id  TEXT COLLATE "C" NOT NULL,
			attempt_id  TEXT COLLATE "C" NOT NULL,
			sequence_id BIGINT NOT NULL,
			trace_id    TEXT COLLATE "C" NOT NULL,
			span_id     TEXT COLLATE "C" NOT NULL,
			parent_id   TEXT COLLATE "C",
			name        TEXT COLLATE "C" NOT NULL,
			start_time  DOUBLE PRECISION,
			end_time    DOUBLE PRECISION,
			doc         TEXT NOT NULL,
			UNIQUE (rollout_id, attempt_id, span_id)
		)`,
		`CREATE INDEX spans_rollout_sequence ON spans (rollout_id, sequence_id, seq)`,

		`CREATE TABLE resources (
			seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			resources_id TEXT COLLATE "C" NOT NULL UNIQUE,
			create_time  DOUBLE PRECISION NOT NULL,
			update_time  DOUBLE PRECISION NOT NULL,
			version      BIGINT NOT NULL,
			write_seq    BIGINT NOT NULL,
			doc          TEXT NOT NULL
		)`,
		`CREATE INDEX resources_latest ON resources (update_time, write_seq)`,

		`CREATE TABLE workers (
			seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			worker_id           TEXT COLLATE "C" NOT NULL UNIQUE,
			status              TEXT COLLATE "C" NOT NULL,
			last_heartbeat_time DOUBLE PRECISION,
			last_dequeue_time   DOUBLE PRECISION,
			last_busy_time      DOUBLE PRECISION,
			last_idle_time      DOUBLE PRECISION,
			current_rollout_id  TEXT COLLATE "C",
			current_attempt_id  TEXT COLLATE "C",
			doc                 TEXT NOT NULL
		)`,

		// pos comes from a sequence, never reused, so the queue is FIFO by pos.
		`CREATE TABLE rollout_queue (
			pos        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			rollout_id TEXT COLLATE "C" NOT NULL
		)`,
		`CREATE INDEX rollout_queue_rollout ON rollout_queue (rollout_id)`,

		`CREATE TABLE span_sequence (
			rollout_id TEXT COLLATE "C" PRIMARY KEY,
			value      BIGINT NOT NULL
		)`,

		`CREATE TABLE triplet_revisions (
			rollout_id TEXT COLLATE "C" NOT NULL,
			attempt_id TEXT COLLATE "C" NOT NULL,
			revision   BIGINT NOT NULL,
			PRIMARY KEY (rollout_id, attempt_id)
		)`,
		`CREATE TABLE triplets (
			seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			rollout_id TEXT COLLATE "C" NOT NULL,
			attempt_id TEXT COLLATE "C" NOT NULL,
			revision   BIGINT NOT NULL,
			idx        BIGINT NOT NULL,
			span_id    TEXT COLLATE "C" NOT NULL,
			doc        TEXT NOT NULL
		)`,
		`CREATE INDEX triplets_attempt ON triplets (rollout_id, attempt_id, idx)`,

		`CREATE TABLE messages (
			seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			rollout_id  TEXT COLLATE "C" NOT NULL,
			attempt_id  TEXT COLLATE "C" NOT NULL,
			trace_id    TEXT COLLATE "C" NOT NULL,
			span_id     TEXT COLLATE "C" NOT NULL,
			sequence_id BIGINT NOT NULL,
			doc         TEXT NOT NULL
		)`,
		`CREATE INDEX messages_rollout_sequence ON messages (rollout_id, sequence_id, seq)`,
	}},
	{Version: 2, Name: "watched rollouts", Statements: []string{
		// See the SQLite schema: the watchdog reads only rollouts with limits.
		`ALTER TABLE rollouts ADD COLUMN watched INTEGER NOT NULL DEFAULT 0`,
		`UPDATE rollouts SET watched = 1
			WHERE (doc::jsonb -> 'config' ->> 'timeout_seconds') IS NOT NULL
			   OR (doc::jsonb -> 'config' ->> 'unresponsive_seconds') IS NOT NULL`,
		`CREATE INDEX rollouts_watched ON rollouts (watched, status, seq)`,
	}},
	{Version: 3, Name: "rollout reward for browsing", Statements: []string{
		// See the SQLite schema: reward beside the rollout, indexes for the
		// dashboard's keyset pages.
		`ALTER TABLE rollouts ADD COLUMN reward DOUBLE PRECISION`,
		`UPDATE rollouts SET reward = (SELECT (t.doc::jsonb -> 'triplet' ->> 'reward')::double precision FROM triplets t
			WHERE t.rollout_id = rollouts.rollout_id AND (t.doc::jsonb -> 'triplet' ->> 'reward') IS NOT NULL
			ORDER BY t.revision DESC, t.idx DESC, t.seq DESC LIMIT 1)`,
		`CREATE INDEX rollouts_start ON rollouts (start_time, seq)`,
		`CREATE INDEX rollouts_status_start ON rollouts (status, start_time, seq)`,
		`CREATE INDEX rollouts_reward ON rollouts (reward, seq, start_time, resources_id) WHERE reward IS NOT NULL`,
	}},
	{Version: 4, Name: "agent lightning v1.0", Statements: []string{
		// See the SQLite schema. The counter row's lock serialises the
		// completion log's appends across every collector on the database.
		`CREATE TABLE rollout_ext (
			rollout_id TEXT COLLATE "C" PRIMARY KEY,
			api        TEXT COLLATE "C" NOT NULL,
			doc        TEXT NOT NULL
		)`,
		// v1.0's list reads v1-owned rollouts without reading the
		// (possibly many) automatic v0.3 rollouts that are running.
		`CREATE INDEX rollout_ext_api ON rollout_ext (api)`,
		`CREATE TABLE terminal_counter (
			id    INTEGER PRIMARY KEY,
			value BIGINT NOT NULL
		)`,
		`INSERT INTO terminal_counter (id, value) VALUES (1, 0)`,
		`CREATE TABLE terminal_log (
			pos        BIGINT PRIMARY KEY,
			rollout_id TEXT COLLATE "C" NOT NULL
		)`,
		`CREATE TABLE llm_models (
			name     TEXT COLLATE "C" NOT NULL,
			endpoint TEXT COLLATE "C" NOT NULL,
			version  BIGINT NOT NULL,
			PRIMARY KEY (name, endpoint)
		)`,
	}},
}
