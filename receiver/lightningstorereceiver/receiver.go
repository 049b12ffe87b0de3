package lightningstorereceiver

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
)

// TracesSource is implemented by the lightningstore extension: it owns the HTTP
// port where Agent Lightning clients post OTLP and hands each decoded export
// to the consumer attached here.
type TracesSource interface {
	AttachTraces(id component.ID, next consumer.Traces) (detach func(), err error)
}

type storeReceiver struct {
	id     component.ID
	cfg    *Config
	next   consumer.Traces
	obs    *receiverhelper.ObsReport
	detach func()
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Traces) (*storeReceiver, error) {
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	return &storeReceiver{id: set.ID, cfg: cfg, next: next, obs: obs}, nil
}

func (r *storeReceiver) Start(_ context.Context, host component.Host) error {
	ext, ok := host.GetExtensions()[r.cfg.Extension]
	if !ok {
		return fmt.Errorf("extension %s not found; is it listed under service.extensions?", r.cfg.Extension)
	}
	src, ok := ext.(TracesSource)
	if !ok {
		return fmt.Errorf("extension %s does not serve OTLP traces; extension must name a lightningstore extension", r.cfg.Extension)
	}
	detach, err := src.AttachTraces(r.id, consumer.Traces(r))
	if err != nil {
		return err
	}
	r.detach = detach
	return nil
}

func (r *storeReceiver) Shutdown(context.Context) error {
	if r.detach != nil {
		r.detach()
		r.detach = nil
	}
	return nil
}

// Capabilities reports that the receiver does not mutate data.
func (r *storeReceiver) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeTraces forwards an export into the pipeline with the standard
// receiver telemetry (accepted and refused spans).
func (r *storeReceiver) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	ctx = r.obs.StartTracesOp(ctx)
	err := r.next.ConsumeTraces(ctx, td)
	r.obs.EndTracesOp(ctx, "protobuf", td.SpanCount(), err)
	return err
}
