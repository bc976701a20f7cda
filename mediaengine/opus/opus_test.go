package opus_test

import (
	"errors"
	"math"
	"testing"

	"parley/mediaengine/opus"
)

func tone(n int, phase *float64) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(*phase))
		*phase += 2 * math.Pi * 440 / 48000
	}
	return pcm
}

func rms(pcm []int16) float64 {
	var s float64
	for _, v := range pcm {
		f := float64(v) / 32768
		s += f * f
	}
	return math.Sqrt(s / float64(len(pcm)))
}

func TestRoundTripKeepsTheTone(t *testing.T) {
	enc, err := opus.NewEncoder(48000, 1, 32000)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dec, err := opus.NewDecoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()

	var phase float64
	pkt := make([]byte, 4000)
	out := make([]int16, opus.MaxFrameSamples)
	var last float64
	for i := 0; i < 25; i++ {
		n, err := enc.Encode(tone(960, &phase), pkt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dec.Decode(pkt[:n], out)
		if err != nil {
			t.Fatal(err)
		}
		if got != 960 {
			t.Fatalf("decoded %d samples, want 960", got)
		}
		last = rms(out[:got])
	}
	// The input's RMS is 8000/32768/sqrt(2) ≈ 0.17.
	if last < 0.1 || last > 0.25 {
		t.Fatalf("decoded RMS %.3f, want about 0.17", last)
	}
	// Loss concealment produces a frame too.
	if n, err := dec.Decode(nil, out[:960]); err != nil || n != 960 {
		t.Fatalf("concealment: %d, %v", n, err)
	}
}

func TestGarbageIsAnErrorAndCloseIsFinal(t *testing.T) {
	dec, err := opus.NewDecoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, opus.MaxFrameSamples)
	// A code-3 packet announcing more frames than it carries is invalid.
	if _, err := dec.Decode([]byte{0xff, 0xff}, out); err == nil {
		t.Fatal("decoding garbage succeeded")
	}
	dec.Close()
	dec.Close()
	if _, err := dec.Decode([]byte{0xf8}, out); !errors.Is(err, opus.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
	if _, err := opus.NewEncoder(44100, 1, 0); err == nil {
		t.Fatal("44.1 kHz encoder accepted")
	}
}
