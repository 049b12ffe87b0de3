package benchrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a server under test, started in its own process group so that
// stopping it also stops any children (uvicorn may fork).
type Process struct {
	Name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	err     error
}

// StartProcess runs argv with env added to the environment, its output in
// logPath.
func StartProcess(name string, argv, env []string, dir, logPath string) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o750); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log file: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// WaitReady polls urls until each answers 200, the process exits or the
// timeout passes.
func (p *Process) WaitReady(timeout time.Duration, urls ...string) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited during startup (%v); log:\n%s", p.Name, p.err, p.LogTail(40))
		default:
		}
		ready := true
		for _, u := range urls {
			if !httpOK(client, u) {
				ready = false
				break
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; log:\n%s", p.Name, timeout, p.LogTail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpOK(client *http.Client, url string) bool {
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// PeakRSS is the peak resident set size (VmHWM) of the process and its
// descendants, in bytes. Summing the children's peaks over-estimates when
// they did not peak at the same time; servers here are single processes.
func (p *Process) PeakRSS() (int64, error) {
	var total int64
	for _, pid := range append([]int{p.Pid()}, descendants(p.Pid())...) {
		hwm, err := vmHWM(pid)
		if err != nil {
			if pid == p.Pid() {
				return 0, err
			}
			continue
		}
		total += hwm
	}
	return total, nil
}

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK) needs
// cgo).
const clockTicks = 100

// CPUSeconds is the CPU time (user + system) the process and its living
// descendants have used so far, from utime and stime in /proc/<pid>/stat.
// The difference of two readings is the CPU a phase cost the server.
func (p *Process) CPUSeconds() (float64, error) {
	var ticks int64
	for _, pid := range append([]int{p.Pid()}, descendants(p.Pid())...) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil {
			var n int64
			if n, err = statCPUTicks(string(raw)); err == nil {
				ticks += n
				continue
			}
		}
		if pid == p.Pid() {
			return 0, fmt.Errorf("CPU time of %s: %w", p.Name, err)
		}
	}
	return float64(ticks) / clockTicks, nil
}

// statCPUTicks is utime + stime (fields 14 and 15, in clock ticks) of a
// /proc/<pid>/stat line. The command name (field 2) is in parentheses and
// may itself hold spaces and parentheses, so fields are counted from the
// last ')'.
func statCPUTicks(stat string) (int64, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("malformed /proc stat line %q", truncate(stat, 80))
	}
	// fields[0] is field 3 (state), so field n is fields[n-3].
	fields := strings.Fields(stat[end+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("/proc stat line has %d fields after the command, want more than %d", len(fields), stime)
	}
	var total int64
	for _, f := range []string{fields[utime], fields[stime]} {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("parse CPU ticks %q in /proc stat: %v", f, err)
		}
		total += n
	}
	return total, nil
}

func vmHWM(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM %q: %w", rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// descendants lists the children of pid, recursively, from
// /proc/<pid>/task/<tid>/children.
func descendants(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		raw, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(raw)) {
			if child, err := strconv.Atoi(f); err == nil {
				out = append(out, child)
				out = append(out, descendants(child)...)
			}
		}
	}
	return out
}

// Stop sends SIGTERM to the process group and waits; after timeout it kills
// the group.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("%s did not stop within %s and was killed", p.Name, timeout)
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// LogTail returns the last n lines of the process's output.
func (p *Process) LogTail(n int) string {
	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePorts reserves n distinct loopback ports by listening on all of them
// at once, then releases them for the server.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve a port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// errSkipped marks a target that cannot run here (no venv, no DSN, ...).
var errSkipped = errors.New("skipped")

func skipped(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSkipped, fmt.Sprintf(format, args...))
}

// waitFor polls cond until it returns true, ctx ends or deadline() (zero:
// none yet) passes. Errors from cond do not stop the polling: a query that
// failed once may succeed next time; the last one is returned at the
// deadline.
func waitFor(ctx context.Context, deadline func() time.Time, cond func() (bool, error)) error {
	interval := 2 * time.Millisecond
	start := time.Now()
	var lastErr error
	for {
		ok, err := cond()
		if err == nil && ok {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		if d := deadline(); !d.IsZero() && time.Now().After(d) {
			if lastErr != nil {
				return fmt.Errorf("%w (last error: %v)", context.DeadlineExceeded, lastErr)
			}
			return context.DeadlineExceeded
		}
		// Poll fast at first (latency resolution), then back off a little so
		// the poller does not load the server under test.
		if time.Since(start) > 20*time.Millisecond {
			interval = 5 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// IsSkipped reports whether a target's Start error means "cannot run here".
func IsSkipped(err error) bool { return errors.Is(err, errSkipped) }
