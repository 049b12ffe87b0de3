package loadgen

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func TestHTTPSender(t *testing.T) {
	var got []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "application/x-protobuf", r.Header.Get("Content-Type"))
		assert.Equal(t, "Bearer t", r.Header.Get("Authorization"))
		body, _ := io.ReadAll(r.Body)
		req := ptraceotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalProto(body))
		n := req.Traces().SpanCount()
		got = append(got, n)
		resp := ptraceotlp.NewExportResponse()
		switch n {
		case 1:
			raw, _ := proto.Marshal(&spb.Status{Code: 8, Message: "too big"})
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = w.Write(raw)
			return
		case 2:
			resp.PartialSuccess().SetRejectedSpans(2)
			resp.PartialSuccess().SetErrorMessage("unlabeled")
		}
		raw, _ := resp.MarshalProto()
		_, _ = w.Write(raw)
	}))
	defer srv.Close()

	s := NewHTTPSender(srv.URL+"/v1/traces", HTTPOptions{Options: Options{Headers: map[string]string{"Authorization": "Bearer t"}}})
	defer s.Close()
	w := Workload{CallsPerRollout: 2}
	ctx := context.Background()
	require.NoError(t, s.Send(ctx, w.Rollout(0, IDs{}, start)))

	err := s.Send(ctx, Workload{}.Rollout(0, IDs{}, start))
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusRequestEntityTooLarge, se.Code)
	assert.Equal(t, "too big", se.Message)
	assert.True(t, IsRefused(err))

	err = s.Send(ctx, Workload{CallsPerRollout: 1}.Rollout(0, IDs{}, start))
	var pe *PartialError
	require.ErrorAs(t, err, &pe)
	assert.EqualValues(t, 2, pe.Rejected)
	assert.Equal(t, []int{3, 1, 2}, got)
}

func TestHTTPSenderGzip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	s := NewHTTPSender(srv.URL, HTTPOptions{Gzip: true})
	require.NoError(t, s.Send(context.Background(), DefaultWorkload().Rollout(0, IDs{}, start)))
}

type traceServer struct {
	ptraceotlp.UnimplementedGRPCServer
	spans int
}

func (s *traceServer) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) != 1 || v[0] != "Bearer t" {
		return ptraceotlp.NewExportResponse(), status.Error(codes.Unauthenticated, "no token")
	}
	s.spans += req.Traces().SpanCount()
	return ptraceotlp.NewExportResponse(), nil
}

func TestGRPCSender(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	ts := &traceServer{}
	ptraceotlp.RegisterGRPCServer(srv, ts)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	s, err := NewGRPCSender(ln.Addr().String(), Options{Headers: map[string]string{"Authorization": "Bearer t"}})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Send(context.Background(), DefaultWorkload().Rollout(0, IDs{}, start)))
	assert.Equal(t, 10, ts.spans)

	anon, err := NewGRPCSender(ln.Addr().String(), Options{})
	require.NoError(t, err)
	defer anon.Close()
	err = anon.Send(context.Background(), DefaultWorkload().Rollout(0, IDs{}, start))
	assert.Equal(t, codes.Unauthenticated, status.Code(err))
}
