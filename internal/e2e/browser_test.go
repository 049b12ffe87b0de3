package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The dashboard tests drive Debian's Chromium (`apt-get install chromium`,
// which .ci/run does) through the DevTools protocol with chromedp. Without
// the browser they are skipped, except under CI, where that is a failure.

// browserTimeout bounds one browser action (a page to render, a value to
// appear).
const browserTimeout = 20 * time.Second

// artifactsDir is where the dashboard tests keep their screenshots:
// $DASHBOARD_ARTIFACTS, else a directory under the system temp dir that the
// test logs.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DASHBOARD_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "otelcol-lightning-dashboard-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH: .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium on PATH (apt-get install chromium)")
	return ""
}

// browser is one headless Chromium tab.
type browser struct {
	t         *testing.T
	ctx       context.Context
	artifacts string
	nonce     int
}

func newBrowser(t *testing.T, insecureCerts bool) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findChromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1800),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	if insecureCerts {
		opts = append(opts, chromedp.IgnoreCertErrors)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, artifacts: artifactsDir(t)}
}

func (b *browser) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// value runs an action that returns a value.
func value[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// open loads url (a full page load) and waits for the view to render.
func (b *browser) open(url string) {
	b.t.Helper()
	b.run(chromedp.Navigate(url))
	b.waitRendered("")
}

// show moves to a hash route in the loaded page and waits for the new
// render (hash changes do not reload the document).
func (b *browser) show(hash string) {
	b.t.Helper()
	// A nonce keeps every hash new, so that showing the current page again
	// still fires hashchange.
	b.nonce++
	sep := "?"
	if strings.Contains(hash, "?") {
		sep = "&"
	}
	hash += fmt.Sprintf("%s_=%d", sep, b.nonce)
	before := b.eval(`document.getElementById('view').dataset.ready || ''`)
	b.eval(fmt.Sprintf(`location.hash = %q`, hash))
	b.waitRendered(before)
}

// waitRendered waits until the view has rendered past generation before,
// failing on an error the page shows.
func (b *browser) waitRendered(before string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const v = document.getElementById('view'); return !!v.dataset.ready && v.dataset.ready !== %q; })()`, before)
	value(b, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(browserTimeout)))
	if errText := b.eval(`(document.querySelector('[data-k="error"]') || {}).textContent || ''`); errText != "" {
		b.t.Fatalf("the page shows an error: %s", errText)
	}
}

// eval runs js and returns its result as a string (JSON for objects).
func (b *browser) eval(js string) string {
	b.t.Helper()
	out := value(b, chromedp.Evaluate[any](js))
	if s, ok := out.(string); ok {
		return s
	}
	raw, _ := json.Marshal(out)
	return string(raw)
}

// evalJSON runs js and decodes its result into out.
func (b *browser) evalJSON(js string, out any) {
	b.t.Helper()
	if err := json.Unmarshal([]byte(b.eval("JSON.stringify("+js+")")), out); err != nil {
		b.t.Fatalf("decode %s: %v", js, err)
	}
}

// text is the text of the first element matching the CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent ?? null`, sel))
}

// screenshot saves the whole page as <name>.png in the artifacts directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png := value(b, chromedp.FullScreenshot(100))
	safe := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(name, "_")
	if err := os.WriteFile(filepath.Join(b.artifacts, safe+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// waitText waits until the element's text satisfies ok.
func (b *browser) waitText(sel string, ok func(string) bool) string {
	b.t.Helper()
	deadline := time.Now().Add(browserTimeout)
	for {
		got := b.text(sel)
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: text %q never became what the test waits for", sel, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// digits drops thousands separators from a number the page shows.
func digits(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), ",", "") }
