package testenv

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the relay if the test process dies,
// so that no relay outlives a crashed or killed test binary.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
