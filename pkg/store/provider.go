package store

// Provider is implemented by the component that owns a store (the trainer
// extension). Other components look it up by component id through
// host.GetExtensions() and type-assert it to Provider, the way exporters find
// storage extensions.
type Provider interface {
	LightningStore() Store
}
