// Package evdev reads pen tablets through the Linux input event interface.
// The Decoder turns a stream of raw 64-bit input_event records (24 bytes:
// struct timeval, type, code, value in the machine's byte order, little
// endian on every platform Parley ships) from any io.Reader into
// signpad.Samples, one per device report (SYN_REPORT). It reads absolute
// X/Y, pressure, tilt and distance, the tip switch and tool-in-range keys,
// MSC_SERIAL and MSC_TIMESTAMP, and turns SYN_DROPPED into a reported gap.
// Because it reads from any reader, tests replay recorded streams; Open
// (Linux only) opens a live device with a monotonic clock.
package evdev

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"parley/signpad"
)

// EventSize is the size of one input_event record on 64-bit Linux.
const EventSize = 24

// Event types, codes and keys the decoder understands (linux/input-event-codes.h).
const (
	EvSyn = 0x00 // EV_SYN
	EvKey = 0x01 // EV_KEY
	EvAbs = 0x03 // EV_ABS
	EvMsc = 0x04 // EV_MSC

	SynReport  = 0 // SYN_REPORT
	SynDropped = 3 // SYN_DROPPED

	AbsX        = 0x00 // ABS_X
	AbsY        = 0x01 // ABS_Y
	AbsPressure = 0x18 // ABS_PRESSURE
	AbsDistance = 0x19 // ABS_DISTANCE
	AbsTiltX    = 0x1a // ABS_TILT_X
	AbsTiltY    = 0x1b // ABS_TILT_Y

	BtnToolPen    = 0x140 // BTN_TOOL_PEN
	BtnToolRubber = 0x141 // BTN_TOOL_RUBBER
	BtnTouch      = 0x14a // BTN_TOUCH

	MscSerial    = 0x00 // MSC_SERIAL
	MscTimestamp = 0x05 // MSC_TIMESTAMP
)

// MaxEventsPerReport bounds the events between two SYN_REPORTs; a stream
// with more is refused as hostile (a real pen sends fewer than 20).
const MaxEventsPerReport = 1024

// Errors of the decoder; check with errors.Is.
var (
	// ErrBadEvent means a record is malformed (timestamp out of range, a
	// truncated record, too many events in one report).
	ErrBadEvent = errors.New("evdev: malformed event")
)

// Event is one decoded input_event.
type Event struct {
	// Time is the event's timestamp in microseconds (the device's clock:
	// CLOCK_MONOTONIC after Open).
	Time int64
	// Type, Code and Value are the input_event fields.
	Type, Code uint16
	// Value is the event's value.
	Value int32
}

// AppendEvent appends e as a 24-byte input_event record to b; used to
// write recordings and to feed uinput.
func AppendEvent(b []byte, e Event) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Time/1e6))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Time%1e6))
	b = binary.LittleEndian.AppendUint16(b, e.Type)
	b = binary.LittleEndian.AppendUint16(b, e.Code)
	return binary.LittleEndian.AppendUint32(b, uint32(e.Value))
}

// ParseEvent decodes one 24-byte record.
func ParseEvent(rec []byte) (Event, error) {
	if len(rec) != EventSize {
		return Event{}, fmt.Errorf("%w: record of %d bytes", ErrBadEvent, len(rec))
	}
	sec := int64(binary.LittleEndian.Uint64(rec[0:]))
	usec := int64(binary.LittleEndian.Uint64(rec[8:]))
	if sec < 0 || sec > 1<<40 || usec < 0 || usec >= 1e6 {
		return Event{}, fmt.Errorf("%w: timestamp %d s %d µs", ErrBadEvent, sec, usec)
	}
	return Event{
		Time:  sec*1e6 + usec,
		Type:  binary.LittleEndian.Uint16(rec[16:]),
		Code:  binary.LittleEndian.Uint16(rec[18:]),
		Value: int32(binary.LittleEndian.Uint32(rec[20:])),
	}, nil
}

// Stats counts what a Decoder has seen.
type Stats struct {
	// Events is the number of records read.
	Events int
	// Reports is the number of SYN_REPORTs (complete device reports).
	Reports int
	// Samples is the number of samples delivered (reports with the pen in range).
	Samples int
	// Dropped is the number of SYN_DROPPED markers (each one a gap).
	Dropped int
}

// Decoder turns an input_event stream into samples. It is not safe for
// concurrent use.
type Decoder struct {
	r   *bufio.Reader
	dev signpad.Device
	buf [EventSize]byte

	cur        signpad.Sample
	sawTool    bool // the device reports BTN_TOOL_* at all
	inRange    bool
	dropping   bool
	gapPending bool
	lastT      int64
	started    bool
	pending    int
	serial     uint64
	stats      Stats

	// Resync, when set, is called after a SYN_DROPPED gap to re-read the
	// device's current state into the sample (Open sets it for a live
	// device; a replayed stream keeps the last known values).
	Resync func(s *signpad.Sample, inRange *bool) error
}

var _ signpad.Source = (*Decoder)(nil)

// NewDecoder returns a decoder reading records from r for a device with
// the capabilities dev (from Open, or recorded alongside the stream).
func NewDecoder(r io.Reader, dev signpad.Device) *Decoder {
	dev.Source = "evdev"
	return &Decoder{r: bufio.NewReaderSize(r, 64*EventSize), dev: dev}
}

// Device returns the device description, with CapHWTime and CapTipSwitch
// added once the stream has shown them.
func (d *Decoder) Device() signpad.Device { return d.dev }

// Stats returns the counters so far.
func (d *Decoder) Stats() Stats { return d.stats }

// ToolSerial returns the last pen serial number seen (MSC_SERIAL), 0 if none.
func (d *Decoder) ToolSerial() uint64 { return d.serial }

// Next reads events up to the next report with the pen in range and
// returns its sample, with T the report's timestamp in microseconds on the
// device's clock. It returns io.EOF at the end of the stream (a trailing
// partial report is discarded), signpad.ErrTimeBackwards if a report is
// older than the one before, signpad.ErrTooManySamples past
// signpad.MaxSamples reports, and ErrBadEvent for malformed records.
func (d *Decoder) Next() (signpad.Sample, error) {
	for {
		if _, err := io.ReadFull(d.r, d.buf[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return signpad.Sample{}, fmt.Errorf("%w: stream ends inside a record", ErrBadEvent)
			}
			return signpad.Sample{}, err
		}
		ev, err := ParseEvent(d.buf[:])
		if err != nil {
			return signpad.Sample{}, err
		}
		d.stats.Events++
		if s, ok, err := d.apply(ev); err != nil || ok {
			return s, err
		}
	}
}

func (d *Decoder) apply(ev Event) (signpad.Sample, bool, error) {
	if ev.Type == EvSyn && ev.Code == SynDropped {
		d.stats.Dropped++
		d.dropping, d.gapPending, d.pending = true, true, 0
		return signpad.Sample{}, false, nil
	}
	if d.dropping {
		if ev.Type == EvSyn && ev.Code == SynReport {
			d.dropping = false
			if d.Resync != nil {
				if err := d.Resync(&d.cur, &d.inRange); err != nil {
					return signpad.Sample{}, false, fmt.Errorf("evdev: re-reading state after a gap: %w", err)
				}
			}
		}
		return signpad.Sample{}, false, nil
	}
	d.pending++
	if d.pending > MaxEventsPerReport {
		return signpad.Sample{}, false, fmt.Errorf("%w: more than %d events in one report", ErrBadEvent, MaxEventsPerReport)
	}
	switch ev.Type {
	case EvAbs:
		switch ev.Code {
		case AbsX:
			d.cur.X = ev.Value
		case AbsY:
			d.cur.Y = ev.Value
		case AbsPressure:
			d.cur.Pressure = ev.Value
		case AbsTiltX:
			d.cur.TiltX = ev.Value
		case AbsTiltY:
			d.cur.TiltY = ev.Value
		}
	case EvKey:
		switch ev.Code {
		case BtnTouch:
			d.cur.Down = ev.Value != 0
			d.dev.Caps |= signpad.CapTipSwitch
		case BtnToolPen, BtnToolRubber:
			d.sawTool = true
			d.inRange = ev.Value != 0
			if !d.inRange {
				d.cur.Down = false
			}
		}
	case EvMsc:
		switch ev.Code {
		case MscSerial:
			d.serial = uint64(uint32(ev.Value))
		case MscTimestamp:
			d.cur.HWTime = int64(uint32(ev.Value))
			d.dev.Caps |= signpad.CapHWTime
		}
	case EvSyn:
		if ev.Code != SynReport {
			return signpad.Sample{}, false, nil
		}
		d.pending = 0
		d.stats.Reports++
		if d.stats.Reports > 2*signpad.MaxSamples {
			return signpad.Sample{}, false, fmt.Errorf("%w: more than %d reports", signpad.ErrTooManySamples, 2*signpad.MaxSamples)
		}
		if d.started && ev.Time < d.lastT {
			return signpad.Sample{}, false, fmt.Errorf("%w: report at %d µs after %d µs", signpad.ErrTimeBackwards, ev.Time, d.lastT)
		}
		d.started, d.lastT = true, ev.Time
		if d.sawTool && !d.inRange {
			return signpad.Sample{}, false, nil
		}
		if d.stats.Samples >= signpad.MaxSamples {
			return signpad.Sample{}, false, fmt.Errorf("%w: more than %d", signpad.ErrTooManySamples, signpad.MaxSamples)
		}
		s := d.cur
		s.T = ev.Time
		s.Gap = d.gapPending
		d.gapPending = false
		d.stats.Samples++
		return s, true, nil
	}
	return signpad.Sample{}, false, nil
}

// Decode reads a whole recorded stream into a validated signature whose
// timestamps start at 0; start is the wall-clock time of the first report.
func Decode(r io.Reader, dev signpad.Device, start time.Time) (signpad.Signature, Stats, error) {
	d := NewDecoder(r, dev)
	sig, err := signpad.Collect(d, start)
	if err != nil {
		return signpad.Signature{}, d.Stats(), fmt.Errorf("evdev: decoding stream: %w", err)
	}
	sig.Device = d.Device()
	sig.ToolSerial = d.ToolSerial()
	return sig, d.Stats(), nil
}
