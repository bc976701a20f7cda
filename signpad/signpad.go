// Package signpad holds the pen's data model for handwritten signatures with
// their dynamics: samples as the device reports them (position in device
// units, raw pressure, tilt, tip switch, hover, monotonic microsecond
// timestamps, the device's own counter), the device's capabilities, strokes
// and the derived dynamics (direction, speed, acceleration, pauses,
// duration). Capture back-ends (signpad/evdev, signpad/browser and the
// pointer Recorder here) all deliver the same Sample; signpad/iso19794
// stores them in the open ISO/IEC 19794-7 format and signpad/envelope
// encrypts them for a trustee.
//
// The package imports no UI toolkit: the app feeds its pointer events into a
// Recorder.
package signpad

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Limits that every decoder and the Recorder enforce on hostile or broken
// input. A signature at 1000 reports per second for two minutes stays well
// inside them.
const (
	// MaxSamples is the most samples one signature may hold.
	MaxSamples = 200_000
	// MaxDuration is the longest span from first to last sample.
	MaxDuration = 10 * time.Minute
)

// Errors reported for invalid sample streams; check them with errors.Is.
var (
	// ErrTooManySamples means a stream holds more than MaxSamples samples.
	ErrTooManySamples = errors.New("signpad: too many samples")
	// ErrTimeBackwards means a sample's timestamp is earlier than the one before.
	ErrTimeBackwards = errors.New("signpad: timestamp goes backwards")
	// ErrTooLong means the samples span more than MaxDuration.
	ErrTooLong = errors.New("signpad: signature lasts too long")
	// ErrOutOfRange means a value lies outside the range its device declares.
	ErrOutOfRange = errors.New("signpad: value outside the device's range")
	// ErrEmpty means a signature has no pen-down sample.
	ErrEmpty = errors.New("signpad: no pen-down sample")
)

// Sample is one report of the pen as the device gave it, in device units.
// Fields the device does not report (see Device.Caps) are zero.
type Sample struct {
	// T is the time since the signature's first sample in microseconds,
	// from a monotonic clock (never wall-clock time).
	T int64
	// X and Y are the position in device units (Device.X, Device.Y);
	// Y grows downwards as on screen.
	X, Y int32
	// Pressure is the raw tip pressure, 0..Device.Pressure.Max.
	Pressure int32
	// TiltX and TiltY are the pen's tilt in device units (Device.TiltX/Y).
	TiltX, TiltY int32
	// Azimuth and Altitude are the pen's orientation in device units when
	// the device reports them instead of, or besides, tilt.
	Azimuth, Altitude int32
	// Down is the tip switch: true while the pen touches the surface.
	// Samples with Down false are hover points (pen in range, not touching).
	Down bool
	// HWTime is the device's own counter or hardware timestamp for this
	// report (evdev MSC_TIMESTAMP in microseconds, wrapping as the device
	// wraps it) when Device.Caps has CapHWTime.
	HWTime int64
	// Gap is true when reports were lost right before this sample (evdev
	// SYN_DROPPED); dynamics across a gap are not to be trusted.
	Gap bool
}

// Caps is a set of capabilities of a capture device.
type Caps uint16

// Capabilities a Device may report.
const (
	// CapPressure means Sample.Pressure is measured.
	CapPressure Caps = 1 << iota
	// CapTilt means Sample.TiltX and TiltY are measured.
	CapTilt
	// CapAzimuth means Sample.Azimuth is measured.
	CapAzimuth
	// CapAltitude means Sample.Altitude is measured.
	CapAltitude
	// CapHover means the device reports the pen in range without contact.
	CapHover
	// CapTipSwitch means Down comes from a real tip switch, not inferred.
	CapTipSwitch
	// CapHWTime means Sample.HWTime carries the device's own timestamp.
	CapHWTime
)

// Has reports whether every capability in c2 is in c.
func (c Caps) Has(c2 Caps) bool { return c&c2 == c2 }

// Axis describes one measured quantity of a device: its raw range and
// resolution. A zero Axis means "not bounded / unknown".
type Axis struct {
	// Min and Max bound the raw values (inclusive); Min == Max means unbounded.
	Min, Max int32
	// Res is the resolution: units per millimetre for X and Y, units per
	// radian for tilt and orientation (the evdev convention); 0 if unknown.
	Res int32
}

// Bounded reports whether the axis declares a range.
func (a Axis) Bounded() bool { return a.Max > a.Min }

// Contains reports whether v lies inside a bounded axis; unbounded axes
// contain every value.
func (a Axis) Contains(v int32) bool { return !a.Bounded() || (v >= a.Min && v <= a.Max) }

// Device describes the capture device of a signature.
type Device struct {
	// Source names the back-end: "evdev", "browser" or "pointer".
	Source string
	// Name is the device's product name as reported (no personal data).
	Name string
	// Vendor and Product are the USB (or other bus) ids when known.
	Vendor, Product uint16
	// X and Y describe the position axes.
	X, Y Axis
	// Pressure describes the pressure axis (valid with CapPressure).
	Pressure Axis
	// TiltX and TiltY describe the tilt axes (valid with CapTilt).
	TiltX, TiltY Axis
	// Azimuth and Altitude describe the orientation axes.
	Azimuth, Altitude Axis
	// Caps lists what the device measures.
	Caps Caps
}

// Signature is one handwritten signature as captured.
type Signature struct {
	// Device is the capture device.
	Device Device
	// Start is the wall-clock time of the first sample (UTC), used only as
	// the capture date; all dynamics use Sample.T.
	Start time.Time
	// ToolSerial is the pen's serial number when the device reports one
	// (evdev MSC_SERIAL), 0 otherwise.
	ToolSerial uint64
	// Samples are the reports in arrival order, hover points included.
	Samples []Sample
}

// Validate checks the limits and invariants every stored signature keeps:
// at most MaxSamples samples, timestamps from 0 that never go backwards,
// a span of at most MaxDuration, values inside the device's declared ranges
// and at least one pen-down sample.
func (s Signature) Validate() error {
	if len(s.Samples) > MaxSamples {
		return fmt.Errorf("%w: %d > %d", ErrTooManySamples, len(s.Samples), MaxSamples)
	}
	down := false
	var prev int64
	for i, p := range s.Samples {
		if p.T < prev || (i == 0 && p.T < 0) {
			return fmt.Errorf("%w: sample %d at %d µs after %d µs", ErrTimeBackwards, i, p.T, prev)
		}
		prev = p.T
		if p.T > MaxDuration.Microseconds() {
			return fmt.Errorf("%w: sample %d at %d µs", ErrTooLong, i, p.T)
		}
		if err := s.Device.check(i, p); err != nil {
			return err
		}
		down = down || p.Down
	}
	if !down {
		return ErrEmpty
	}
	return nil
}

func (d Device) check(i int, p Sample) error {
	bad := func(what string, v int32, a Axis) error {
		return fmt.Errorf("%w: sample %d %s %d not in [%d, %d]", ErrOutOfRange, i, what, v, a.Min, a.Max)
	}
	switch {
	case !d.X.Contains(p.X):
		return bad("x", p.X, d.X)
	case !d.Y.Contains(p.Y):
		return bad("y", p.Y, d.Y)
	case d.Caps.Has(CapPressure) && !d.Pressure.Contains(p.Pressure):
		return bad("pressure", p.Pressure, d.Pressure)
	case d.Caps.Has(CapPressure) && p.Pressure < 0:
		return bad("pressure", p.Pressure, d.Pressure)
	case d.Caps.Has(CapTilt) && !d.TiltX.Contains(p.TiltX):
		return bad("tilt x", p.TiltX, d.TiltX)
	case d.Caps.Has(CapTilt) && !d.TiltY.Contains(p.TiltY):
		return bad("tilt y", p.TiltY, d.TiltY)
	case d.Caps.Has(CapAzimuth) && !d.Azimuth.Contains(p.Azimuth):
		return bad("azimuth", p.Azimuth, d.Azimuth)
	case d.Caps.Has(CapAltitude) && !d.Altitude.Contains(p.Altitude):
		return bad("altitude", p.Altitude, d.Altitude)
	}
	return nil
}

// Duration is the time from the first to the last sample.
func (s Signature) Duration() time.Duration {
	if len(s.Samples) == 0 {
		return 0
	}
	return time.Duration(s.Samples[len(s.Samples)-1].T-s.Samples[0].T) * time.Microsecond
}

// Stroke is one continuous pen-down run of samples.
type Stroke struct {
	// Samples are the stroke's samples, all with Down set; the slice
	// shares the signature's backing array.
	Samples []Sample
}

// Duration is the time from the stroke's first to its last sample.
func (st Stroke) Duration() time.Duration {
	if len(st.Samples) == 0 {
		return 0
	}
	return time.Duration(st.Samples[len(st.Samples)-1].T-st.Samples[0].T) * time.Microsecond
}

// Strokes splits the signature into its pen-down runs. A reporting gap
// (Sample.Gap) while the pen is down also starts a new stroke, since the
// path across it is unknown.
func (s Signature) Strokes() []Stroke {
	ranges := s.strokeRanges()
	out := make([]Stroke, len(ranges))
	for i, r := range ranges {
		out[i] = Stroke{Samples: s.Samples[r[0]:r[1]]}
	}
	return out
}

// strokeRanges returns the [start, end) sample indices of every stroke.
func (s Signature) strokeRanges() [][2]int {
	var out [][2]int
	start := -1
	for i, p := range s.Samples {
		if start >= 0 && (!p.Down || p.Gap) {
			out = append(out, [2]int{start, i})
			start = -1
		}
		if p.Down && start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, len(s.Samples)})
	}
	return out
}

// Source is a capture back-end delivering samples one at a time. Next
// returns io.EOF when the stream (or, for a push-based Recorder, the
// samples queued so far) is exhausted.
type Source interface {
	// Device describes the capture device.
	Device() Device
	// Next returns the next sample or io.EOF.
	Next() (Sample, error)
}

// Collect reads src to io.EOF into a validated Signature starting at start
// (wall clock, for the capture date). Timestamps are rebased so that the
// first sample is at 0.
func Collect(src Source, start time.Time) (Signature, error) {
	sig := Signature{Device: src.Device(), Start: start.UTC()}
	var t0 int64
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Signature{}, fmt.Errorf("signpad: collecting samples: %w", err)
		}
		if len(sig.Samples) == MaxSamples {
			return Signature{}, fmt.Errorf("%w: more than %d", ErrTooManySamples, MaxSamples)
		}
		if len(sig.Samples) == 0 {
			t0 = p.T
		}
		p.T -= t0
		sig.Samples = append(sig.Samples, p)
	}
	if err := sig.Validate(); err != nil {
		return Signature{}, err
	}
	return sig, nil
}
