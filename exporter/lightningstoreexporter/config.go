package lightningstoreexporter // import "github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter"

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

// defaultStoreExtension is the id of the trainer extension, which owns the
// store in the standard configurations.
var defaultStoreExtension = component.MustNewID("trainer")

// Config defines the configuration of the lightningstore exporter.
type Config struct {
	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig   configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// Store is the id of the extension that provides the store (it must
	// implement store.Provider and be listed under service.extensions).
	// Default: trainer.
	Store component.ID `mapstructure:"store"`

	// Unlabeled is what happens to spans that carry no
	// agentlightning.rollout_id: "auto" files them under an automatic rollout
	// ro-<key>, "drop" drops them as Agent Lightning does. Default: auto.
	Unlabeled otlpspan.UnlabeledPolicy `mapstructure:"unlabeled"`

	// AutoRolloutKey keys automatic rollouts: "trace_id", or the name of a
	// span or resource attribute such as gen_ai.conversation.id or
	// session.id (spans without it fall back to their trace id).
	// Default: trace_id.
	AutoRolloutKey string `mapstructure:"auto_rollout_key"`

	// UnknownRollouts is what the store does with spans labeled with a
	// rollout or attempt it does not know: "create" creates them (metadata
	// {"source":"otlp"}), "reject" refuses the spans. Default: create.
	UnknownRollouts otlpspan.UnknownPolicy `mapstructure:"unknown_rollouts"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var (
	_ component.Config  = (*Config)(nil)
	_ confmap.Validator = (*Config)(nil)
)

// Validate checks the exporter's own fields; the collector validates the
// nested timeout, queue and retry sections itself.
func (c *Config) Validate() error {
	var errs []error
	if c.Store.Type().String() == "" {
		errs = append(errs, errors.New("store: must name the extension that provides the store, e.g. trainer"))
	}
	if err := c.resolverConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.AutoRolloutKey == "" {
		errs = append(errs, fmt.Errorf("auto_rollout_key: must be %q or an attribute name", otlpspan.AutoKeyTraceID))
	}
	if c.Unlabeled == "" {
		errs = append(errs, fmt.Errorf("unlabeled: must be %q or %q", otlpspan.UnlabeledAuto, otlpspan.UnlabeledDrop))
	}
	if c.UnknownRollouts == "" {
		errs = append(errs, fmt.Errorf("unknown_rollouts: must be %q or %q", otlpspan.UnknownCreate, otlpspan.UnknownReject))
	}
	return errors.Join(errs...)
}

func (c *Config) resolverConfig() otlpspan.Config {
	return otlpspan.Config{Unlabeled: c.Unlabeled, AutoKey: c.AutoRolloutKey, Unknown: c.UnknownRollouts}
}
