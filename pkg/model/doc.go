// Package model holds the Agent Lightning v0.3 data model (rollouts, attempts,
// spans, resources, workers, triplets) with the exact JSON encoding the Python
// LightningStoreClient expects: snake_case keys, float seconds since the epoch,
// optional fields present as null, and unknown span keys preserved.
package model
