//go:build !unix

package runner

import (
	"os"
	"os/exec"
)

// isolate has no process groups to use here; only the command itself is
// stopped on timeout or shutdown.
func isolate(*exec.Cmd) {}

func terminate(cmd *exec.Cmd) error { return kill(cmd) }

func kill(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}

func exitSignal(*os.ProcessState) string { return "" }
