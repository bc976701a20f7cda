package evdev

import "parley/signpad"

// AbsInfo is the kernel's struct input_absinfo for one absolute axis.
type AbsInfo struct {
	// Value is the axis's current value.
	Value int32
	// Minimum and Maximum bound the axis.
	Minimum, Maximum int32
	// Fuzz and Flat are the kernel's noise filter and dead zone.
	Fuzz, Flat int32
	// Resolution is units per millimetre (X/Y) or per radian (tilt).
	Resolution int32
}

// Info is what a device declares about itself: the input of DeviceFrom.
type Info struct {
	// Name is the device's product name.
	Name string
	// Vendor and Product are the bus ids.
	Vendor, Product uint16
	// Abs holds the absolute axes the device has, by ABS_* code.
	Abs map[uint16]AbsInfo
	// Keys lists the EV_KEY codes the device has.
	Keys map[uint16]bool
	// Msc lists the EV_MSC codes the device has.
	Msc map[uint16]bool
}

// Device converts the declared capabilities into a signpad.Device.
func (in Info) Device() signpad.Device {
	ax := func(code uint16) (signpad.Axis, bool) {
		a, ok := in.Abs[code]
		return signpad.Axis{Min: a.Minimum, Max: a.Maximum, Res: a.Resolution}, ok
	}
	d := signpad.Device{Source: "evdev", Name: in.Name, Vendor: in.Vendor, Product: in.Product}
	d.X, _ = ax(AbsX)
	d.Y, _ = ax(AbsY)
	if a, ok := ax(AbsPressure); ok {
		d.Pressure = a
		d.Caps |= signpad.CapPressure
	}
	tx, okx := ax(AbsTiltX)
	ty, oky := ax(AbsTiltY)
	if okx && oky {
		d.TiltX, d.TiltY = tx, ty
		d.Caps |= signpad.CapTilt
	}
	if in.Keys[BtnToolPen] || in.Abs != nil && hasKey(in.Abs, AbsDistance) {
		d.Caps |= signpad.CapHover
	}
	if in.Keys[BtnTouch] {
		d.Caps |= signpad.CapTipSwitch
	}
	if in.Msc[MscTimestamp] {
		d.Caps |= signpad.CapHWTime
	}
	return d
}

func hasKey(m map[uint16]AbsInfo, k uint16) bool { _, ok := m[k]; return ok }
