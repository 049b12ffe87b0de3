// Package sqlstore implements store.Backend over database/sql. Everything
// that differs between databases (placeholders, substring tests, JSON access,
// row locks, how to pop the queue without two transactions claiming one row,
// which errors are worth retrying, the schema itself) sits behind Dialect, so
// SQLite and PostgreSQL share the queries, the filter and sort translation
// and the record encoding.
//
// Every table keeps the scalar columns that filters, sorts and look-ups need
// plus the record's full JSON document in a doc column, which is what reads
// decode: the document is the source of truth (unknown span keys round-trip)
// and the columns are its index. Each table has an increasing seq column,
// the insertion order that breaks sort ties.
package sqlstore
