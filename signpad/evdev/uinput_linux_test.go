//go:build linux

package evdev

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"parley/signpad"
)

// TestUinputVirtualTablet creates a virtual pen tablet with uinput, writes a
// short signature into it and reads it back through Open and the Decoder:
// the live path (EVIOCSCLOCKID, EVIOCGABS, EVIOCGBIT) end to end.
func TestUinputVirtualTablet(t *testing.T) {
	ui, err := os.OpenFile("/dev/uinput", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no virtual tablet: /dev/uinput cannot be opened here (%v); the decoder is covered by recorded streams", err)
	}
	defer ui.Close()
	fd := int(ui.Fd())
	set := func(nr uintptr, v int) {
		if err := unix.IoctlSetInt(fd, uint(ioc(iocWrite, 'U', nr, 4)), v); err != nil {
			t.Fatalf("uinput ioctl %d(%d): %v", nr, v, err)
		}
	}
	for _, ev := range []int{EvSyn, EvKey, EvAbs, EvMsc} {
		set(100, ev) // UI_SET_EVBIT
	}
	for _, k := range []int{BtnToolPen, BtnTouch} {
		set(101, k) // UI_SET_KEYBIT
	}
	set(104, MscTimestamp) // UI_SET_MSCBIT
	axes := map[uint16]AbsInfo{
		AbsX: {Maximum: 15200, Resolution: 100}, AbsY: {Maximum: 9500, Resolution: 100},
		AbsPressure: {Maximum: 4095}, AbsTiltX: {Minimum: -64, Maximum: 63}, AbsTiltY: {Minimum: -64, Maximum: 63},
	}
	for code, ai := range axes {
		set(103, int(code)) // UI_SET_ABSBIT
		setup := struct {
			Code uint16
			_    uint16
			Info AbsInfo
		}{Code: code, Info: ai}
		if err := ioctlPtr(fd, ioc(iocWrite, 'U', 4, unsafe.Sizeof(setup)), unsafe.Pointer(&setup)); err != nil {
			t.Fatalf("UI_ABS_SETUP: %v", err)
		}
	}
	var dev struct {
		ID   [4]uint16
		Name [80]byte
		FF   uint32
	}
	dev.ID = [4]uint16{0x03, 0x056a, 0x0374, 1}
	copy(dev.Name[:], "Parley virtual tablet")
	if err := ioctlPtr(fd, ioc(iocWrite, 'U', 3, unsafe.Sizeof(dev)), unsafe.Pointer(&dev)); err != nil {
		t.Fatalf("UI_DEV_SETUP: %v", err)
	}
	if err := ioctlPtr(fd, ioc(0, 'U', 1, 0), nil); err != nil {
		t.Fatalf("UI_DEV_CREATE: %v", err)
	}
	destroyed := false
	destroy := func() {
		if !destroyed {
			destroyed = true
			_ = ioctlPtr(fd, ioc(0, 'U', 2, 0), nil)
		}
	}
	defer destroy()
	name := make([]byte, 64)
	if err := ioctlPtr(fd, ioc(iocRead, 'U', 44, uintptr(len(name))), unsafe.Pointer(&name[0])); err != nil {
		t.Fatalf("UI_GET_SYSNAME: %v", err)
	}
	sys := string(name[:clen(name)])
	var path string
	for range 50 { // udev may take a moment to create the node
		m, _ := filepath.Glob(filepath.Join("/sys/devices/virtual/input", sys, "event*"))
		if len(m) > 0 {
			path = filepath.Join("/dev/input", filepath.Base(m[0]))
			if _, err := os.Stat(path); err == nil {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if path == "" {
		t.Fatalf("no event node for %s", sys)
	}
	live, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	info := live.Info()
	if info.Abs[AbsX].Maximum != 15200 || info.Abs[AbsX].Resolution != 100 || !info.Keys[BtnTouch] || !info.Msc[MscTimestamp] {
		t.Fatalf("capabilities read back: %+v", info)
	}

	var b []byte
	ev := func(typ, code uint16, v int32) { b = AppendEvent(b, Event{Type: typ, Code: code, Value: v}) }
	ev(EvKey, BtnToolPen, 1)
	ev(EvKey, BtnTouch, 1)
	const reports = 20
	for i := range reports {
		ev(EvAbs, AbsX, int32(1000+i*10))
		ev(EvAbs, AbsY, 2000)
		ev(EvAbs, AbsPressure, int32(100+i))
		ev(EvSyn, SynReport, 0)
	}
	ev(EvKey, BtnTouch, 0)
	ev(EvKey, BtnToolPen, 0)
	ev(EvSyn, SynReport, 0)
	if _, err := ui.Write(b); err != nil {
		t.Fatalf("writing events: %v", err)
	}
	dec := live.Decoder()
	var got []signpad.Sample
	done := make(chan error, 1)
	go func() {
		for {
			s, err := dec.Next()
			if err != nil {
				done <- err
				return
			}
			got = append(got, s)
			if len(got) == reports {
				done <- nil
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, unix.ENODEV) {
			t.Fatalf("reading the virtual tablet: %v", err)
		}
	case <-time.After(10 * time.Second):
		destroy()
		t.Fatal("no events from the virtual tablet")
	}
	if len(got) != reports || got[reports-1].X != 1000+(reports-1)*10 || got[0].Pressure != 100 || !got[0].Down {
		t.Fatalf("samples read back: %+v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].T < got[i-1].T {
			t.Fatal("monotonic timestamps went backwards")
		}
	}
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}
