package requestguardextension // import "github.com/otelcol-lightning/otelcol-lightning/extension/requestguardextension"

// Config of the requestguard extension. The depth limit is not configurable:
// it is depthlimit.Max, the one limit of every door, chosen below what every
// store backend can read back.
type Config struct {
	_ struct{}
}

// Validate accepts every configuration: there is nothing to set.
func (*Config) Validate() error { return nil }
