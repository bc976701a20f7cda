package source_test

import (
	"errors"
	"image"
	"math"
	"testing"

	"parley/mediaengine/source"
)

func TestTestPatternMovesAndStops(t *testing.T) {
	for _, v := range []source.Video{source.TestPattern{}, source.TestScreen{}} {
		r, err := v.OpenVideo(source.Format{Width: 321, Height: 240, FPS: 50})
		if err != nil {
			t.Fatal(err)
		}
		a, _, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		ya, yb := a.(*image.YCbCr), b.(*image.YCbCr)
		if ya.Rect.Dx() != 320 || ya.Rect.Dy() != 240 {
			t.Fatalf("%s: frame %v, want 320×240 (even width)", v.Name(), ya.Rect)
		}
		if string(ya.Y) == string(yb.Y) {
			t.Fatalf("%s: consecutive frames are identical", v.Name())
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Read(); !errors.Is(err, source.ErrClosed) {
			t.Fatalf("%s: Read after Close: %v", v.Name(), err)
		}
	}
}

func TestToneHasItsLevel(t *testing.T) {
	r, err := source.Tone{Level: 0.5}.OpenAudio()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pcm := make([]int16, source.FrameSamples)
	if err := r.Read(pcm); err != nil {
		t.Fatal(err)
	}
	var s float64
	for _, v := range pcm {
		s += float64(v) * float64(v)
	}
	got := math.Sqrt(s/float64(len(pcm))) / 32768
	if math.Abs(got-0.5/math.Sqrt2) > 0.02 {
		t.Fatalf("tone RMS %.3f, want %.3f", got, 0.5/math.Sqrt2)
	}
}

// On the test machines there is no /dev/video*, no X display and no sound
// card: the device lists are empty and nothing crashes.
func TestDeviceListsWithoutDevices(t *testing.T) {
	t.Logf("cameras %d, screens %d", len(source.Cameras()), len(source.Screens()))
	mics, err := source.Microphones()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mics {
		t.Logf("microphone %q", m.Name())
	}
}
