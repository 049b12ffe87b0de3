package store

// Provider is implemented by the component that owns a store (the
// lightningstore extension). Other components look it up by component id through
// host.GetExtensions() and type-assert it to Provider, the way exporters find
// storage extensions.
type Provider interface {
	LightningStore() Store
}

// DataDirProvider is implemented by a store owner whose store lives in a
// local directory (the SQLite backend). Components that write files of
// their own next to the store's (the trainer's report) ask it; stores with
// no local directory (memory, PostgreSQL) return "".
type DataDirProvider interface {
	DataDir() string
}
