// Package browser decodes pen input captured in the customer's browser:
// Pointer Events with their getCoalescedEvents() (position, pressure,
// tiltX/Y, pointerType, timeStamp), sent to the relay as one JSON document
// per signature. Validation is strict: unknown fields, out-of-range or
// non-monotonic values, impossible event orders and oversized input are
// refused with a clear error. The JSON format is in docs/signpad.md.
package browser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"parley/signpad"
)

// Units of the decoded samples.
const (
	// UnitsPerPx is the position resolution: hundredths of a CSS pixel.
	UnitsPerPx = 100
	// UnitsPerMM is UnitsPerPx at the nominal 96 CSS pixels per inch.
	UnitsPerMM = 378
	// PressureMax is the raw value of full pressure (1.0 in the event).
	PressureMax = 65535
	// MaxBody is the largest JSON document accepted.
	MaxBody = 8 << 20
	// MaxCoalesced is the most coalesced events one event may carry.
	MaxCoalesced = 512
	// MaxField is the largest field side in CSS pixels.
	MaxField = 10000
)

// ErrInvalid is wrapped by every validation error; check with errors.Is.
var ErrInvalid = errors.New("browser: invalid pointer data")

// Document is the JSON the customer page sends for one signature.
type Document struct {
	// V is the format version, 1.
	V int `json:"v"`
	// PointerType is the PointerEvent.pointerType: "pen", "touch" or "mouse".
	PointerType string `json:"pointerType"`
	// PointerID is the PointerEvent.pointerId all events share.
	PointerID int64 `json:"pointerId"`
	// Field is the signing field's size in CSS pixels.
	Field Size `json:"field"`
	// Events are the pointer events in dispatch order.
	Events []Event `json:"events"`
}

// Size is a width and height in CSS pixels.
type Size struct {
	// Width in CSS pixels.
	Width float64 `json:"width"`
	// Height in CSS pixels.
	Height float64 `json:"height"`
}

// Point is one pointer position report.
type Point struct {
	// T is the event's timeStamp in milliseconds (DOMHighResTimeStamp).
	T float64 `json:"t"`
	// X and Y are offsetX/offsetY inside the field, in CSS pixels.
	X float64 `json:"x"`
	// Y is the vertical position, growing downwards.
	Y float64 `json:"y"`
	// Pressure is 0..1 (absent for devices without pressure).
	Pressure *float64 `json:"pressure,omitempty"`
	// TiltX and TiltY are −90..90 degrees (absent without tilt).
	TiltX *float64 `json:"tiltX,omitempty"`
	// TiltY is the tilt along the y axis.
	TiltY *float64 `json:"tiltY,omitempty"`
}

// Event is one pointerdown, pointermove or pointerup.
type Event struct {
	// Type is "down", "move" or "up".
	Type string `json:"type"`
	Point
	// Coalesced holds getCoalescedEvents() of a move, oldest first; when
	// present the points replace the event's own (the last coalesced
	// point is the dispatched event).
	Coalesced []Point `json:"coalesced,omitempty"`
}

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// Decode reads one JSON document from r and returns the signature, with
// start the wall-clock time the relay received it (the capture date).
func Decode(r io.Reader, start time.Time) (signpad.Signature, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return signpad.Signature{}, fmt.Errorf("browser: reading body: %w", err)
	}
	if len(body) > MaxBody {
		return signpad.Signature{}, bad("body larger than %d bytes", MaxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return signpad.Signature{}, bad("JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return signpad.Signature{}, bad("data after the JSON document")
	}
	return doc.Signature(start)
}

// Signature validates the document and converts it.
func (doc *Document) Signature(start time.Time) (signpad.Signature, error) {
	if doc.V != 1 {
		return signpad.Signature{}, bad("version %d, want 1", doc.V)
	}
	dev := signpad.Device{Source: "browser", Name: "pointer:" + doc.PointerType}
	switch doc.PointerType {
	case "pen":
		dev.Caps = signpad.CapPressure | signpad.CapTilt | signpad.CapHover
	case "touch":
		dev.Caps = signpad.CapPressure
	case "mouse":
		dev.Caps = signpad.CapHover
	default:
		return signpad.Signature{}, bad("pointerType %q", doc.PointerType)
	}
	w, h := doc.Field.Width, doc.Field.Height
	if !(w >= 1 && w <= MaxField && h >= 1 && h <= MaxField) {
		return signpad.Signature{}, bad("field size %v × %v", w, h)
	}
	dev.X = signpad.Axis{Max: int32(math.Round(w * UnitsPerPx)), Res: UnitsPerMM}
	dev.Y = signpad.Axis{Max: int32(math.Round(h * UnitsPerPx)), Res: UnitsPerMM}
	if dev.Caps.Has(signpad.CapPressure) {
		dev.Pressure = signpad.Axis{Max: PressureMax}
	}
	if dev.Caps.Has(signpad.CapTilt) {
		dev.TiltX = signpad.Axis{Min: -90, Max: 90, Res: 57}
		dev.TiltY = dev.TiltX
	}
	if len(doc.Events) == 0 {
		return signpad.Signature{}, bad("no events")
	}
	sig := signpad.Signature{Device: dev, Start: start.UTC()}
	var t0 float64
	down := false
	add := func(i int, p Point, isDown bool) error {
		if len(sig.Samples) >= signpad.MaxSamples {
			return fmt.Errorf("%w: more than %d points", signpad.ErrTooManySamples, signpad.MaxSamples)
		}
		if !(p.T >= 0 && p.T <= 1e13) {
			return bad("event %d: timeStamp %v", i, p.T)
		}
		if len(sig.Samples) == 0 {
			t0 = p.T
		}
		t := int64(math.Round((p.T - t0) * 1000))
		if n := len(sig.Samples); n > 0 && t < sig.Samples[n-1].T {
			return fmt.Errorf("%w: event %d at %v ms goes back in time", signpad.ErrTimeBackwards, i, p.T)
		}
		if t > signpad.MaxDuration.Microseconds() {
			return fmt.Errorf("%w: event %d", signpad.ErrTooLong, i)
		}
		// Half a pixel of tolerance for rounding at the field's edge.
		if !(p.X >= -0.5 && p.X <= w+0.5 && p.Y >= -0.5 && p.Y <= h+0.5) {
			return bad("event %d: position %v, %v outside the %v × %v field", i, p.X, p.Y, w, h)
		}
		s := signpad.Sample{
			T: t, Down: isDown,
			X: int32(math.Round(min(max(p.X, 0), w) * UnitsPerPx)),
			Y: int32(math.Round(min(max(p.Y, 0), h) * UnitsPerPx)),
		}
		if p.Pressure != nil {
			if !(*p.Pressure >= 0 && *p.Pressure <= 1) {
				return bad("event %d: pressure %v", i, *p.Pressure)
			}
			if dev.Caps.Has(signpad.CapPressure) {
				s.Pressure = int32(math.Round(*p.Pressure * PressureMax))
			}
		}
		for _, tv := range []struct {
			v   *float64
			dst *int32
		}{{p.TiltX, &s.TiltX}, {p.TiltY, &s.TiltY}} {
			if tv.v == nil {
				continue
			}
			if !(*tv.v >= -90 && *tv.v <= 90) {
				return bad("event %d: tilt %v", i, *tv.v)
			}
			if dev.Caps.Has(signpad.CapTilt) {
				*tv.dst = int32(math.Round(*tv.v))
			}
		}
		sig.Samples = append(sig.Samples, s)
		return nil
	}
	for i, ev := range doc.Events {
		if len(ev.Coalesced) > MaxCoalesced {
			return signpad.Signature{}, bad("event %d: %d coalesced events", i, len(ev.Coalesced))
		}
		var err error
		switch ev.Type {
		case "down":
			if down {
				return signpad.Signature{}, bad("event %d: down while already down", i)
			}
			if len(ev.Coalesced) > 0 {
				return signpad.Signature{}, bad("event %d: coalesced events on a down", i)
			}
			down = true
			err = add(i, ev.Point, true)
		case "move":
			if doc.PointerType != "pen" && doc.PointerType != "mouse" && !down {
				return signpad.Signature{}, bad("event %d: touch move without contact", i)
			}
			pts := ev.Coalesced
			if len(pts) == 0 {
				pts = []Point{ev.Point}
			} else if last := pts[len(pts)-1]; last.T != ev.T || last.X != ev.X || last.Y != ev.Y {
				return signpad.Signature{}, bad("event %d: the last coalesced event is not the event", i)
			}
			for _, p := range pts {
				if err = add(i, p, down); err != nil {
					break
				}
			}
		case "up":
			if !down {
				return signpad.Signature{}, bad("event %d: up without down", i)
			}
			if len(ev.Coalesced) > 0 {
				return signpad.Signature{}, bad("event %d: coalesced events on an up", i)
			}
			down = false
			err = add(i, ev.Point, false)
		default:
			return signpad.Signature{}, bad("event %d: type %q", i, ev.Type)
		}
		if err != nil {
			return signpad.Signature{}, err
		}
	}
	if err := sig.Validate(); err != nil {
		return signpad.Signature{}, fmt.Errorf("browser: %w", err)
	}
	return sig, nil
}
