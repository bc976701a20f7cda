package iso19794

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

var (
	formatID = [4]byte{'S', 'D', 'I', 0}
	version  = [4]byte{'0', '2', '0', 0}
)

// Preamble bits of a channel description.
const (
	preScale  = 0x80
	preMin    = 0x40
	preMax    = 0x20
	preAvg    = 0x10
	preStdDev = 0x08
)

// MarshalBinary encodes the record in the binary full format.
func (rec *Record) MarshalBinary() ([]byte, error) {
	if len(rec.Representations) == 0 || len(rec.Representations) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: %d representations", ErrValue, len(rec.Representations))
	}
	b := make([]byte, 0, 64+len(rec.Representations[0].Points)*16)
	b = append(b, formatID[:]...)
	b = append(b, version[:]...)
	b = append(b, 0, 0, 0, 0) // record length, filled in below
	b = binary.BigEndian.AppendUint16(b, uint16(len(rec.Representations)))
	b = append(b, 0) // certification flag: no certification blocks
	for i := range rec.Representations {
		var err error
		if b, err = rec.Representations[i].appendBinary(b); err != nil {
			return nil, fmt.Errorf("iso19794: representation %d: %w", i, err)
		}
	}
	if len(b) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: record of %d bytes", ErrValue, len(b))
	}
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)))
	return b, nil
}

func appendDateTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	}
	t = t.UTC()
	b = binary.BigEndian.AppendUint16(b, uint16(t.Year()))
	b = append(b, byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()))
	return binary.BigEndian.AppendUint16(b, uint16(t.Nanosecond()/1e6))
}

func enc16(c Channel, v int32) uint16 {
	if c.Signed() {
		return uint16(v + 32768)
	}
	return uint16(v)
}

func dec16(c Channel, u uint16) int32 {
	if c.Signed() {
		return int32(u) - 32768
	}
	return int32(u)
}

func (r *Representation) appendBinary(b []byte) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	if len(r.Points) >= 1<<24 {
		return nil, fmt.Errorf("%w: %d points", ErrValue, len(r.Points))
	}
	start := len(b)
	b = append(b, 0, 0, 0, 0) // representation length
	b = appendDateTime(b, r.Captured)
	b = append(b, r.Technology)
	b = binary.BigEndian.AppendUint16(b, r.Vendor)
	b = binary.BigEndian.AppendUint16(b, r.DeviceType)
	b = append(b, byte(len(r.Quality)))
	for _, q := range r.Quality {
		b = append(b, q.Score)
		b = binary.BigEndian.AppendUint16(b, q.AlgorithmVendor)
		b = binary.BigEndian.AppendUint16(b, q.Algorithm)
	}
	var incl uint16
	for c := range NumChannels {
		if r.Channels[c] != nil {
			incl |= 1 << (15 - c)
		}
	}
	b = binary.BigEndian.AppendUint16(b, incl)
	for c := range NumChannels {
		d := r.Channels[c]
		if d == nil {
			continue
		}
		var pre byte
		for _, f := range []struct {
			has bool
			bit byte
		}{{d.HasScale, preScale}, {d.HasMin, preMin}, {d.HasMax, preMax}, {d.HasAvg, preAvg}, {d.HasStdDev, preStdDev}} {
			if f.has {
				pre |= f.bit
			}
		}
		b = append(b, pre)
		if d.HasScale {
			b = binary.BigEndian.AppendUint16(b, uint16(d.Scale))
		}
		if d.HasMin {
			b = binary.BigEndian.AppendUint16(b, enc16(c, d.Min))
		}
		if d.HasMax {
			b = binary.BigEndian.AppendUint16(b, enc16(c, d.Max))
		}
		if d.HasAvg {
			b = binary.BigEndian.AppendUint16(b, enc16(c, d.Avg))
		}
		if d.HasStdDev {
			b = binary.BigEndian.AppendUint16(b, uint16(d.StdDev))
		}
	}
	n := len(r.Points)
	b = append(b, byte(n>>16), byte(n>>8), byte(n))
	for _, p := range r.Points {
		for c := range NumChannels {
			if r.Channels[c] != nil {
				b = binary.BigEndian.AppendUint16(b, enc16(c, p[c]))
			}
		}
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Extended)))
	b = append(b, r.Extended...)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b, nil
}

// reader is a bounds-checked big-endian cursor.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = fmt.Errorf("%w: truncated at byte %d reading %s", ErrFormat, r.off, what)
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8(what string) uint8 {
	if s := r.take(1, what); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if s := r.take(2, what); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if s := r.take(4, what); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

// UnmarshalBinary decodes a binary full-format record, checking every
// length field against the data; trailing bytes are an error.
func (rec *Record) UnmarshalBinary(data []byte) error {
	r := &reader{b: data}
	id := r.take(4, "format identifier")
	ver := r.take(4, "version")
	if r.err != nil {
		return r.err
	}
	if [4]byte(id) != formatID || [4]byte(ver) != version {
		return fmt.Errorf("%w: identifier %q version %q, want \"SDI\\x00\" \"020\\x00\"", ErrVersion, id, ver)
	}
	length := r.u32("record length")
	nrep := r.u16("number of representations")
	cert := r.u8("certification flag")
	if r.err != nil {
		return r.err
	}
	if uint64(length) != uint64(len(data)) {
		return fmt.Errorf("%w: record length %d but %d bytes", ErrFormat, length, len(data))
	}
	if cert != 0 {
		return fmt.Errorf("%w: certification flag %d (certification blocks are not supported)", ErrFormat, cert)
	}
	if nrep == 0 || nrep > MaxRepresentations {
		return fmt.Errorf("%w: %d representations", ErrFormat, nrep)
	}
	out := Record{Representations: make([]Representation, 0, nrep)}
	for i := range int(nrep) {
		begin := r.off
		replen := r.u32("representation length")
		if r.err != nil {
			return r.err
		}
		if replen < 4 || uint64(replen) > uint64(len(data)-begin) {
			return fmt.Errorf("%w: representation %d length %d", ErrFormat, i, replen)
		}
		sub := &reader{b: data[:begin+int(replen)], off: r.off}
		rep, err := decodeRepresentation(sub)
		if err != nil {
			return fmt.Errorf("iso19794: representation %d: %w", i, err)
		}
		if sub.off != len(sub.b) {
			return fmt.Errorf("%w: representation %d has %d bytes after its extended data", ErrFormat, i, len(sub.b)-sub.off)
		}
		r.off = sub.off
		out.Representations = append(out.Representations, rep)
	}
	if r.off != len(data) {
		return fmt.Errorf("%w: %d bytes after the last representation", ErrFormat, len(data)-r.off)
	}
	*rec = out
	return nil
}

func decodeDateTime(s []byte) (time.Time, error) {
	allFF := true
	for _, c := range s {
		allFF = allFF && c == 0xff
	}
	if allFF {
		return time.Time{}, nil
	}
	y := int(binary.BigEndian.Uint16(s))
	mo, d, h, mi, sec := int(s[2]), int(s[3]), int(s[4]), int(s[5]), int(s[6])
	ms := int(binary.BigEndian.Uint16(s[7:]))
	if y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 || ms > 999 {
		return time.Time{}, fmt.Errorf("%w: capture date %d-%d-%d %d:%d:%d.%d", ErrFormat, y, mo, d, h, mi, sec, ms)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ms*1e6, time.UTC)
	if t.Day() != d {
		return time.Time{}, fmt.Errorf("%w: capture date %d-%d-%d does not exist", ErrFormat, y, mo, d)
	}
	return t, nil
}

func decodeRepresentation(r *reader) (Representation, error) {
	var rep Representation
	dt := r.take(9, "capture date and time")
	if r.err != nil {
		return rep, r.err
	}
	var err error
	if rep.Captured, err = decodeDateTime(dt); err != nil {
		return rep, err
	}
	rep.Technology = r.u8("technology identifier")
	rep.Vendor = r.u16("vendor identifier")
	rep.DeviceType = r.u16("device type identifier")
	nq := int(r.u8("number of quality blocks"))
	for range nq {
		q := Quality{Score: r.u8("quality score"), AlgorithmVendor: r.u16("quality algorithm vendor"), Algorithm: r.u16("quality algorithm")}
		if r.err != nil {
			return rep, r.err
		}
		rep.Quality = append(rep.Quality, q)
	}
	incl := r.u16("channel inclusion field")
	if r.err != nil {
		return rep, r.err
	}
	width := 0
	for c := range NumChannels {
		if incl&(1<<(15-c)) == 0 {
			continue
		}
		width++
		pre := r.u8("channel description preamble")
		if r.err != nil {
			return rep, r.err
		}
		if pre&0x07 != 0 {
			return rep, fmt.Errorf("%w: channel %v preamble %#02x has unsupported flags", ErrFormat, c, pre)
		}
		d := &ChannelDesc{HasScale: pre&preScale != 0, HasMin: pre&preMin != 0, HasMax: pre&preMax != 0, HasAvg: pre&preAvg != 0, HasStdDev: pre&preStdDev != 0}
		if d.HasScale {
			d.Scale = Scale(r.u16("scaling value"))
		}
		if d.HasMin {
			d.Min = dec16(c, r.u16("minimum"))
		}
		if d.HasMax {
			d.Max = dec16(c, r.u16("maximum"))
		}
		if d.HasAvg {
			d.Avg = dec16(c, r.u16("average"))
		}
		if d.HasStdDev {
			d.StdDev = int32(r.u16("standard deviation"))
		}
		rep.Channels[c] = d
	}
	if rep.Channels[X] == nil || rep.Channels[Y] == nil {
		return rep, fmt.Errorf("%w: channels X and Y are mandatory", ErrFormat)
	}
	np := r.take(3, "number of sample points")
	if r.err != nil {
		return rep, r.err
	}
	n := int(np[0])<<16 | int(np[1])<<8 | int(np[2])
	if n > MaxPoints {
		return rep, fmt.Errorf("%w: %d sample points, at most %d", ErrFormat, n, MaxPoints)
	}
	body := r.take(n*width*2, "sample points")
	if r.err != nil {
		return rep, r.err
	}
	rep.Points = make([]Point, n)
	off := 0
	for i := range rep.Points {
		for c := range NumChannels {
			if rep.Channels[c] != nil {
				rep.Points[i][c] = dec16(c, binary.BigEndian.Uint16(body[off:]))
				off += 2
			}
		}
	}
	ne := int(r.u16("extended data length"))
	ext := r.take(ne, "extended data")
	if r.err != nil {
		return rep, r.err
	}
	if ne > 0 {
		rep.Extended = append([]byte(nil), ext...)
	}
	return rep, nil
}
