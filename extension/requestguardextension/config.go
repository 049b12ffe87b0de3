package requestguardextension // import "github.com/otelcol-lightning/otelcol-lightning/extension/requestguardextension"

import (
	"fmt"
	"time"
)

// Config of the requestguard extension. The depth limit is not configurable:
// it is depthlimit.Max, the one limit of every door, chosen below what every
// reader of stored data accepts.
type Config struct {
	// HandshakeTimeout bounds how long a new gRPC connection may take to
	// send its HTTP/2 preface (and finish TLS), so clients that open
	// connections and trickle bytes are cut off; configgrpc does not expose
	// gRPC's own setting (grpc.ConnectionTimeout, 120 s by default). Applies
	// to the gRPC servers that list this middleware. Default: 10s.
	HandshakeTimeout time.Duration `mapstructure:"handshake_timeout"`

	_ struct{}
}

// Validate rejects a handshake timeout that is not positive.
func (c *Config) Validate() error {
	if c.HandshakeTimeout <= 0 {
		return fmt.Errorf("handshake_timeout: must be positive, got %s", c.HandshakeTimeout)
	}
	return nil
}
