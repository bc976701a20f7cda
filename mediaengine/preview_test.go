package mediaengine

import (
	"image"
	"testing"
)

// TestPreview: the self view shows the camera while it is on and nothing
// when it is off; frames are copies that stay valid.
func TestPreview(t *testing.T) {
	var p Preview
	if img, n := p.Latest(); img != nil || n != 0 {
		t.Fatal("an empty preview shows a picture")
	}
	src := image.NewYCbCr(image.Rect(0, 0, 4, 4), image.YCbCrSubsampleRatio420)
	src.Y[0] = 200
	p.offer(src) // kept (first of two)
	p.offer(src) // skipped
	img, n := p.Latest()
	if n != 1 || img == nil {
		t.Fatalf("after two frames: %v %d", img, n)
	}
	src.Y[0] = 7 // the capture reuses its buffer
	if got := img.(*image.YCbCr).Y[0]; got != 200 {
		t.Fatalf("the preview shares the capture's buffer: %d", got)
	}
	rgba := image.NewRGBA(image.Rect(2, 2, 6, 6))
	p.offer(rgba)
	if img, n := p.Latest(); n != 2 || img.Bounds().Dx() != 4 {
		t.Fatalf("RGBA frame: %v %d", img.Bounds(), n)
	}
	p.clear()
	if img, _ := p.Latest(); img != nil {
		t.Fatal("a cleared preview still shows a picture")
	}
}
