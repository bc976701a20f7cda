package pdfrender

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // JPEG input
	_ "image/png"  // PNG input

	xdraw "golang.org/x/image/draw"
)

// imageConfig reads an image's size without decoding it and refuses
// sizes over MaxImagePixels.
func imageConfig(doc []byte) (int, int, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(doc))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: image header: %v", ErrMalformed, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return 0, 0, fmt.Errorf("%w: image %dx%d", ErrMalformed, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return 0, 0, fmt.Errorf("%w: image %dx%d pixels", ErrTooLarge, cfg.Width, cfg.Height)
	}
	return cfg.Width, cfg.Height, nil
}

// scaleImage decodes a PNG or JPEG and scales it to width w (within
// MaxPixels) on white.
func scaleImage(doc []byte, w int) (*image.RGBA, error) {
	iw, ih, err := imageConfig(doc)
	if err != nil {
		return nil, err
	}
	src, _, err := image.Decode(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("%w: image: %v", ErrMalformed, err)
	}
	pw, ph, err := fit(float64(iw), float64(ih), w)
	if err != nil {
		return nil, err
	}
	dst := image.NewRGBA(image.Rect(0, 0, pw, ph))
	xdraw.Draw(dst, dst.Bounds(), image.White, image.Point{}, xdraw.Src)
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Over, nil)
	return dst, nil
}
