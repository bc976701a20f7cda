package mediaengine

import (
	"image"
	"image/draw"
	"sync"

	"parley/mediaengine/source"
)

// Preview holds the latest local frame of a capture (the camera or the
// shared screen) for the UI's self view. Frames are copied, so the picture
// stays valid after the capture reuses its buffer.
type Preview struct {
	mu   sync.Mutex
	img  image.Image
	n    uint64
	seen uint64
}

// previewEvery: the self view keeps one frame in this many (15 fps from a
// 30 fps camera), to spare the copies.
const previewEvery = 2

// Latest returns the newest kept frame and its number; nil and 0 while
// the capture is off.
func (p *Preview) Latest() (image.Image, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.img == nil {
		return nil, 0
	}
	return p.img, p.n
}

// offer keeps a copy of img if it is its turn.
func (p *Preview) offer(img image.Image) {
	p.mu.Lock()
	p.seen++
	keep := p.seen%previewEvery == 1
	p.mu.Unlock()
	if !keep || img == nil {
		return
	}
	c := cloneImage(img)
	p.mu.Lock()
	p.img = c
	p.n++
	p.mu.Unlock()
}

// clear forgets the picture (the capture stopped).
func (p *Preview) clear() {
	p.mu.Lock()
	p.img = nil
	p.mu.Unlock()
}

// cloneImage copies img: Y'CbCr planes as they are, anything else into RGBA.
func cloneImage(img image.Image) image.Image {
	if y, ok := img.(*image.YCbCr); ok {
		c := *y
		c.Y = append([]byte(nil), y.Y...)
		c.Cb = append([]byte(nil), y.Cb...)
		c.Cr = append([]byte(nil), y.Cr...)
		return &c
	}
	b := img.Bounds()
	c := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(c, c.Bounds(), img, b.Min, draw.Src)
	return c
}

// teeReader hands every frame it reads to a Preview on its way to the
// encoder.
type teeReader struct {
	source.VideoReader
	p *Preview
}

func (t teeReader) Read() (image.Image, func(), error) {
	img, release, err := t.VideoReader.Read()
	if err == nil {
		t.p.offer(img)
	}
	return img, release, err
}
