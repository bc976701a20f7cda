package iso19794

import (
	"fmt"
	"math"

	"parley/signpad"
)

// Time units of the DT channel, as scaling values (units per second).
const (
	dtFine   = 10_000 // 100 µs
	dtCoarse = 1_000  // 1 ms
)

// FromSignature builds a one-representation record from a captured
// signature. Channels: X, Y (scale = resolution in units per mm when
// known), DT (time since the previous sample, in units of 100 µs, or 1 ms
// when a pause exceeds 6.5 s; the DT channel cannot wrap), S (tip switch,
// hover points included with S = 0), and F, TX/TY, Az, E when the device
// measures them. Positions that do not fit 16 bits are shifted so that the
// signature's leftmost / topmost point sits at −32768. Gaps and the
// device's own timestamps are not carried (the standard has no channel for
// them).
func FromSignature(sig signpad.Signature) (*Record, error) {
	if err := sig.Validate(); err != nil {
		return nil, fmt.Errorf("iso19794: %w", err)
	}
	dev := sig.Device
	rep := Representation{Captured: sig.Start.UTC().Truncate(1e6), Vendor: dev.Vendor, DeviceType: dev.Product}
	n := len(sig.Samples)
	rep.Points = make([]Point, n)

	pos := func(c Channel, get func(signpad.Sample) int32, ax signpad.Axis) error {
		lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
		for _, s := range sig.Samples {
			lo, hi = min(lo, get(s)), max(hi, get(s))
		}
		var shift int64
		if lo < math.MinInt16 || hi > math.MaxInt16 {
			shift = int64(lo) + 32768
		}
		if int64(hi)-shift > math.MaxInt16 {
			return fmt.Errorf("%w: %v spans %d units, more than 65535", ErrValue, c, int64(hi)-int64(lo))
		}
		d := &ChannelDesc{}
		if ax.Res > 0 {
			d.HasScale, d.Scale = true, ScaleOf(float64(ax.Res))
		}
		for i, s := range sig.Samples {
			rep.Points[i][c] = int32(int64(get(s)) - shift)
		}
		rep.Channels[c] = d
		return nil
	}
	if err := pos(X, func(s signpad.Sample) int32 { return s.X }, dev.X); err != nil {
		return nil, err
	}
	if err := pos(Y, func(s signpad.Sample) int32 { return s.Y }, dev.Y); err != nil {
		return nil, err
	}

	// DT: deltas of the rounded absolute times, so rounding never drifts.
	var maxDelta int64
	for i := 1; i < n; i++ {
		maxDelta = max(maxDelta, sig.Samples[i].T-sig.Samples[i-1].T)
	}
	unit := int64(1e6 / dtFine)
	scale := dtFine
	if maxDelta+unit/2 > math.MaxUint16*unit {
		unit, scale = 1e6/dtCoarse, dtCoarse
	}
	if maxDelta+unit/2 > math.MaxUint16*unit {
		return nil, fmt.Errorf("%w: a pause of %d µs is longer than DT can hold", ErrValue, maxDelta)
	}
	rep.Channels[DT] = &ChannelDesc{HasScale: true, Scale: ScaleOf(float64(scale))}
	round := func(t int64) int64 { return (t + unit/2) / unit }
	for i := 1; i < n; i++ {
		rep.Points[i][DT] = int32(round(sig.Samples[i].T) - round(sig.Samples[i-1].T))
	}

	rep.Channels[S] = &ChannelDesc{HasMin: true, Min: 0, HasMax: true, Max: 1}
	for i, s := range sig.Samples {
		if s.Down {
			rep.Points[i][S] = 1
		}
	}

	raw := func(c Channel, get func(signpad.Sample) int32, ax signpad.Axis, perDegree bool) error {
		lo, hi := c.Range()
		if ax.Min < lo || ax.Max > hi {
			return fmt.Errorf("%w: channel %v device range [%d, %d] does not fit [%d, %d]", ErrValue, c, ax.Min, ax.Max, lo, hi)
		}
		d := &ChannelDesc{}
		if ax.Bounded() {
			d.HasMin, d.Min, d.HasMax, d.Max = true, ax.Min, true, ax.Max
		}
		if perDegree && ax.Res > 0 {
			d.HasScale, d.Scale = true, ScaleOf(float64(ax.Res)*math.Pi/180)
		}
		for i, s := range sig.Samples {
			v := get(s)
			if v < lo || v > hi {
				return fmt.Errorf("%w: sample %d channel %v value %d", ErrValue, i, c, v)
			}
			rep.Points[i][c] = v
		}
		rep.Channels[c] = d
		return nil
	}
	caps := dev.Caps
	if caps.Has(signpad.CapPressure) {
		if err := raw(F, func(s signpad.Sample) int32 { return s.Pressure }, dev.Pressure, false); err != nil {
			return nil, err
		}
	}
	if caps.Has(signpad.CapTilt) {
		if err := raw(TX, func(s signpad.Sample) int32 { return s.TiltX }, dev.TiltX, true); err != nil {
			return nil, err
		}
		if err := raw(TY, func(s signpad.Sample) int32 { return s.TiltY }, dev.TiltY, true); err != nil {
			return nil, err
		}
	}
	if caps.Has(signpad.CapAzimuth) {
		if err := raw(Az, func(s signpad.Sample) int32 { return s.Azimuth }, dev.Azimuth, true); err != nil {
			return nil, err
		}
	}
	if caps.Has(signpad.CapAltitude) {
		if err := raw(E, func(s signpad.Sample) int32 { return s.Altitude }, dev.Altitude, true); err != nil {
			return nil, err
		}
	}
	return &Record{Representations: []Representation{rep}}, nil
}

// Signature converts the representation back into a signature. Times come
// from DT (or T), positions and raw values are as stored; the device's
// resolution is recovered from the scaling values (rounded to whole units
// per mm / per radian). A representation without S is taken as all pen
// down.
func (r *Representation) Signature() (signpad.Signature, error) {
	if r.Channels[X] == nil || r.Channels[Y] == nil {
		return signpad.Signature{}, fmt.Errorf("%w: channels X and Y are mandatory", ErrFormat)
	}
	if r.Channels[T] == nil && r.Channels[DT] == nil {
		return signpad.Signature{}, fmt.Errorf("%w: neither T nor DT is included", ErrFormat)
	}
	dev := signpad.Device{Source: "iso19794", Vendor: r.Vendor, Product: r.DeviceType}
	res := func(c Channel, perDegree bool) int32 {
		d := r.Channels[c]
		if d == nil || !d.HasScale {
			return 0
		}
		v := d.Scale.Float()
		if perDegree {
			v = v * 180 / math.Pi
		}
		return int32(math.Round(v))
	}
	axis := func(c Channel, perDegree bool) signpad.Axis {
		d := r.Channels[c]
		a := signpad.Axis{Res: res(c, perDegree)}
		if d.HasMin && d.HasMax {
			a.Min, a.Max = d.Min, d.Max
		}
		return a
	}
	dev.X, dev.Y = signpad.Axis{Res: res(X, false)}, signpad.Axis{Res: res(Y, false)}
	if r.Channels[F] != nil {
		dev.Caps |= signpad.CapPressure
		dev.Pressure = axis(F, false)
	}
	if r.Channels[TX] != nil && r.Channels[TY] != nil {
		dev.Caps |= signpad.CapTilt
		dev.TiltX, dev.TiltY = axis(TX, true), axis(TY, true)
	}
	if r.Channels[Az] != nil {
		dev.Caps |= signpad.CapAzimuth
		dev.Azimuth = axis(Az, true)
	}
	if r.Channels[E] != nil {
		dev.Caps |= signpad.CapAltitude
		dev.Altitude = axis(E, true)
	}
	if r.Channels[S] != nil {
		dev.Caps |= signpad.CapTipSwitch | signpad.CapHover
	}
	timeCh := DT
	if r.Channels[T] != nil {
		timeCh = T
	}
	perSecond := 1000.0 // the standard's default: milliseconds
	if d := r.Channels[timeCh]; d.HasScale && d.Scale.Float() > 0 {
		perSecond = d.Scale.Float()
	}
	sig := signpad.Signature{Device: dev, Start: r.Captured, Samples: make([]signpad.Sample, len(r.Points))}
	var ticks int64
	for i, p := range r.Points {
		if timeCh == T {
			ticks = int64(p[T])
		} else if i > 0 {
			ticks += int64(p[DT])
		}
		s := signpad.Sample{
			T: int64(math.Round(float64(ticks) * 1e6 / perSecond)),
			X: p[X], Y: p[Y], Pressure: p[F], TiltX: p[TX], TiltY: p[TY], Azimuth: p[Az], Altitude: p[E],
			Down: r.Channels[S] == nil || p[S] != 0,
		}
		sig.Samples[i] = s
	}
	if timeCh == T && len(sig.Samples) > 0 {
		t0 := sig.Samples[0].T
		for i := range sig.Samples {
			sig.Samples[i].T -= t0
		}
	}
	if err := sig.Validate(); err != nil {
		return signpad.Signature{}, fmt.Errorf("iso19794: %w", err)
	}
	return sig, nil
}

// Signature converts the record's first representation (a record made by
// FromSignature has exactly one).
func (rec *Record) Signature() (signpad.Signature, error) {
	if len(rec.Representations) == 0 {
		return signpad.Signature{}, fmt.Errorf("%w: no representation", ErrFormat)
	}
	return rec.Representations[0].Signature()
}
