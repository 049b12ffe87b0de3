package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-lightning/otelcol-lightning/bench/loadgen"
)

const secureToken = "e2e-s3cret-token"

// selfSigned writes a certificate for 127.0.0.1 and localhost and its key
// as PEM files and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "otelcol-lightning e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}

func secureEnv(certFile, keyFile string) []string {
	return []string{
		"LIGHTNING_AUTH_TOKEN=" + secureToken,
		"LIGHTNING_TLS_CERT_FILE=" + certFile,
		"LIGHTNING_TLS_KEY_FILE=" + keyFile,
		"LIGHTNING_MAX_REQUEST_BODY_SIZE=1048576",
		"LIGHTNING_MAX_RECV_MSG_SIZE_MIB=1",
	}
}

// TestValidateSecureConfig runs `validate` on the default configuration with
// config/secure.yaml merged over it.
func TestValidateSecureConfig(t *testing.T) {
	requireBinary(t)
	certFile, keyFile, _ := selfSigned(t)
	cmd := exec.Command(binary, "validate", "--config", filepath.Join(configDir, "collector.yaml"),
		"--config", filepath.Join(configDir, "secure.yaml"))
	cmd.Env = append(append(cmd.Environ(), "LIGHTNING_DATA_DIR="+t.TempDir()), secureEnv(certFile, keyFile)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("validate config/secure.yaml: %v\n%s", err, out.String())
	}
}

// TestSecureEndpoints runs the collector with config/secure.yaml: TLS and a
// bearer token on OTLP/gRPC, OTLP/HTTP, the store API and its /v1/traces.
// Requests without the token (or without TLS, or not trusting the
// certificate) are refused; with both they are served end to end; the body
// size limit comes from the environment.
func TestSecureEndpoints(t *testing.T) {
	requireBinary(t)
	certFile, keyFile, pool := selfSigned(t)
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	c := launch(t, t.TempDir(), launchSpec{
		configs: []string{filepath.Join(configDir, "secure.yaml")},
		env:     secureEnv(certFile, keyFile),
		scheme:  "https", client: client, authToken: secureToken,
	})
	api := "https://" + c.APIAddr
	otlpHTTP := "https://" + c.HTTPAddr + "/v1/traces"
	bearer := map[string]string{"Authorization": "Bearer " + secureToken}

	request := func(t *testing.T, cl *http.Client, method, url string, headers map[string]string, body []byte) (int, []byte, error) {
		t.Helper()
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := cl.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw, nil
	}
	jsonWith := func(extra map[string]string) map[string]string {
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	protoWith := func(extra map[string]string) map[string]string {
		h := map[string]string{"Content-Type": "application/x-protobuf"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	batch := protoBody(t, relBatch(0, 1, 1, "ro-denied"))

	t.Run("refused without the token", func(t *testing.T) {
		for _, tt := range []struct {
			name, method, url string
			headers           map[string]string
			body              []byte
		}{
			{"store API", http.MethodPost, api + "/v1/agl/rollouts/search", jsonWith(nil), []byte(`{}`)},
			{"store API health", http.MethodGet, api + "/v1/agl/health", nil, nil},
			{"store API, wrong token", http.MethodPost, api + "/v1/agl/rollouts/search",
				jsonWith(map[string]string{"Authorization": "Bearer wrong"}), []byte(`{}`)},
			{"store API, token without scheme", http.MethodPost, api + "/v1/agl/rollouts/search",
				jsonWith(map[string]string{"Authorization": secureToken}), []byte(`{}`)},
			{"store port /v1/traces", http.MethodPost, api + "/v1/traces", protoWith(nil), batch},
			{"OTLP/HTTP", http.MethodPost, otlpHTTP, protoWith(nil), batch},
		} {
			code, body, err := request(t, client, tt.method, tt.url, tt.headers, tt.body)
			if err != nil || code != http.StatusUnauthorized {
				t.Errorf("%s: status %d (%v), want 401: %s", tt.name, code, err, body)
			}
		}
		g, err := loadgen.NewGRPCSender(c.GRPCAddr, loadgen.Options{TLS: tlsConfig})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if err := g.Send(context.Background(), relBatch(0, 1, 1, "ro-denied")); status.Code(err) != codes.Unauthenticated {
			t.Errorf("OTLP/gRPC without token: %v, want Unauthenticated", err)
		}
	})

	t.Run("refused without TLS or trust", func(t *testing.T) {
		plain := "http://" + c.APIAddr + "/v1/agl/rollouts/search"
		if code, _, err := request(t, httpClient, http.MethodPost, plain, jsonWith(bearer), []byte(`{}`)); err == nil && code == http.StatusOK {
			t.Error("store API served plain HTTP")
		}
		if code, _, err := request(t, httpClient, http.MethodPost, "http://"+c.HTTPAddr+"/v1/traces", protoWith(bearer), batch); err == nil && code == http.StatusOK {
			t.Error("OTLP/HTTP served plain HTTP")
		}
		untrusting := &http.Client{Timeout: 5 * time.Second}
		if _, _, err := request(t, untrusting, http.MethodGet, api+"/v1/agl/health", bearer, nil); err == nil ||
			!strings.Contains(err.Error(), "certificate") {
			t.Errorf("client not trusting the certificate: %v, want a certificate error", err)
		}
		g, err := loadgen.NewGRPCSender(c.GRPCAddr, loadgen.Options{Headers: bearer})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if err := g.Send(context.Background(), relBatch(0, 1, 1, "ro-denied")); err == nil {
			t.Error("OTLP/gRPC served a plain-text connection")
		}
	})

	t.Run("served with TLS and the token", func(t *testing.T) {
		code, body, err := request(t, client, http.MethodPost, api+"/v1/agl/rollouts", jsonWith(bearer), []byte(`{"input":"secure"}`))
		if err != nil || code != http.StatusCreated {
			t.Fatalf("start_rollout: %d %v %s", code, err, body)
		}
		var started wireRollout
		if err := json.Unmarshal(body, &started); err != nil {
			t.Fatal(err)
		}
		ro, at := started.RolloutID, started.Attempt.AttemptID
		senders := []loadgen.Sender{
			loadgen.NewHTTPSender(otlpHTTP, loadgen.HTTPOptions{Options: loadgen.Options{Headers: bearer, TLS: tlsConfig}}),
			loadgen.NewHTTPSender(api+"/v1/traces", loadgen.HTTPOptions{Gzip: true, Options: loadgen.Options{Headers: bearer, TLS: tlsConfig}}),
		}
		g, err := loadgen.NewGRPCSender(c.GRPCAddr, loadgen.Options{Headers: bearer, TLS: tlsConfig})
		if err != nil {
			t.Fatal(err)
		}
		senders = append(senders, g)
		for i, s := range senders {
			td, _ := labelled(ro, at, "step", nil)
			td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetSpanID([8]byte{byte(i + 1)})
			if err := s.Send(context.Background(), td); err != nil {
				t.Fatalf("export %d: %v", i, err)
			}
			_ = s.Close()
		}
		eventually(t, dataTimeout, func() error {
			code, body, err := request(t, client, http.MethodPost, api+"/v1/agl/spans/search", jsonWith(bearer),
				[]byte(`{"rollout_id":"`+ro+`","attempt_id":"`+at+`"}`))
			if err != nil || code != http.StatusOK {
				return notYet("spans/search: %d %v %s", code, err, body)
			}
			var got page[wireSpan]
			if err := json.Unmarshal(body, &got); err != nil {
				return err
			}
			if got.Total != len(senders) {
				return notYet("%d of %d spans", got.Total, len(senders))
			}
			return nil
		})
	})

	t.Run("size limits from the environment", func(t *testing.T) {
		big := strings.Repeat("x", 2<<20) // LIGHTNING_MAX_REQUEST_BODY_SIZE is 1 MiB here
		code, body, err := request(t, client, http.MethodPost, api+"/v1/agl/rollouts", jsonWith(bearer), []byte(`{"input":"`+big+`"}`))
		if err != nil || code != http.StatusRequestEntityTooLarge {
			t.Errorf("store API: %d %v %s, want 413", code, err, truncateMsg(string(body)))
		}
		td, _ := labelled("ro-big", "at-1", "big", nil)
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("payload", big)
		code, body, err = request(t, client, http.MethodPost, otlpHTTP, protoWith(bearer), protoBody(t, td))
		if err != nil || (code != http.StatusBadRequest && code != http.StatusRequestEntityTooLarge) || !strings.Contains(string(body), "too large") {
			t.Errorf("OTLP/HTTP: %d %v %s, want a too-large refusal", code, err, truncateMsg(string(body)))
		}
		g, err := loadgen.NewGRPCSender(c.GRPCAddr, loadgen.Options{Headers: bearer, TLS: tlsConfig})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if err := g.Send(context.Background(), td); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("OTLP/gRPC: %v, want ResourceExhausted", err)
		}
	})

	if !httpOK("http://" + c.HealthAddr + "/") {
		t.Error("health check (no token) not served")
	}
}
