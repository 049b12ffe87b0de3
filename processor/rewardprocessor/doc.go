//go:generate go -C ../../internal/tools tool mdatagen ${PWD}/metadata.yaml

// Package rewardprocessor rewrites every known reward encoding on spans (and
// evaluation events on log records) into Agent Lightning's canonical
// agentlightning.reward.<i>.name/value attributes, so later components read
// one form. See README.md.
package rewardprocessor // import "github.com/otelcol-lightning/otelcol-lightning/processor/rewardprocessor"
