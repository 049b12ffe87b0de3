package lightningstoreextension

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMaxConnections: with max_connections held by idle clients, a new
// client waits to be accepted (its request does not get through); once a
// connection closes it is served. Idle clients that send nothing are cut
// off by read_header_timeout, which frees their slots.
func TestMaxConnections(t *testing.T) {
	cfg := testConfig(BackendMemory, "")
	cfg.MaxConnections = 2
	cfg.ReadHeaderTimeout = 2 * time.Second
	tr := start(t, cfg)
	defer shutdown(t, tr)
	addr := tr.addr.String()

	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		idle = append(idle, c)
	}
	// Give the server time to accept both.
	time.Sleep(100 * time.Millisecond)
	quick := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 500 * time.Millisecond}
	_, err := quick.Get("http://" + addr + "/v1/agl/health")
	assert.Error(t, err, "a third connection was served while two were held")

	require.NoError(t, idle[0].Close())
	resp, err := client.Get("http://" + addr + "/v1/agl/health")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// The other idle client is closed by the server within the header
	// timeout.
	require.NoError(t, idle[1].SetReadDeadline(time.Now().Add(5*time.Second)))
	begin := time.Now()
	_, err = idle[1].Read(make([]byte, 1))
	assert.Error(t, err)
	assert.Less(t, time.Since(begin), 4*time.Second)
	_ = idle[1].Close()
}
