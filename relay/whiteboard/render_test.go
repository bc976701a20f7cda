package whiteboard

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sampleState is a page with one of everything.
func sampleState() State {
	var wave, press []float64
	for i := range 60 {
		x := 0.05 + 0.9*float64(i)/59
		wave = append(wave, x, 0.2+0.08*math.Sin(x*12))
		press = append(press, float64(i)/59)
	}
	loop := []float64{0.1, 0.6, 0.5, 0.9, 0.5, 0.6, 0.1, 0.9} // crosses itself
	objs := []Op{
		{Kind: KindStroke, ID: "01", Tool: ToolPen, Color: "#1f4e79", Width: 0.02, Points: wave, Pressure: press},
		{Kind: KindStroke, ID: "02", Tool: ToolHighlighter, Color: "#ffd400", Width: 0.04, Points: loop},
		{Kind: KindShape, ID: "03", Shape: ShapeRect, Color: "#c00000", Width: 0.006, Points: []float64{0.55, 0.35, 0.95, 0.6}},
		{Kind: KindShape, ID: "04", Shape: ShapeEllipse, Color: "#00802b", Width: 0.006, Points: []float64{0.6, 0.65, 0.95, 0.95}},
		{Kind: KindShape, ID: "05", Shape: ShapeLine, Color: "#000000", Width: 0.003, Points: []float64{0.05, 0.4, 0.45, 0.4}},
		{Kind: KindShape, ID: "06", Shape: ShapeArrow, Color: "#7030a0", Width: 0.005, Points: []float64{0.05, 0.5, 0.45, 0.55}},
		{Kind: KindText, ID: "07", Color: "#202020", Size: 0.05, Points: []float64{0.58, 0.38}, Text: "Zins 3,1 %\nLaufzeit"},
	}
	for i := range objs {
		objs[i].Page, objs[i].Seq = 1, uint64(i+1)
	}
	return State{Seq: 7, Background: Background{Page: 1}, Pages: []PageState{{Page: 1, Objects: objs}}}
}

// gradient is a stand-in for a rendered PDF page.
func gradient() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(200 + x/2), uint8(220 + y/2), 240, 255})
		}
	}
	return img
}

// TestRenderGolden compares a rendered page with testdata/render.golden.png
// (go test -run TestRenderGolden -update rewrites it); channels may differ
// by a little on a few pixels (float rounding), not more.
func TestRenderGolden(t *testing.T) {
	got, err := RenderPNG(sampleState(), page1, 320, 240, gradient())
	must(t, err)
	path := filepath.Join("testdata", "render.golden.png")
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	must(t, err)
	gi, err := png.Decode(bytes.NewReader(got))
	must(t, err)
	wi, err := png.Decode(bytes.NewReader(want))
	must(t, err)
	if gi.Bounds() != wi.Bounds() {
		t.Fatalf("size %v, want %v", gi.Bounds(), wi.Bounds())
	}
	bad := 0
	for y := range 240 {
		for x := range 320 {
			r1, g1, b1, _ := gi.At(x, y).RGBA()
			r2, g2, b2, _ := wi.At(x, y).RGBA()
			if diff(r1, r2) > 4<<8 || diff(g1, g2) > 4<<8 || diff(b1, b2) > 4<<8 {
				bad++
			}
		}
	}
	if bad > 320*240/1000 {
		failed := filepath.Join(t.TempDir(), "render.png")
		_ = os.WriteFile(failed, got, 0o644)
		t.Fatalf("%d pixels differ from the golden image; got %s", bad, failed)
	}
}

func diff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestRenderRules checks the rasteriser's promises directly: a pen
// stroke's centre has its colour, a highlighter does not darken where it
// crosses itself, nothing is drawn on other pages, hostile states are
// survived.
func TestRenderRules(t *testing.T) {
	st := sampleState()
	img, err := Render(st, page1, 200, 200, nil)
	must(t, err)
	// The loop crosses itself at (0.3, 0.75).
	cross := img.RGBAAt(60, 150)
	single := img.RGBAAt(20, 120) // on the first leg, nothing else there
	if cross != single || cross == (color.RGBA{255, 255, 255, 255}) {
		t.Fatalf("highlighter at the crossing %v, on one leg %v", cross, single)
	}
	want := color.RGBA{255, 255, 255, 255}
	want.R = blend(255, 0xff, HighlighterAlpha)
	want.G = blend(255, 0xd4, HighlighterAlpha)
	want.B = blend(255, 0x00, HighlighterAlpha)
	if single != want {
		t.Fatalf("highlighter %v, want %v", single, want)
	}
	// A 4 px pen line has its colour at its centre and round caps: a
	// pixel past its end within the cap is covered, one beyond is not.
	pen := State{Pages: []PageState{{Page: 1, Objects: []Op{{Kind: KindStroke, Tool: ToolPen, Color: "#102030", Width: 0.02,
		Points: []float64{0.2, 0.4, 0.8, 0.4}}}}}}
	img2, err := Render(pen, page1, 200, 200, nil)
	must(t, err)
	if c := img2.RGBAAt(100, 80); c != (color.RGBA{0x10, 0x20, 0x30, 255}) {
		t.Fatalf("pen centre %v", c)
	}
	if c := img2.RGBAAt(160, 80); c == (color.RGBA{255, 255, 255, 255}) {
		t.Fatal("no round cap")
	}
	if c := img2.RGBAAt(164, 80); c != (color.RGBA{255, 255, 255, 255}) {
		t.Fatalf("painted beyond the cap: %v", c)
	}
	blank, err := Render(st, PageRef{Page: 2}, 10, 10, nil)
	must(t, err)
	for _, v := range blank.Pix {
		if v != 255 {
			t.Fatal("page 2 is not blank")
		}
	}
	hostile := State{Pages: []PageState{{Page: 1, Objects: []Op{
		{Kind: KindStroke, Color: "#000000", Width: math.Inf(1), Points: []float64{0, 0, 1, 1}},
		{Kind: KindStroke, Color: "#000000", Width: 0.01, Points: []float64{math.NaN(), 0, 5, -3}},
		{Kind: KindShape, Shape: ShapeEllipse, Color: "#000000", Width: 1e9, Points: []float64{-1e300, 0, 1e300, 1}},
		{Kind: KindText, Color: "#000000", Size: 1e9, Points: []float64{0.5, 0.5}, Text: "x"},
		{Kind: KindStroke, Color: "nope", Width: 0.01, Points: []float64{0, 0}},
	}}}}
	_, err = Render(hostile, page1, 64, 64, nil)
	must(t, err)
	for _, size := range [][2]int{{0, 10}, {10, -1}, {MaxRenderSide + 1, 1}} {
		if _, err := Render(st, page1, size[0], size[1], nil); err == nil {
			t.Fatalf("rendered %v", size)
		}
	}
}
