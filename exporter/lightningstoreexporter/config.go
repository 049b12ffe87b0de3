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

// defaultStoreExtension is the id of the lightningstore extension, which
// owns the store in the standard configurations.
var defaultStoreExtension = component.MustNewID("lightningstore")

// Config defines the configuration of the lightningstore exporter.
type Config struct {
	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig   configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// Store is the id of the extension that provides the store and the
	// identity policy (it must implement store.Provider and
	// otlpspan.IdentityProvider and be listed under service.extensions).
	// Spans without agentlightning.rollout_id are filed or dropped as its
	// identity section says. Default: lightningstore.
	Store component.ID `mapstructure:"store"`

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
		errs = append(errs, errors.New("store: must name the extension that provides the store, e.g. lightningstore"))
	}
	switch c.UnknownRollouts {
	case otlpspan.UnknownCreate, otlpspan.UnknownReject:
	default:
		errs = append(errs, fmt.Errorf("unknown_rollouts: %q is not one of %q, %q", c.UnknownRollouts, otlpspan.UnknownCreate, otlpspan.UnknownReject))
	}
	return errors.Join(errs...)
}
