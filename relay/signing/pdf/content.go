package pdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image/png"
	"strconv"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Appearance image limits.
const (
	// MaxImageSide is the largest accepted width or height of an appearance
	// PNG, in pixels.
	MaxImageSide = 4096
	// MaxImageBytes is the largest accepted appearance PNG, in bytes.
	MaxImageBytes = 8 << 20
)

// num formats a coordinate for a content stream.
func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-" || s == "-0" {
		return "0"
	}
	return s
}

func rectArray(r Rect) types.Array {
	return types.Array{types.Float(r.LLX), types.Float(r.LLY), types.Float(r.URX), types.Float(r.URY)}
}

func deflate(b []byte) []byte {
	var out bytes.Buffer
	w, _ := zlib.NewWriterLevel(&out, zlib.BestSpeed)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

// image writes a PNG as an image XObject (RGB, with an SMask when the PNG
// has transparency) and returns its reference and pixel size.
func (inc *increment) image(pngData []byte) (types.IndirectRef, int, int, error) {
	var zero types.IndirectRef
	if len(pngData) == 0 || len(pngData) > MaxImageBytes {
		return zero, 0, 0, fmt.Errorf("appearance image empty or larger than %d bytes: %w", MaxImageBytes, ErrInvalidStep)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(pngData))
	if err != nil {
		return zero, 0, 0, fmt.Errorf("appearance image is not a PNG: %w", ErrInvalidStep)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxImageSide || cfg.Height > MaxImageSide {
		return zero, 0, 0, fmt.Errorf("appearance image %dx%d (limit %d): %w", cfg.Width, cfg.Height, MaxImageSide, ErrInvalidStep)
	}
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return zero, 0, 0, fmt.Errorf("appearance image undecodable: %w", ErrInvalidStep)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	rgb := make([]byte, 0, w*h*3)
	alpha := make([]byte, 0, w*h)
	opaque := true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if a != 0 && a != 0xffff {
				// Un-premultiply.
				r, g, bl = r*0xffff/a, g*0xffff/a, bl*0xffff/a
			}
			rgb = append(rgb, byte(r>>8), byte(g>>8), byte(bl>>8))
			alpha = append(alpha, byte(a>>8))
			if a != 0xffff {
				opaque = false
			}
		}
	}
	dict := types.Dict{
		"Type":             types.Name("XObject"),
		"Subtype":          types.Name("Image"),
		"Width":            types.Integer(w),
		"Height":           types.Integer(h),
		"ColorSpace":       types.Name("DeviceRGB"),
		"BitsPerComponent": types.Integer(8),
		"Filter":           types.Name("FlateDecode"),
	}
	if !opaque {
		mask := inc.alloc()
		inc.stream(mask, types.Dict{
			"Type":             types.Name("XObject"),
			"Subtype":          types.Name("Image"),
			"Width":            types.Integer(w),
			"Height":           types.Integer(h),
			"ColorSpace":       types.Name("DeviceGray"),
			"BitsPerComponent": types.Integer(8),
			"Filter":           types.Name("FlateDecode"),
		}, deflate(alpha))
		dict["SMask"] = mask
	}
	ref := inc.alloc()
	inc.stream(ref, dict, deflate(rgb))
	return ref, w, h, nil
}

// appearance writes a form XObject of size r showing the image centred
// and scaled to fit, and returns its reference.
func (inc *increment) appearance(r Rect, img types.IndirectRef, w, h int) types.IndirectRef {
	bw, bh := r.Width(), r.Height()
	scale := bw / float64(w)
	if s := bh / float64(h); s < scale {
		scale = s
	}
	dw, dh := float64(w)*scale, float64(h)*scale
	ox, oy := (bw-dw)/2, (bh-dh)/2
	content := fmt.Sprintf("q %s 0 0 %s %s %s cm /Im0 Do Q\n", num(dw), num(dh), num(ox), num(oy))
	ref := inc.alloc()
	inc.stream(ref, types.Dict{
		"Type":      types.Name("XObject"),
		"Subtype":   types.Name("Form"),
		"BBox":      types.Array{types.Integer(0), types.Integer(0), types.Float(bw), types.Float(bh)},
		"Resources": types.Dict{"XObject": types.Dict{"Im0": img}},
	}, []byte(content))
	return ref
}

// helvetica writes a Type 1 Helvetica font dictionary (WinAnsiEncoding).
func (inc *increment) helvetica() types.IndirectRef {
	ref := inc.alloc()
	inc.object(ref, types.Dict{
		"Type":     types.Name("Font"),
		"Subtype":  types.Name("Type1"),
		"BaseFont": types.Name("Helvetica"),
		"Encoding": types.Name("WinAnsiEncoding"),
	})
	return ref
}

// pdfText encodes s for a WinAnsi literal string: characters outside
// WinAnsi become '?', control characters become spaces, and the delimiters
// are escaped.
func pdfText(s string) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, r := range s {
		var c byte
		switch {
		case r == '€':
			c = 0x80
		case r < 0x20 || r == 0x7f:
			c = ' '
		case r < 0x80 || (r >= 0xa0 && r <= 0xff):
			c = byte(r)
		default:
			c = '?'
		}
		switch c {
		case '(', ')', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			if c >= 0x80 {
				fmt.Fprintf(&b, "\\%03o", c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte(')')
	return b.String()
}

// textOps draws value inside r with Helvetica (resource name font),
// clipped to r, sized to the rectangle's height.
func textOps(font string, r Rect, value string) string {
	size := r.Height() * 0.7
	if size > 12 {
		size = 12
	}
	if size < 4 {
		size = 4
	}
	y := r.LLY + (r.Height()-size)/2 + size*0.22
	return fmt.Sprintf("q %s %s %s %s re W n BT /%s %s Tf 0 g %s %s Td %s Tj ET Q\n",
		num(r.LLX), num(r.LLY), num(r.Width()), num(r.Height()), font, num(size), num(r.LLX+2), num(y), pdfText(value))
}
