package main

import (
	"image"
	"image/png"
	"io"
	"os"
)

func encodePNG(w io.Writer, img image.Image) error { return png.Encode(w, img) }

func writePNG(path string, enc func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := enc(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
