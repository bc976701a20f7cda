// Package iso19794 encodes and decodes signature time-series data in the
// full format of ISO/IEC 19794-7:2014 (format identifier "SDI\0", version
// "020\0"), in its binary form and in an XML form that mirrors the binary
// fields one to one. See docs/signpad.md for the byte layout, the channel
// mapping from signpad.Sample and the deviations from the standard's text.
package iso19794

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Channel identifies one of the 16 channels of the channel inclusion field,
// in the order of its bits (most significant first) and of the values in a
// sample point.
type Channel uint8

// The channels of ISO/IEC 19794-7.
const (
	X  Channel = iota // x coordinate
	Y                 // y coordinate
	Z                 // z coordinate (height above the surface)
	VX                // velocity in x
	VY                // velocity in y
	AX                // acceleration in x
	AY                // acceleration in y
	T                 // time since the first sample
	DT                // time since the previous sample
	F                 // tip force (pressure)
	S                 // tip switch: 1 pen down, 0 pen up
	TX                // tilt along x
	TY                // tilt along y
	Az                // azimuth
	E                 // elevation
	R                 // rotation
	// NumChannels is the number of channels.
	NumChannels
)

var channelNames = [NumChannels]string{"X", "Y", "Z", "VX", "VY", "AX", "AY", "T", "DT", "F", "S", "TX", "TY", "Az", "E", "R"}

// String returns the channel's name in the standard ("X", "DT", "Az", …).
func (c Channel) String() string {
	if c < NumChannels {
		return channelNames[c]
	}
	return fmt.Sprintf("Channel(%d)", c)
}

// ChannelByName returns the channel called name.
func ChannelByName(name string) (Channel, bool) {
	for i, n := range channelNames {
		if n == name {
			return Channel(i), true
		}
	}
	return 0, false
}

// Signed reports whether the channel holds signed values, stored with an
// offset of 32768 (coordinates, velocities, accelerations, tilts); the
// others (times, force, switch, angles) are stored as unsigned integers.
func (c Channel) Signed() bool {
	switch c {
	case X, Y, Z, VX, VY, AX, AY, TX, TY:
		return true
	}
	return false
}

// Range returns the smallest and largest value the channel can hold.
func (c Channel) Range() (lo, hi int32) {
	if c.Signed() {
		return math.MinInt16, math.MaxInt16
	}
	return 0, math.MaxUint16
}

// Scale is the 16-bit scaling value of a channel description: the upper 5
// bits are an exponent E, the lower 11 a mantissa M, and the value is
// 2^(E-16) × (1 + M/2048) units per physical unit (per mm, per second, …).
type Scale uint16

// Float returns the scaling value as a number.
func (s Scale) Float() float64 {
	e := int(s >> 11)
	m := float64(s & 0x7ff)
	return math.Ldexp(1+m/2048, e-16)
}

// ScaleOf returns the scaling value nearest to v (which must be positive);
// values outside the representable range are clamped.
func ScaleOf(v float64) Scale {
	if !(v > 0) {
		return 0
	}
	frac, exp := math.Frexp(v) // v = frac × 2^exp, frac in [0.5, 1)
	e := exp - 1 + 16
	m := math.Round((frac*2 - 1) * 2048)
	if m == 2048 {
		m = 0
		e++
	}
	switch {
	case e < 0:
		return 0
	case e > 31:
		return 0xffff
	}
	return Scale(e<<11 | int(m))
}

// ChannelDesc is the description of one included channel. Only the
// fields whose Has flag is set are present in the encoding.
type ChannelDesc struct {
	// HasScale marks Scale as present (preamble bit 0x80).
	HasScale bool
	// Scale is the number of channel units per physical unit.
	Scale Scale
	// HasMin marks Min as present (0x40); HasMax marks Max (0x20).
	HasMin, HasMax bool
	// Min and Max bound the channel's values.
	Min, Max int32
	// HasAvg marks Avg as present (0x10); HasStdDev marks StdDev (0x08).
	HasAvg, HasStdDev bool
	// Avg and StdDev are the channel's mean and standard deviation.
	Avg, StdDev int32
}

// Quality is one quality block.
type Quality struct {
	// Score is the quality score 0..100, or 255 when it could not be computed.
	Score uint8
	// AlgorithmVendor and Algorithm identify the algorithm that scored.
	AlgorithmVendor, Algorithm uint16
}

// Point holds one sample point's channel values, indexed by Channel; only
// the included channels are meaningful.
type Point [NumChannels]int32

// Representation is one signature representation.
type Representation struct {
	// Captured is the capture date and time (UTC, millisecond precision);
	// the zero time encodes as "unknown" (all bytes 0xFF).
	Captured time.Time
	// Technology is the capture device technology identifier (0 unknown,
	// 1 electromagnetic, 2 semiconductor, 3 pen with acceleration sensors,
	// 4 optical, …).
	Technology uint8
	// Vendor and DeviceType identify the capture device (0 unknown).
	Vendor, DeviceType uint16
	// Quality lists the quality blocks (at most 255).
	Quality []Quality
	// Channels holds the description of each included channel; nil means
	// the channel is not included.
	Channels [NumChannels]*ChannelDesc
	// Points are the sample points.
	Points []Point
	// Extended is the extended data (vendor specific), at most 65535 bytes.
	Extended []byte
}

// Record is a whole signature time-series data record.
type Record struct {
	// Representations are the record's signature representations (≥ 1).
	Representations []Representation
}

// Errors of the codec; check with errors.Is.
var (
	// ErrFormat means the input is not a well-formed record.
	ErrFormat = errors.New("iso19794: malformed record")
	// ErrVersion means the record is of another format or edition.
	ErrVersion = errors.New("iso19794: unsupported format or version")
	// ErrValue means a value cannot be represented in the format.
	ErrValue = errors.New("iso19794: value cannot be encoded")
)

// Limits on decoded input.
const (
	// MaxRepresentations is the most representations a decoded record may hold.
	MaxRepresentations = 16
	// MaxPoints is the most sample points one representation may hold.
	MaxPoints = 200_000
)

// Included reports whether channel c is included.
func (r *Representation) Included(c Channel) bool { return r.Channels[c] != nil }

// validate checks what both encoders require.
func (r *Representation) validate() error {
	if r.Channels[X] == nil || r.Channels[Y] == nil {
		return fmt.Errorf("%w: channels X and Y are mandatory", ErrValue)
	}
	if len(r.Points) > MaxPoints {
		return fmt.Errorf("%w: %d sample points, at most %d", ErrValue, len(r.Points), MaxPoints)
	}
	if len(r.Quality) > 255 {
		return fmt.Errorf("%w: %d quality blocks", ErrValue, len(r.Quality))
	}
	if len(r.Extended) > math.MaxUint16 {
		return fmt.Errorf("%w: %d bytes of extended data", ErrValue, len(r.Extended))
	}
	if !r.Captured.IsZero() {
		if y := r.Captured.UTC().Year(); y < 1 || y > 9999 {
			return fmt.Errorf("%w: capture year %d", ErrValue, y)
		}
	}
	for c := range NumChannels {
		d := r.Channels[c]
		if d == nil {
			continue
		}
		lo, hi := c.Range()
		check := func(what string, has bool, v int32, lo, hi int32) error {
			if has && (v < lo || v > hi) {
				return fmt.Errorf("%w: channel %v %s %d not in [%d, %d]", ErrValue, c, what, v, lo, hi)
			}
			return nil
		}
		if err := errors.Join(check("min", d.HasMin, d.Min, lo, hi), check("max", d.HasMax, d.Max, lo, hi),
			check("average", d.HasAvg, d.Avg, lo, hi), check("standard deviation", d.HasStdDev, d.StdDev, 0, math.MaxUint16)); err != nil {
			return err
		}
		for i, p := range r.Points {
			if p[c] < lo || p[c] > hi {
				return fmt.Errorf("%w: point %d channel %v value %d not in [%d, %d]", ErrValue, i, c, p[c], lo, hi)
			}
		}
	}
	return nil
}
