// Package llmmodels is where the component that keeps the model registry
// (the lightningstore extension, fed by Agent Lightning v1.0's /api/models)
// and the components that route model calls (the llmproxy receiver) meet.
// Neither imports the other: the proxy finds a Registry on the host.
package llmmodels

import "context"

// Model is one inference endpoint serving a model name, Agent Lightning
// v1.0's Model: registering the same (Name, Endpoint) again replaces its
// Version.
type Model struct {
	// Name is the model name clients ask for (and the name sent upstream).
	Name string `json:"model"`
	// Endpoint is an OpenAI-compatible base URL, such as http://host:8000/v1.
	Endpoint string `json:"endpoint"`
	// Version is the weights version the trainer says the endpoint serves.
	Version int `json:"version"`
}

// Registry is implemented by the owner of the registered models. Models are
// durable and shared by every collector on the same store, so a proxy on one
// machine routes to models a trainer registered through another.
type Registry interface {
	// UpsertModels registers models, keyed by (Name, Endpoint).
	UpsertModels(ctx context.Context, models []Model) error
	// DeleteModels removes every registered model.
	DeleteModels(ctx context.Context) error
	// Models lists the registered models, sorted by Name then Endpoint.
	Models(ctx context.Context) ([]Model, error)
}
