package trainerreceiver

import (
	"errors"

	"go.opentelemetry.io/collector/component"
)

// Config of the trainer receiver.
type Config struct {
	// Extension is the id of the trainer extension whose /v1/traces endpoint
	// this receiver drains. Default: trainer.
	Extension component.ID `mapstructure:"extension"`

	_ struct{}
}

// Validate checks that an extension is named.
func (c *Config) Validate() error {
	if c.Extension.Type().String() == "" {
		return errors.New("extension: must name the trainer extension (for example \"trainer\")")
	}
	return nil
}
