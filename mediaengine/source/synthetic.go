package source

import (
	"fmt"
	"image"
	"math"
	"sync"
	"time"
)

// TestPattern is a synthetic camera: colour bars that move one step per
// frame and the frame number drawn in the top-left corner.
type TestPattern struct {
	// Label is shown by Name; empty means "Test pattern".
	Label string
}

// Name implements Video.
func (p TestPattern) Name() string {
	if p.Label == "" {
		return "Test pattern"
	}
	return p.Label
}

// OpenVideo implements Video.
func (p TestPattern) OpenVideo(f Format) (VideoReader, error) {
	return newSynthetic(f.orDefault(), drawBars), nil
}

// TestScreen is a synthetic screen for screen-share tests: a light page
// with text-like lines and a pointer that moves, plus the frame number.
type TestScreen struct{}

// Name implements Video.
func (TestScreen) Name() string { return "Test screen" }

// OpenVideo implements Video. Screens default to 5 frames per second.
func (TestScreen) OpenVideo(f Format) (VideoReader, error) {
	if f.FPS <= 0 {
		f.FPS = 5
	}
	return newSynthetic(f.orDefault(), drawPage), nil
}

// synthetic renders frames into fresh YCbCr images at the format's rate.
type synthetic struct {
	f      Format
	draw   func(img *image.YCbCr, n int)
	ticker *time.Ticker

	mu     sync.Mutex
	n      int
	done   chan struct{}
	closed bool
}

func newSynthetic(f Format, draw func(*image.YCbCr, int)) *synthetic {
	// Even sizes keep 4:2:0 chroma planes whole.
	f.Width &^= 1
	f.Height &^= 1
	return &synthetic{
		f:      f,
		draw:   draw,
		ticker: time.NewTicker(time.Second / time.Duration(f.FPS)),
		done:   make(chan struct{}),
	}
}

func (s *synthetic) Read() (image.Image, func(), error) {
	select {
	case <-s.done:
		return nil, nil, ErrClosed
	case <-s.ticker.C:
	}
	s.mu.Lock()
	n := s.n
	s.n++
	s.mu.Unlock()
	img := image.NewYCbCr(image.Rect(0, 0, s.f.Width, s.f.Height), image.YCbCrSubsampleRatio420)
	s.draw(img, n)
	drawNumber(img, n, 8, 8, 4)
	return img, func() {}, nil
}

func (s *synthetic) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.ticker.Stop()
		close(s.done)
	}
	return nil
}

// bars: Y, Cb, Cr of white, yellow, cyan, green, magenta, red, blue, black.
var bars = [8][3]uint8{
	{235, 128, 128}, {210, 16, 146}, {170, 166, 16}, {145, 54, 34},
	{106, 202, 222}, {81, 90, 240}, {41, 240, 110}, {16, 128, 128},
}

func drawBars(img *image.YCbCr, n int) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	barW := max(w/8, 1)
	shift := n * 4
	for x := 0; x < w; x++ {
		c := bars[((x+shift)/barW)%8]
		for y := 0; y < h; y++ {
			img.Y[y*img.YStride+x] = c[0]
		}
		if x%2 == 0 {
			for y := 0; y < h/2; y++ {
				img.Cb[y*img.CStride+x/2] = c[1]
				img.Cr[y*img.CStride+x/2] = c[2]
			}
		}
	}
}

func drawPage(img *image.YCbCr, n int) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	for y := 0; y < h; y++ {
		v := uint8(240)
		if y%24 >= 8 && y%24 < 14 && y > 60 {
			v = 120
		}
		row := img.Y[y*img.YStride : y*img.YStride+w]
		for x := range row {
			row[x] = v
			if v == 120 && (x < 40 || x > w-40-(y*7)%(w/3)) {
				row[x] = 240
			}
		}
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = 128, 128
	}
	// A pointer circling the page.
	a := float64(n) / 10
	px := w/2 + int(float64(w/3)*math.Cos(a))
	py := h/2 + int(float64(h/3)*math.Sin(a))
	for y := max(py, 0); y < min(py+16, h); y++ {
		for x := max(px, 0); x < min(px+(y-py)/2+2, w); x++ {
			img.Y[y*img.YStride+x] = 16
		}
	}
}

// digits is a 3×5 bitmap font, one row of three bits per line.
var digits = [10][5]uint8{
	{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
	{7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
}

// drawNumber writes n in black on a white box at (x0, y0), each font pixel
// scale×scale.
func drawNumber(img *image.YCbCr, n, x0, y0, scale int) {
	s := fmt.Sprint(n)
	w, h := img.Rect.Dx(), img.Rect.Dy()
	boxW, boxH := (len(s)*4+1)*scale, 7*scale
	for y := y0; y < min(y0+boxH, h); y++ {
		for x := x0; x < min(x0+boxW, w); x++ {
			img.Y[y*img.YStride+x] = 235
			img.Cb[(y/2)*img.CStride+x/2] = 128
			img.Cr[(y/2)*img.CStride+x/2] = 128
		}
	}
	for i, ch := range s {
		glyph := digits[ch-'0']
		for row := 0; row < 5; row++ {
			for col := 0; col < 3; col++ {
				if glyph[row]&(4>>col) == 0 {
					continue
				}
				gx := x0 + (1+i*4+col)*scale
				gy := y0 + (1+row)*scale
				for y := gy; y < min(gy+scale, h); y++ {
					for x := gx; x < min(gx+scale, w); x++ {
						img.Y[y*img.YStride+x] = 16
					}
				}
			}
		}
	}
}

// Tone is a synthetic microphone: a sine wave.
type Tone struct {
	// Freq is the tone's frequency in Hz; 0 means 440.
	Freq float64
	// Level is the peak amplitude from 0 to 1; 0 means 0.3.
	Level float64
}

// Name implements Audio.
func (t Tone) Name() string { return "Test tone" }

// OpenAudio implements Audio.
func (t Tone) OpenAudio() (AudioReader, error) {
	if t.Freq <= 0 {
		t.Freq = 440
	}
	if t.Level <= 0 || t.Level > 1 {
		t.Level = 0.3
	}
	return &tone{t: t, ticker: time.NewTicker(20 * time.Millisecond), done: make(chan struct{})}, nil
}

type tone struct {
	t      Tone
	phase  float64
	ticker *time.Ticker
	once   sync.Once
	done   chan struct{}
}

func (r *tone) Read(pcm []int16) error {
	select {
	case <-r.done:
		return ErrClosed
	case <-r.ticker.C:
	}
	step := 2 * math.Pi * r.t.Freq / SampleRate
	for i := range pcm {
		pcm[i] = int16(r.t.Level * 32767 * math.Sin(r.phase))
		r.phase += step
		if r.phase > 2*math.Pi {
			r.phase -= 2 * math.Pi
		}
	}
	return nil
}

func (r *tone) Close() error {
	r.once.Do(func() {
		r.ticker.Stop()
		close(r.done)
	})
	return nil
}
