package otlpspan

// IdentityProvider is implemented by the component that owns the identity
// policy (the lightningstore extension). The components that must file a
// span under the same rollout as the store does (the lightningstore
// exporter, the triplet processor, the messages connector) look it up by
// component id through host.GetExtensions() and ask it in their Start, so
// the policy is configured once instead of once per component.
type IdentityProvider interface {
	// IdentityPolicy returns Unlabeled and AutoKey, already validated and
	// defaulted. Unknown is left empty: what the store does with unknown
	// rollouts is each writer's own choice.
	IdentityPolicy() Config
}
