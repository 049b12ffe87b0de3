// Command llmmock serves the deterministic OpenAI-compatible mock of package
// llmmock on a loopback address, for tests that drive a real OpenAI client.
//
//	llmmock -addr 127.0.0.1:0 -reply "The answer is 4."
//	llmmock -addr 127.0.0.1:8000 -behavior arithmetic
//
// -behavior fixed (the default) answers every request with -reply;
// -behavior arithmetic is llmmock.Arithmetic, a prompt-sensitive model for
// prompt optimization demos and tests. -vllm serves llmmock.VLLM instead: a
// mock of vLLM's OpenAI server with its token-id fields, streaming, n>1,
// tool calls, /v1/completions and /v1/models (-chunk-delay slows streams);
// -anthropic serves llmmock.Anthropic, a mock of Anthropic's Messages API.
//
// Once it listens it prints one line, "llmmock listening on http://HOST:PORT",
// so a harness can start it on port 0 and read back the port it got. SIGINT or
// SIGTERM shut it down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "llmmock:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("llmmock", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0 picks a free port)")
	reply := fs.String("reply", llmmock.DefaultReply, "assistant reply of every completion (behavior fixed)")
	behavior := fs.String("behavior", "fixed", "fixed: always -reply; arithmetic: answers depend on the prompt (see llmmock.Arithmetic)")
	vllm := fs.Bool("vllm", false, "serve the vLLM mock (token ids, streaming, completions)")
	anthropic := fs.Bool("anthropic", false, "serve the Anthropic Messages mock (POST /v1/messages)")
	chunkDelay := fs.Duration("chunk-delay", 0, "with -vllm: wait before each streamed chunk")
	created := fs.Int64("created", 0, "Unix time stamped on completions (0: the current time), for byte-for-byte comparisons")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := llmmock.Options{Reply: *reply}
	switch *behavior {
	case "fixed":
	case "arithmetic":
		opts.Respond = llmmock.Arithmetic
	default:
		return fmt.Errorf("unknown -behavior %q, want fixed or arithmetic", *behavior)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	if *created != 0 {
		at := time.Unix(*created, 0)
		opts.Now = func() time.Time { return at }
	}
	var handler http.Handler = llmmock.New(opts)
	switch {
	case *vllm:
		handler = llmmock.NewVLLM(llmmock.VLLMOptions{Options: opts, ChunkDelay: *chunkDelay})
	case *anthropic:
		// It answers /health too, for harnesses that wait on it.
		handler = withHealth(llmmock.NewAnthropic(opts, *chunkDelay))
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Printf("llmmock listening on http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// withHealth adds GET /health to a handler.
func withHealth(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.Handle("/", h)
	return mux
}
