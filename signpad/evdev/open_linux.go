//go:build linux

package evdev

import (
	"bytes"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"parley/signpad"
)

// ioctl request encoding (asm-generic/ioctl.h; x86, arm and riscv).
func ioc(dir, typ, nr, size uintptr) uintptr { return dir<<30 | size<<16 | typ<<8 | nr }

const (
	iocWrite = 1
	iocRead  = 2
)

func eviocgname(n uintptr) uintptr    { return ioc(iocRead, 'E', 0x06, n) }
func eviocgbit(ev, n uintptr) uintptr { return ioc(iocRead, 'E', 0x20+ev, n) }
func eviocgabs(abs uintptr) uintptr   { return ioc(iocRead, 'E', 0x40+abs, unsafe.Sizeof(AbsInfo{})) }
func eviocgkey(n uintptr) uintptr     { return ioc(iocRead, 'E', 0x18, n) }
func eviocgid() uintptr               { return ioc(iocRead, 'E', 0x02, 8) }
func eviocsclockid() uintptr          { return ioc(iocWrite, 'E', 0xa0, 4) }
func eviocgrab() uintptr              { return ioc(iocWrite, 'E', 0x90, 4) }
func ioctlPtr(fd int, req uintptr, p unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
	if errno != 0 {
		return errno
	}
	return nil
}

// Live is an opened evdev device.
type Live struct {
	f    *os.File
	info Info
}

// Open opens the event device at path (e.g. /dev/input/event5), switches
// its timestamps to CLOCK_MONOTONIC (EVIOCSCLOCKID) and reads its
// capabilities (EVIOCGNAME, EVIOCGID, EVIOCGBIT, EVIOCGABS). With grab the
// device is grabbed (EVIOCGRAB) so that the desktop does not also move its
// cursor while the customer signs.
func Open(path string, grab bool) (*Live, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("evdev: opening device: %w", err)
	}
	l := &Live{f: f}
	if err := l.init(grab); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

func (l *Live) init(grab bool) error {
	fd := int(l.f.Fd())
	clk := int32(unix.CLOCK_MONOTONIC)
	if err := ioctlPtr(fd, eviocsclockid(), unsafe.Pointer(&clk)); err != nil {
		return fmt.Errorf("evdev: EVIOCSCLOCKID: %w", err)
	}
	name := make([]byte, 256)
	if err := ioctlPtr(fd, eviocgname(uintptr(len(name))), unsafe.Pointer(&name[0])); err == nil {
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		l.info.Name = string(name)
	}
	var id [4]uint16
	if err := ioctlPtr(fd, eviocgid(), unsafe.Pointer(&id[0])); err == nil {
		l.info.Vendor, l.info.Product = id[1], id[2]
	}
	bits := func(ev uintptr, n int) (map[uint16]bool, error) {
		b := make([]byte, (n+7)/8)
		if err := ioctlPtr(fd, eviocgbit(ev, uintptr(len(b))), unsafe.Pointer(&b[0])); err != nil {
			return nil, err
		}
		m := map[uint16]bool{}
		for i := range n {
			if b[i/8]&(1<<(i%8)) != 0 {
				m[uint16(i)] = true
			}
		}
		return m, nil
	}
	abs, err := bits(EvAbs, 0x40)
	if err != nil {
		return fmt.Errorf("evdev: EVIOCGBIT(EV_ABS): %w", err)
	}
	if !abs[AbsX] || !abs[AbsY] {
		return fmt.Errorf("evdev: device has no absolute X/Y axes")
	}
	l.info.Abs = map[uint16]AbsInfo{}
	for code := range abs {
		var ai AbsInfo
		if err := ioctlPtr(fd, eviocgabs(uintptr(code)), unsafe.Pointer(&ai)); err != nil {
			return fmt.Errorf("evdev: EVIOCGABS(%#x): %w", code, err)
		}
		l.info.Abs[code] = ai
	}
	if l.info.Keys, err = bits(EvKey, 0x300); err != nil {
		return fmt.Errorf("evdev: EVIOCGBIT(EV_KEY): %w", err)
	}
	if l.info.Msc, err = bits(EvMsc, 8); err != nil {
		return fmt.Errorf("evdev: EVIOCGBIT(EV_MSC): %w", err)
	}
	if grab {
		if err := unix.IoctlSetInt(fd, uint(eviocgrab()), 1); err != nil {
			return fmt.Errorf("evdev: EVIOCGRAB: %w", err)
		}
	}
	return nil
}

// Info returns the capabilities the device declared.
func (l *Live) Info() Info { return l.info }

// Decoder returns a decoder over the device's events that re-reads the
// axes and keys after a SYN_DROPPED gap.
func (l *Live) Decoder() *Decoder {
	d := NewDecoder(l.f, l.info.Device())
	d.Resync = l.resync
	return d
}

func (l *Live) resync(s *signpad.Sample, inRange *bool) error {
	fd := int(l.f.Fd())
	read := func(code uint16, v *int32) error {
		if _, ok := l.info.Abs[code]; !ok {
			return nil
		}
		var ai AbsInfo
		if err := ioctlPtr(fd, eviocgabs(uintptr(code)), unsafe.Pointer(&ai)); err != nil {
			return err
		}
		*v = ai.Value
		return nil
	}
	for code, v := range map[uint16]*int32{AbsX: &s.X, AbsY: &s.Y, AbsPressure: &s.Pressure, AbsTiltX: &s.TiltX, AbsTiltY: &s.TiltY} {
		if err := read(code, v); err != nil {
			return err
		}
	}
	keys := make([]byte, 0x300/8)
	if err := ioctlPtr(fd, eviocgkey(uintptr(len(keys))), unsafe.Pointer(&keys[0])); err != nil {
		return err
	}
	on := func(k int) bool { return keys[k/8]&(1<<(k%8)) != 0 }
	s.Down = on(BtnTouch)
	if l.info.Keys[BtnToolPen] {
		*inRange = on(BtnToolPen) || on(BtnToolRubber)
	}
	return nil
}

// Close closes the device.
func (l *Live) Close() error { return l.f.Close() }
