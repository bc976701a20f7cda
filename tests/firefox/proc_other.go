//go:build unix && !linux

package firefox

import "syscall"

func setDeathSignal(*syscall.SysProcAttr) {}
