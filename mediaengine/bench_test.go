package mediaengine

import (
	"image"
	"testing"

	"parley/mediaengine/source"
)

// frames is a video reader that returns prepared frames without pacing.
type frames struct {
	imgs []image.Image
	n    int
}

func (f *frames) Read() (image.Image, func(), error) {
	img := f.imgs[f.n%len(f.imgs)]
	f.n++
	return img, func() {}, nil
}

func (f *frames) Close() error { return nil }

func testFrames(tb testing.TB, n int) *frames {
	r, err := source.TestPattern{}.OpenVideo(source.Format{Width: 640, Height: 480, FPS: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	f := &frames{}
	for range n {
		img, _, err := r.Read()
		if err != nil {
			tb.Fatal(err)
		}
		f.imgs = append(f.imgs, img)
	}
	return f
}

// BenchmarkEncodeVP8 encodes one 640×480 frame of the moving test pattern
// per iteration (real-time deadline, CBR at 800 kbit/s).
func BenchmarkEncodeVP8(b *testing.B) {
	f := testFrames(b, 30)
	enc, err := newVP8Encoder(f, source.Format{Width: 640, Height: 480, FPS: 30}, 800_000)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := enc.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeVP8 decodes one 640×480 frame per iteration: a stream of
// one key frame followed by inter frames, decoded in order.
func BenchmarkDecodeVP8(b *testing.B) {
	f := testFrames(b, 30)
	enc, err := newVP8Encoder(f, source.Format{Width: 640, Height: 480, FPS: 30}, 800_000)
	if err != nil {
		b.Fatal(err)
	}
	var stream [][]byte
	for range 120 {
		fr, err := enc.Read()
		if err != nil {
			b.Fatal(err)
		}
		stream = append(stream, fr)
	}
	enc.Close()
	if !isVP8KeyFrame(stream[0]) {
		b.Fatal("stream does not start with a key frame")
	}
	var dec *VP8Decoder
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if i%len(stream) == 0 {
			b.StopTimer()
			if dec != nil {
				dec.Close()
			}
			if dec, err = NewVP8Decoder(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if _, err := dec.Decode(stream[i%len(stream)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if dec != nil {
		dec.Close()
	}
}

func TestVP8RoundTrip(t *testing.T) {
	f := testFrames(t, 10)
	enc, err := newVP8Encoder(f, source.Format{Width: 640, Height: 480, FPS: 30}, 800_000)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dec, err := NewVP8Decoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for i := range 10 {
		fr, err := enc.Read()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && !isVP8KeyFrame(fr) {
			t.Fatal("first frame is not a key frame")
		}
		img, err := dec.Decode(fr)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if img.Bounds().Dx() != 640 || img.Bounds().Dy() != 480 {
			t.Fatalf("frame %d: %v", i, img.Bounds())
		}
	}
	if _, err := dec.Decode([]byte{0x00, 0x01, 0x02}); err == nil {
		t.Fatal("decoding garbage succeeded")
	}
}
