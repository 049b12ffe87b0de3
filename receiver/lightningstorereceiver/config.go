package lightningstorereceiver

import (
	"errors"

	"go.opentelemetry.io/collector/component"
)

// Config of the lightningstore receiver.
type Config struct {
	// Extension is the id of the lightningstore extension whose /v1/traces
	// endpoint this receiver drains. Default: lightningstore.
	Extension component.ID `mapstructure:"extension"`

	_ struct{}
}

// Validate checks that an extension is named.
func (c *Config) Validate() error {
	if c.Extension.Type().String() == "" {
		return errors.New("extension: must name the lightningstore extension (for example \"lightningstore\")")
	}
	return nil
}
