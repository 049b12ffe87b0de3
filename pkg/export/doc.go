// Package export streams training datasets out of an Agent Lightning store
// as JSON Lines: OpenAI fine-tuning examples (sft), Agent Lightning
// triplets (triplets) and token-level rows for verl-style RL with loss
// masks (trajectories). It reads the store rollout by rollout through the
// store.Store interface, so it works on any backend, over the collector's
// GET /v1/lightning/export route and from the command line alike.
// docs/exports.md documents each format.
package export // import "github.com/otelcol-lightning/otelcol-lightning/pkg/export"
