package iso19794

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// XMLNamespace is the namespace of Parley's XML encoding of a record. The
// element and attribute names mirror the binary fields; they are not the
// schema of the standard's XML encoding (see docs/signpad.md).
const XMLNamespace = "urn:parley:signpad:iso19794-7:2014"

// MaxXMLSize is the largest XML document UnmarshalXMLRecord reads.
const MaxXMLSize = 64 << 20

type xmlRecord struct {
	XMLName xml.Name `xml:"urn:parley:signpad:iso19794-7:2014 SignatureTimeSeriesRecord"`
	Format  string   `xml:"format,attr"`
	Version string   `xml:"version,attr"`
	Reps    []xmlRep `xml:"Representation"`
}

type xmlRep struct {
	Captured   string       `xml:"captured,attr,omitempty"`
	Technology uint8        `xml:"technology,attr"`
	Vendor     uint16       `xml:"vendor,attr"`
	DeviceType uint16       `xml:"deviceType,attr"`
	Quality    []xmlQuality `xml:"Quality"`
	Channels   []xmlChannel `xml:"Channel"`
	Points     []xmlPoint   `xml:"Points>P"`
	Extended   string       `xml:"Extended,omitempty"`
}

type xmlQuality struct {
	Score           uint8  `xml:"score,attr"`
	AlgorithmVendor uint16 `xml:"algorithmVendor,attr"`
	Algorithm       uint16 `xml:"algorithm,attr"`
}

type xmlChannel struct {
	Name   string  `xml:"name,attr"`
	Scale  *string `xml:"scale,attr"`
	Min    *int32  `xml:"min,attr"`
	Max    *int32  `xml:"max,attr"`
	Avg    *int32  `xml:"avg,attr"`
	StdDev *int32  `xml:"stdDev,attr"`
}

type xmlPoint struct {
	Attrs []xml.Attr `xml:",any,attr"`
}

const xmlTime = "2006-01-02T15:04:05.000Z"

// MarshalXMLRecord encodes the record as XML: one Representation element
// per representation, one Channel element per included channel (scale as
// a decimal number that is exactly a 16-bit scaling value), and one P
// element per sample point whose attributes are the included channels'
// values.
func (rec *Record) MarshalXMLRecord() ([]byte, error) {
	if len(rec.Representations) == 0 {
		return nil, fmt.Errorf("%w: no representation", ErrValue)
	}
	x := xmlRecord{Format: "SDI", Version: "020"}
	for i := range rec.Representations {
		r := &rec.Representations[i]
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("iso19794: representation %d: %w", i, err)
		}
		xr := xmlRep{Technology: r.Technology, Vendor: r.Vendor, DeviceType: r.DeviceType}
		if !r.Captured.IsZero() {
			xr.Captured = r.Captured.UTC().Format(xmlTime)
		}
		for _, q := range r.Quality {
			xr.Quality = append(xr.Quality, xmlQuality(q))
		}
		var incl []Channel
		for c := range NumChannels {
			d := r.Channels[c]
			if d == nil {
				continue
			}
			incl = append(incl, c)
			xc := xmlChannel{Name: c.String()}
			if d.HasScale {
				s := strconv.FormatFloat(d.Scale.Float(), 'g', -1, 64)
				xc.Scale = &s
			}
			opt := func(has bool, v int32) *int32 {
				if has {
					return &v
				}
				return nil
			}
			xc.Min, xc.Max, xc.Avg, xc.StdDev = opt(d.HasMin, d.Min), opt(d.HasMax, d.Max), opt(d.HasAvg, d.Avg), opt(d.HasStdDev, d.StdDev)
			xr.Channels = append(xr.Channels, xc)
		}
		xr.Points = make([]xmlPoint, len(r.Points))
		for j, p := range r.Points {
			attrs := make([]xml.Attr, len(incl))
			for k, c := range incl {
				attrs[k] = xml.Attr{Name: xml.Name{Local: c.String()}, Value: strconv.Itoa(int(p[c]))}
			}
			xr.Points[j].Attrs = attrs
		}
		if len(r.Extended) > 0 {
			xr.Extended = base64.StdEncoding.EncodeToString(r.Extended)
		}
		x.Reps = append(x.Reps, xr)
	}
	out, err := xml.MarshalIndent(x, "", " ")
	if err != nil {
		return nil, fmt.Errorf("iso19794: encoding XML: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// allowed lists every element of the encoding with its attributes; the
// decoder refuses anything else.
var allowed = map[string]map[string]bool{
	"SignatureTimeSeriesRecord": {"format": true, "version": true},
	"Representation":            {"captured": true, "technology": true, "vendor": true, "deviceType": true},
	"Quality":                   {"score": true, "algorithmVendor": true, "algorithm": true},
	"Channel":                   {"name": true, "scale": true, "min": true, "max": true, "avg": true, "stdDev": true},
	"Points":                    {},
	"P":                         {},
	"Extended":                  {},
}

// precheck walks the tokens once: only known elements and attributes in
// the namespace, no directives (DTDs), bounded counts.
func precheck(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	points, reps := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: XML: %v", ErrFormat, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return fmt.Errorf("%w: XML directives (DTD) are not allowed", ErrFormat)
		case xml.StartElement:
			attrs, ok := allowed[t.Name.Local]
			if !ok || t.Name.Space != XMLNamespace {
				return fmt.Errorf("%w: unknown element %q", ErrFormat, t.Name.Local)
			}
			switch t.Name.Local {
			case "P":
				points++
				if points > MaxPoints*MaxRepresentations {
					return fmt.Errorf("%w: too many sample points", ErrFormat)
				}
			case "Representation":
				reps++
				if reps > MaxRepresentations {
					return fmt.Errorf("%w: more than %d representations", ErrFormat, MaxRepresentations)
				}
			}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				if t.Name.Local == "P" {
					if _, ok := ChannelByName(a.Name.Local); ok && a.Name.Space == "" {
						continue
					}
				}
				if !attrs[a.Name.Local] || a.Name.Space != "" {
					return fmt.Errorf("%w: unknown attribute %q on %s", ErrFormat, a.Name.Local, t.Name.Local)
				}
			}
		}
	}
}

// UnmarshalXMLRecord decodes the XML encoding strictly: unknown elements
// or attributes, DTDs, missing or extra channel values and values out of
// range are errors.
func (rec *Record) UnmarshalXMLRecord(data []byte) error {
	if len(data) > MaxXMLSize {
		return fmt.Errorf("%w: XML of %d bytes, at most %d", ErrFormat, len(data), MaxXMLSize)
	}
	if err := precheck(data); err != nil {
		return err
	}
	var x xmlRecord
	if err := xml.Unmarshal(data, &x); err != nil {
		return fmt.Errorf("%w: XML: %v", ErrFormat, err)
	}
	if x.Format != "SDI" || x.Version != "020" {
		return fmt.Errorf("%w: format %q version %q", ErrVersion, x.Format, x.Version)
	}
	if len(x.Reps) == 0 {
		return fmt.Errorf("%w: no representation", ErrFormat)
	}
	out := Record{}
	for i, xr := range x.Reps {
		r, err := xr.representation()
		if err != nil {
			return fmt.Errorf("iso19794: representation %d: %w", i, err)
		}
		if err := r.validate(); err != nil {
			return fmt.Errorf("iso19794: representation %d: %w", i, errors.Join(ErrFormat, err))
		}
		out.Representations = append(out.Representations, r)
	}
	*rec = out
	return nil
}

func (xr xmlRep) representation() (Representation, error) {
	r := Representation{Technology: xr.Technology, Vendor: xr.Vendor, DeviceType: xr.DeviceType}
	if xr.Captured != "" {
		t, err := time.Parse(xmlTime, xr.Captured)
		if err != nil {
			return r, fmt.Errorf("%w: capture time %q", ErrFormat, xr.Captured)
		}
		r.Captured = t
	}
	for _, q := range xr.Quality {
		r.Quality = append(r.Quality, Quality(q))
	}
	var incl []Channel
	for _, xc := range xr.Channels {
		c, ok := ChannelByName(xc.Name)
		if !ok {
			return r, fmt.Errorf("%w: unknown channel %q", ErrFormat, xc.Name)
		}
		if r.Channels[c] != nil {
			return r, fmt.Errorf("%w: channel %v described twice", ErrFormat, c)
		}
		if len(incl) > 0 && c < incl[len(incl)-1] {
			return r, fmt.Errorf("%w: channel %v out of order", ErrFormat, c)
		}
		d := &ChannelDesc{}
		if xc.Scale != nil {
			v, err := strconv.ParseFloat(*xc.Scale, 64)
			if err != nil || math.IsNaN(v) || ScaleOf(v).Float() != v {
				return r, fmt.Errorf("%w: channel %v scale %q is not a scaling value", ErrFormat, c, *xc.Scale)
			}
			d.HasScale, d.Scale = true, ScaleOf(v)
		}
		get := func(p *int32) (bool, int32) {
			if p == nil {
				return false, 0
			}
			return true, *p
		}
		d.HasMin, d.Min = get(xc.Min)
		d.HasMax, d.Max = get(xc.Max)
		d.HasAvg, d.Avg = get(xc.Avg)
		d.HasStdDev, d.StdDev = get(xc.StdDev)
		r.Channels[c] = d
		incl = append(incl, c)
	}
	if len(xr.Points) > MaxPoints {
		return r, fmt.Errorf("%w: %d sample points", ErrFormat, len(xr.Points))
	}
	r.Points = make([]Point, len(xr.Points))
	for j, xp := range xr.Points {
		if len(xp.Attrs) != len(incl) {
			return r, fmt.Errorf("%w: point %d has %d values for %d channels", ErrFormat, j, len(xp.Attrs), len(incl))
		}
		var seen [NumChannels]bool
		for _, a := range xp.Attrs {
			c, ok := ChannelByName(a.Name.Local)
			if !ok || r.Channels[c] == nil || seen[c] {
				return r, fmt.Errorf("%w: point %d has a value for channel %q", ErrFormat, j, a.Name.Local)
			}
			seen[c] = true
			v, err := strconv.ParseInt(a.Value, 10, 32)
			if err != nil {
				return r, fmt.Errorf("%w: point %d channel %v value %q", ErrFormat, j, c, a.Value)
			}
			r.Points[j][c] = int32(v)
		}
	}
	if xr.Extended != "" {
		ext, err := base64.StdEncoding.DecodeString(xr.Extended)
		if err != nil {
			return r, fmt.Errorf("%w: extended data is not base64", ErrFormat)
		}
		r.Extended = ext
	}
	return r, nil
}
