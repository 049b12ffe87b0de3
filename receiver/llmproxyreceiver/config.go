package llmproxyreceiver

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
)

// Upstream kinds: what the proxy asks of the server and what it can capture.
const (
	// KindVLLM is a vLLM OpenAI-compatible server (≥ 0.10.2): token ids via
	// return_token_ids, streaming included.
	KindVLLM = "vllm"
	// KindSGLang is an SGLang OpenAI-compatible server: token ids via
	// return_token_ids (non-streamed chat, completions) and sglext
	// (streamed chat).
	KindSGLang = "sglang"
	// KindOpenAI is any other OpenAI-compatible server (OpenAI itself, a
	// hosted gateway): nothing is injected, spans carry text only.
	KindOpenAI = "openai"
	// KindAnthropic is Anthropic's Messages API (https://api.anthropic.com/v1):
	// /v1/messages calls pass through unchanged, spans carry text only.
	KindAnthropic = "anthropic"
)

// Mode of a call: train asks for log-probs, val does not (Agent Lightning
// v1.0's proxy modes).
const (
	ModeTrain = "train"
	ModeVal   = "val"
)

// Config of the llmproxy receiver.
type Config struct {
	// ServerConfig is the proxy's HTTP server: endpoint (default
	// localhost:4000), tls, auth, max_request_body_size (default 20 MiB,
	// larger bodies get 413) and the other confighttp settings. The default
	// write_timeout is 0 (none): a streamed answer may take minutes.
	confighttp.ServerConfig `mapstructure:",squash"`

	// Upstreams are the inference servers, chosen by model name. An entry
	// with an empty endpoint is ignored, so a configuration can leave one to
	// an unset environment variable; with no usable upstream every call gets
	// 503 naming MissingUpstreamHint.
	Upstreams []UpstreamConfig `mapstructure:"upstreams"`

	// MissingUpstreamHint is put in the 503 error a call gets when no upstream
	// serves its model (default: "set LIGHTNING_LLM_UPSTREAM", the variable
	// of the distribution's default configuration).
	MissingUpstreamHint string `mapstructure:"missing_upstream_hint"`

	// Store is the id of the extension that serves the store API (the
	// lightningstore extension). When set, the proxy also mounts Agent
	// Lightning v1.0's /proxy/* routes on that port and routes to the models
	// registered there (llmmodels.Registry), when the extension keeps a
	// registry. Empty: the proxy stands alone.
	Store component.ID `mapstructure:"store"`

	// Mode is the mode of calls whose route does not say (train or val;
	// default train). Train mode asks vLLM/SGLang for the chosen tokens'
	// log-probs.
	Mode string `mapstructure:"mode"`

	// Timeout bounds one upstream attempt from sending the request to the
	// end of the answer (default 300s, Agent Lightning v1.0's).
	Timeout time.Duration `mapstructure:"timeout"`

	// Retry is how failed upstream attempts are repeated: connect errors,
	// 408, 429 and 5xx, only while nothing has been sent to the client.
	Retry RetryConfig `mapstructure:"retry"`

	// PauseRetryAfter is the Retry-After (seconds) of calls refused while
	// paused, unless /proxy/pause names one (default 5).
	PauseRetryAfter int `mapstructure:"pause_retry_after"`

	// AglV1 is Agent Lightning v1.0's default_proxy: what its proxy routes
	// (/proxy/rollout/.../mode/{train|val}/openai/v1/...) force on every
	// call. It applies to those routes only.
	AglV1 AglV1Config `mapstructure:"agl_v1"`

	_ struct{}
}

// AglV1Config is Agent Lightning v1.0's default_proxy section. With
// ModelName set, a call on the v1.0 routes goes upstream as
// {client body, model: ModelName, temperature: the mode's, return_token_ids:
// true} (plus logprobs: true in train mode with IncludeLogProbs), to the
// endpoints serving ModelName only, whatever model the client named: the
// trainer registers its weights under one name and every agent call must
// reach them. Empty ModelName: those routes keep the client's model and
// temperature, like the proxy's other routes.
type AglV1Config struct {
	// ModelName is v1.0's default_proxy.model_name (default empty: off).
	ModelName string `mapstructure:"model_name"`
	// IncludeLogProbs forces logprobs: true in train mode (default true).
	IncludeLogProbs bool `mapstructure:"include_log_probs"`
	// TrainTemperature is forced in train mode (default 1).
	TrainTemperature float64 `mapstructure:"train_temperature"`
	// ValTemperature is forced in val mode (default 0.7).
	ValTemperature float64 `mapstructure:"val_temperature"`

	_ struct{}
}

// RetryConfig tunes upstream retries.
type RetryConfig struct {
	// MaxAttempts is the number of upstream attempts per call, the first
	// included (default 6, Agent Lightning v1.0's; 1 disables retries).
	MaxAttempts int `mapstructure:"max_attempts"`
	// InitialBackoff is the wait before the second attempt; it doubles per
	// attempt up to MaxBackoff, with ±25 % jitter. A Retry-After header
	// within MaxBackoff is honoured instead (default 500ms).
	InitialBackoff time.Duration `mapstructure:"initial_backoff"`
	// MaxBackoff caps one wait (default 8s).
	MaxBackoff time.Duration `mapstructure:"max_backoff"`

	_ struct{}
}

// UpstreamConfig is one inference endpoint.
type UpstreamConfig struct {
	// ClientConfig is the HTTP client: endpoint (an OpenAI-compatible base
	// URL, such as http://host:8000/v1), tls, headers, proxy_url, auth and
	// the connection settings. Its own timeout is not used: Config.Timeout
	// bounds each attempt.
	confighttp.ClientConfig `mapstructure:",squash"`

	// Kind is vllm (default), sglang, openai or anthropic.
	Kind string `mapstructure:"kind"`

	// Models are the model names this endpoint serves. Empty: any model.
	// Several upstreams serving one model are replicas: a rollout sticks to
	// one of them.
	Models []string `mapstructure:"models"`

	// APIKey is sent as "Authorization: Bearer <key>" (x-api-key for
	// anthropic; never logged). The client's own credentials are never
	// forwarded.
	APIKey configopaque.String `mapstructure:"api_key"`

	_ struct{}
}

// Validate rejects what cannot work, naming the field.
func (c *Config) Validate() error {
	var errs []error
	for i, u := range c.Upstreams {
		switch u.Kind {
		case "", KindVLLM, KindSGLang, KindOpenAI, KindAnthropic:
		default:
			errs = append(errs, fmt.Errorf("upstreams[%d].kind: %q is not one of %q, %q, %q, %q", i, u.Kind, KindVLLM, KindSGLang, KindOpenAI, KindAnthropic))
		}
		if u.Endpoint == "" {
			continue
		}
		if p, err := url.Parse(u.Endpoint); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("upstreams[%d].endpoint: %q is not an http(s) URL", i, u.Endpoint))
		}
	}
	switch c.Mode {
	case "", ModeTrain, ModeVal:
	default:
		errs = append(errs, fmt.Errorf("mode: %q is not one of %q, %q", c.Mode, ModeTrain, ModeVal))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	if c.Retry.MaxAttempts < 1 {
		errs = append(errs, errors.New("retry.max_attempts: must be at least 1"))
	}
	if c.Retry.InitialBackoff < 0 || c.Retry.MaxBackoff < c.Retry.InitialBackoff {
		errs = append(errs, errors.New("retry: initial_backoff must be ≥ 0 and max_backoff ≥ initial_backoff"))
	}
	if c.AglV1.TrainTemperature < 0 || c.AglV1.ValTemperature < 0 {
		errs = append(errs, errors.New("agl_v1: train_temperature and val_temperature must not be negative"))
	}
	if c.PauseRetryAfter < 0 {
		errs = append(errs, errors.New("pause_retry_after: must not be negative"))
	}
	return errors.Join(errs...)
}
