package llmproxyreceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/otelcol-lightning/otelcol-lightning/receiver/llmproxyreceiver/internal/metadata"
)

const (
	defaultEndpoint        = "localhost:4000"
	defaultTimeout         = 300 * time.Second
	defaultMissingUpstream = "set LIGHTNING_LLM_UPSTREAM to an OpenAI-compatible base URL such as http://host:8000/v1"
)

// NewFactory returns the factory of the llmproxy receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(metadata.Type, createDefaultConfig,
		receiver.WithTraces(createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	// A streamed answer can run for minutes; each upstream attempt is bounded
	// by Timeout instead.
	server.WriteTimeout = 0
	return &Config{
		ServerConfig:        server,
		MissingUpstreamHint: defaultMissingUpstream,
		Mode:                ModeTrain,
		Timeout:             defaultTimeout,
		Retry: RetryConfig{
			MaxAttempts:    6,
			InitialBackoff: 500 * time.Millisecond,
			MaxBackoff:     8 * time.Second,
		},
		PauseRetryAfter: 5,
		// Agent Lightning v1.0's default_proxy, model_name left unset so
		// the client's model is kept until one is configured.
		AglV1: AglV1Config{IncludeLogProbs: true, TrainTemperature: 1, ValTemperature: 0.7},
	}
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	return newProxyReceiver(set, cfg.(*Config), next)
}
