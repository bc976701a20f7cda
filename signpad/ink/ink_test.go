package ink_test

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/signpad"
	"parley/signpad/ink"
	"parley/signpad/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite golden files")

func inked(img *image.NRGBA) (n int) {
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i] > 0 {
			n++
		}
	}
	return n
}

// matchGolden compares with a small tolerance (floating point may round
// differently on other CPUs) and writes the failed render beside it.
func matchGolden(t *testing.T, name string, img *image.NRGBA) {
	t.Helper()
	path := filepath.Join("testdata", name)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if want.Bounds() != img.Bounds() {
		t.Fatalf("%s: size %v, want %v", name, img.Bounds(), want.Bounds())
	}
	bad := 0
	for y := range img.Bounds().Dy() {
		for x := range img.Bounds().Dx() {
			a := img.NRGBAAt(x, y)
			wc := color.NRGBAModel.Convert(want.At(x, y)).(color.NRGBA)
			w := [4]int{int(wc.R), int(wc.G), int(wc.B), int(wc.A)}
			got := [4]int{int(a.R), int(a.G), int(a.B), int(a.A)}
			if got[3] == 0 && w[3] == 0 {
				continue
			}
			for k := range 4 {
				if d := got[k] - w[k]; d > 3 || d < -3 {
					bad++
					break
				}
			}
		}
	}
	if bad > 0 {
		os.MkdirAll(filepath.Join("testdata", "failed"), 0o755)
		os.WriteFile(filepath.Join("testdata", "failed", name), buf.Bytes(), 0o644)
		t.Errorf("%s: %d pixels differ (render written to testdata/failed/)", name, bad)
	}
}

func TestAppearanceGolden(t *testing.T) {
	img, err := ink.Render(fixture.Pen(200, 2*time.Second, 0), ink.Options{Width: 480, Height: 160})
	if err != nil {
		t.Fatal(err)
	}
	matchGolden(t, "appearance.png", img)
	if img.NRGBAAt(0, 0).A != 0 || img.NRGBAAt(479, 159).A != 0 {
		t.Error("background is not transparent")
	}
	if inked(img) < 1000 {
		t.Errorf("only %d inked pixels", inked(img))
	}
}

func TestPlotGolden(t *testing.T) {
	sig := fixture.Pen(200, 2*time.Second, 0)
	sig.Samples[200].Gap = true
	img, err := ink.Plot(sig, 600, 300)
	if err != nil {
		t.Fatal(err)
	}
	matchGolden(t, "plot.png", img)
}

func TestWidthFollowsPressure(t *testing.T) {
	light := fixture.Pen(200, 2*time.Second, 0)
	heavy := fixture.Pen(200, 2*time.Second, 0)
	for i := range light.Samples {
		light.Samples[i].Pressure = 100
		heavy.Samples[i].Pressure = 4000
	}
	a, _ := ink.Render(light, ink.Options{})
	b, _ := ink.Render(heavy, ink.Options{})
	if inked(b) < inked(a)*3/2 {
		t.Errorf("heavy pressure inks %d pixels, light %d: width does not follow pressure", inked(b), inked(a))
	}
}

func TestWritePNGAndErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := ink.WritePNG(&buf, fixture.Pen(200, time.Second, 0), ink.Options{}); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil || img.Bounds().Dx() != 600 {
		t.Fatalf("decoded %v %v", img.Bounds(), err)
	}
	if _, err := ink.Render(fixture.Pen(200, time.Second, 0), ink.Options{Width: 100000, Height: 100000}); !errors.Is(err, ink.ErrSize) {
		t.Errorf("huge image: %v", err)
	}
	if _, err := ink.Render(signpad.Signature{}, ink.Options{}); !errors.Is(err, signpad.ErrEmpty) {
		t.Errorf("empty signature: %v", err)
	}
}
