//go:build unix

package firefox

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts Firefox in its own process group, so that killGroup
// ends its content processes too; on Linux the kernel also kills it when
// the test process dies.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
}

// killGroup sends SIGKILL to Firefox's process group (Firefox's own id).
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		_ = cmd.Process.Kill()
	}
}
