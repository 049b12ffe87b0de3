// Package dashboard is the collector's web dashboard: an HTML shell and
// hand-written ES modules embedded in the binary (no CDN, no JavaScript
// build step), and the JSON routes under /v1/lightning/dashboard/ that the
// pages read.
//
// The shell (/ and /ui/*) holds no data: it is the same bytes for everyone,
// so a server that requires a bearer token may serve it without one (see
// IsShell) and let the page ask the user for the token, which it keeps in
// sessionStorage and sends as Authorization on every fetch. Every data
// route is mounted on the store API's mux, behind the API's TLS and auth.
//
// Pages render every stored value with textContent, never as markup, so a
// span attribute holding HTML or script shows as text.
package dashboard
