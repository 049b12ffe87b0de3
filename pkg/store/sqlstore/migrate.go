package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL
)`

// migrate applies the dialect's missing migrations in one transaction, so a
// failed step leaves the database as it was.
func migrate(ctx context.Context, d Dialect, db *sql.DB) error {
	ms := d.Migrations()
	for i := 1; i < len(ms); i++ {
		if ms[i].Version <= ms[i-1].Version {
			return fmt.Errorf("migrations out of order: %d after %d", ms[i].Version, ms[i-1].Version)
		}
	}
	tx, err := db.BeginTx(ctx, d.UpdateTxOptions())
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if lock := d.MigrationLock(); lock != "" {
		if _, err := tx.ExecContext(ctx, lock); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return err
	}
	if len(ms) > 0 {
		if latest := ms[len(ms)-1].Version; len(applied) > 0 && maxKey(applied) > latest {
			return fmt.Errorf("database schema version %d is newer than this build supports (%d)", maxKey(applied), latest)
		}
	}
	insert := d.Rebind(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`)
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		for _, stmt := range m.Statements {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, insert, m.Version, m.Name); err != nil {
			return fmt.Errorf("record migration %d: %w", m.Version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}

func appliedVersions(ctx context.Context, tx *sql.Tx) (map[int]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func maxKey(m map[int]bool) int {
	first, out := true, 0
	for k := range m {
		if first || k > out {
			out, first = k, false
		}
	}
	return out
}
