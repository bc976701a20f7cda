package iso19794_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"parley/signpad"
	"parley/signpad/iso19794"
)

var update = flag.Bool("update", false, "rewrite golden files")

var tablet = signpad.Device{
	Source: "evdev", Name: "Test Pen Tablet", Vendor: 0x056a, Product: 0x0374,
	X: signpad.Axis{Max: 15200, Res: 100}, Y: signpad.Axis{Max: 9500, Res: 100},
	Pressure: signpad.Axis{Max: 4095},
	TiltX:    signpad.Axis{Min: -64, Max: 63, Res: 57}, TiltY: signpad.Axis{Min: -64, Max: 63, Res: 57},
	Caps: signpad.CapPressure | signpad.CapTilt | signpad.CapHover | signpad.CapTipSwitch,
}

// fixture is a deterministic 200 Hz signature of 1.5 s with a hover
// start, two strokes and a pen lift between them.
func fixture(n int) signpad.Signature {
	sig := signpad.Signature{Device: tablet, Start: time.Date(2026, 11, 23, 10, 30, 15, 123_000_000, time.UTC)}
	for i := range n {
		ph := float64(i) / float64(n)
		down := i >= 3 && (i < n/2-2 || i > n/2+2)
		s := signpad.Sample{
			T: int64(i) * 5000, X: int32(2000 + 9000*ph + 400*math.Sin(ph*30)), Y: int32(4000 + 1500*math.Sin(ph*17)),
			TiltX: int32(20 * math.Sin(ph*3)), TiltY: int32(-30 + 10*math.Cos(ph*4)), Down: down,
		}
		if down {
			s.Pressure = int32(600 + 2500*math.Abs(math.Sin(ph*7)))
		}
		sig.Samples = append(sig.Samples, s)
	}
	return sig
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking)", name)
	}
}

func TestGoldenRoundTrip(t *testing.T) {
	sig := fixture(300)
	rec, err := iso19794.FromSignature(sig)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := rec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "signature.iso", bin)
	x, err := rec.MarshalXMLRecord()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "signature.xml", x)

	// The golden files decode to the same record, and re-encode to the same bytes.
	for name, dec := range map[string]func(*iso19794.Record, []byte) error{
		"signature.iso": (*iso19794.Record).UnmarshalBinary,
		"signature.xml": (*iso19794.Record).UnmarshalXMLRecord,
	} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		var got iso19794.Record
		if err := dec(&got, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(&got, rec) {
			t.Errorf("%s decodes to a different record", name)
		}
		back, err := got.Signature()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range sig.Samples {
			if back.Samples[i] != sig.Samples[i] {
				t.Fatalf("%s sample %d: got %+v want %+v", name, i, back.Samples[i], sig.Samples[i])
			}
		}
		if !back.Start.Equal(sig.Start) || back.Device.X.Res != 100 || back.Device.TiltX.Res != 57 || back.Device.Pressure.Max != 4095 {
			t.Errorf("%s: device or start not recovered: %+v %v", name, back.Device, back.Start)
		}
		if !back.Device.Caps.Has(signpad.CapPressure | signpad.CapTilt) {
			t.Errorf("%s: caps %#x", name, back.Device.Caps)
		}
	}
}

// TestByteLayout pins the layout of a minimal record byte by byte.
func TestByteLayout(t *testing.T) {
	rep := iso19794.Representation{
		Captured:   time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
		Technology: 1, Vendor: 0x0102, DeviceType: 0x0304,
		Quality: []iso19794.Quality{{Score: 90, AlgorithmVendor: 7, Algorithm: 8}},
		Points:  []iso19794.Point{{iso19794.X: -1, iso19794.Y: 2, iso19794.DT: 0, iso19794.F: 300}},
	}
	rep.Channels[iso19794.X] = &iso19794.ChannelDesc{HasScale: true, Scale: iso19794.ScaleOf(100)}
	rep.Channels[iso19794.Y] = &iso19794.ChannelDesc{HasMin: true, Min: -5, HasMax: true, Max: 5}
	rep.Channels[iso19794.DT] = &iso19794.ChannelDesc{HasScale: true, Scale: iso19794.ScaleOf(10000)}
	rep.Channels[iso19794.F] = &iso19794.ChannelDesc{}
	rec := &iso19794.Record{Representations: []iso19794.Representation{rep}}
	got, err := rec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"53444900", "30323000", "00000042", "0001", "00", // general header: SDI, 020, length 66, 1 representation, no certification
		"00000033",                // representation length 51
		"07ea0102030405" + "0006", // 2026-01-02 03:04:05.006
		"01", "0102", "0304",      // technology, vendor, type
		"01", "5a00070008", // one quality block
		"c0c0",                            // channel inclusion: X Y DT F
		"80" + "b480",                     // X: scale 100 = 2^(22-16) × (1 + 1152/2048)
		"60" + "7ffb8005",                 // Y: min -5, max 5 (offset 32768)
		"80" + "e9c4",                     // DT: scale 10000 = 2^(29-16) × (1 + 452/2048)
		"00",                              // F: no description fields
		"000001",                          // one sample point
		"7fff" + "8002" + "0000" + "012c", // X -1, Y 2, DT 0, F 300
		"0000",                            // no extended data
	}, "")
	if hex.EncodeToString(got) != want {
		t.Fatalf("layout\n got %x\nwant %s", got, want)
	}
}

func TestScale(t *testing.T) {
	for _, v := range []float64{1000, 10000, 100, 1, 0.5, 4.0 / 3} {
		s := iso19794.ScaleOf(v)
		if rel := math.Abs(s.Float()-v) / v; rel > 1.0/4096 {
			t.Errorf("ScaleOf(%v) = %v (%#04x)", v, s.Float(), uint16(s))
		}
	}
	if iso19794.ScaleOf(1000).Float() != 1000 || iso19794.ScaleOf(10000).Float() != 10000 {
		t.Error("the time units must be exact")
	}
}

func TestTimeChannelsCannotWrap(t *testing.T) {
	sig := fixture(40)
	// A 20 s pause (longer than 16-bit DT at 100 µs) switches DT to ms.
	for i := 20; i < len(sig.Samples); i++ {
		sig.Samples[i].T += 20_000_000
	}
	rec, err := iso19794.FromSignature(sig)
	if err != nil {
		t.Fatal(err)
	}
	if s := rec.Representations[0].Channels[iso19794.DT].Scale.Float(); s != 1000 {
		t.Errorf("DT scale %v, want 1000 (ms)", s)
	}
	back, err := rec.Representations[0].Signature()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.Samples[39].T, sig.Samples[39].T; got != want {
		t.Errorf("last sample at %d µs, want %d", got, want)
	}
	// A pause longer than 65.5 s cannot be stored: a clear error, not a wrap.
	for i := 20; i < len(sig.Samples); i++ {
		sig.Samples[i].T += 60_000_000
	}
	if _, err := iso19794.FromSignature(sig); !errors.Is(err, iso19794.ErrValue) {
		t.Errorf("err = %v, want ErrValue", err)
	}
}

func TestPositionsBeyond16BitsAreShifted(t *testing.T) {
	sig := fixture(20)
	sig.Device.X = signpad.Axis{Max: 60000, Res: 200}
	for i := range sig.Samples {
		sig.Samples[i].X += 40000
	}
	rec, err := iso19794.FromSignature(sig)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := rec.Representations[0].Signature()
	for i := 1; i < len(sig.Samples); i++ {
		if back.Samples[i].X-back.Samples[0].X != sig.Samples[i].X-sig.Samples[0].X {
			t.Fatal("shape not kept")
		}
	}
}

func TestTChannelRecord(t *testing.T) {
	rep := iso19794.Representation{Points: []iso19794.Point{
		{iso19794.X: 1, iso19794.T: 500}, {iso19794.X: 2, iso19794.T: 510}, {iso19794.X: 3, iso19794.T: 530},
	}}
	rep.Channels[iso19794.X] = &iso19794.ChannelDesc{}
	rep.Channels[iso19794.Y] = &iso19794.ChannelDesc{}
	rep.Channels[iso19794.T] = &iso19794.ChannelDesc{} // default unit: ms
	sig, err := rep.Signature()
	if err != nil {
		t.Fatal(err)
	}
	if sig.Samples[2].T != 30_000 || !sig.Samples[0].Down {
		t.Errorf("samples %+v", sig.Samples)
	}
}

func TestHostileBinary(t *testing.T) {
	rec, _ := iso19794.FromSignature(fixture(10))
	good, _ := rec.MarshalBinary()
	for n := range len(good) {
		var r iso19794.Record
		if err := r.UnmarshalBinary(good[:n]); err == nil {
			t.Fatalf("prefix of %d bytes accepted", n)
		}
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string]struct {
		data []byte
		want error
	}{
		"2007 edition":      {mutate(func(b []byte) []byte { copy(b[4:], "010\x00"); return b }), iso19794.ErrVersion},
		"trailing byte":     {mutate(func(b []byte) []byte { return append(b, 0) }), iso19794.ErrFormat},
		"certification":     {mutate(func(b []byte) []byte { b[14] = 1; return b }), iso19794.ErrFormat},
		"no representation": {mutate(func(b []byte) []byte { b[13] = 0; return b }), iso19794.ErrFormat},
		"month 13":          {mutate(func(b []byte) []byte { b[15+6] = 13; return b }), iso19794.ErrFormat},
		"huge point count": {mutate(func(b []byte) []byte {
			i := bytes.Index(b, []byte{0, 0, 10}) // the number of points
			b[i] = 0xff
			return b
		}), iso19794.ErrFormat},
	}
	for name, c := range cases {
		var r iso19794.Record
		if err := r.UnmarshalBinary(c.data); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
}

func TestHostileXML(t *testing.T) {
	rec, err := iso19794.FromSignature(fixture(12))
	if err != nil {
		t.Fatal(err)
	}
	good, _ := rec.MarshalXMLRecord()
	s := string(good)
	cases := map[string]string{
		"unknown element":   strings.Replace(s, "<Points>", "<Points><Script/>", 1),
		"unknown attribute": strings.Replace(s, `<Channel name="X"`, `<Channel onload="x" name="X"`, 1),
		"DTD":               strings.Replace(s, "?>", "?><!DOCTYPE r [<!ENTITY a \"b\">]>", 1),
		"missing value":     strings.Replace(s, ` S="0"`, ``, 1),
		"extra channel":     strings.Replace(s, ` S="0"`, ` S="0" Z="1"`, 1),
		"value too large":   strings.Replace(s, ` S="0"`, ` S="70000"`, 1),
		"bad scale":         strings.Replace(s, `scale="100"`, `scale="100.01"`, 1),
		"other version":     strings.Replace(s, `version="020"`, `version="010"`, 1),
		"other namespace":   strings.Replace(s, iso19794.XMLNamespace, "urn:x", 1),
		"not XML":           "SDI\x00",
	}
	for name, data := range cases {
		if data == s {
			t.Fatalf("%s: mutation did not apply", name)
		}
		var r iso19794.Record
		if err := r.UnmarshalXMLRecord([]byte(data)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestForgedSignaturesAreRefused(t *testing.T) {
	sig := fixture(10)
	sig.Samples[5].T = sig.Samples[4].T - 1
	if _, err := iso19794.FromSignature(sig); !errors.Is(err, signpad.ErrTimeBackwards) {
		t.Errorf("err = %v, want ErrTimeBackwards", err)
	}
	big := signpad.Signature{Device: signpad.Device{}, Samples: make([]signpad.Sample, signpad.MaxSamples+1)}
	if _, err := iso19794.FromSignature(big); !errors.Is(err, signpad.ErrTooManySamples) {
		t.Errorf("err = %v, want ErrTooManySamples", err)
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	rec, _ := iso19794.FromSignature(fixture(12))
	b, _ := rec.MarshalBinary()
	f.Add(b)
	f.Add([]byte("SDI\x00020\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r iso19794.Record
		if r.UnmarshalBinary(data) != nil {
			return
		}
		again, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzUnmarshalXML(f *testing.F) {
	rec, _ := iso19794.FromSignature(fixture(12))
	b, _ := rec.MarshalXMLRecord()
	f.Add(b)
	f.Add([]byte("<SignatureTimeSeriesRecord/>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r iso19794.Record
		if r.UnmarshalXMLRecord(data) != nil {
			return
		}
		again, err := r.MarshalXMLRecord()
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		var r2 iso19794.Record
		if err := r2.UnmarshalXMLRecord(again); err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip differs: %v", err)
		}
	})
}
