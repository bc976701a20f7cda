package kiosk

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"parley/relay/clock"
	"parley/signpad"
	"parley/signpad/iso19794"
)

// BenchmarkPenSignature is the kiosk's work for one 2-second signature
// from a 200 Hz pen: 400 samples drawn live on the pad, then trimmed,
// validated and encoded as the ISO/IEC 19794-7 record that is submitted.
func BenchmarkPenSignature(b *testing.B) {
	test.NewTempApp(b)
	k := &Kiosk{clock: clock.NewFake(time.Time{})}
	samples := make([]signpad.Sample, 400)
	for i := range samples {
		samples[i] = signpad.Sample{T: int64(i) * 5000, X: int32(2000 + i*25), Y: int32(4000 + (i%40)*30),
			Pressure: int32(800 + i%1000), Down: i > 5 && i < 395 && i%100 != 0}
	}
	b.ReportAllocs()
	for b.Loop() {
		p := newPad(k)
		p.Resize(fyne.NewSize(620, 300))
		for _, s := range samples {
			p.penSample(tablet, s)
		}
		sig, _, err := p.signature(time.Now(), "evdev: bench")
		if err != nil {
			b.Fatal(err)
		}
		rec, err := iso19794.FromSignature(sig)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rec.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}
