package browser

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"image"
	"image/color"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"parley/relay/certs"
)

func TestRequestLogOutside(t *testing.T) {
	l := &RequestLog{urls: []string{
		"https://127.0.0.1:4443/",
		"https://127.0.0.1:4443/static/a.js",
		"https://127.0.0.1:4443",
		"https://127.0.0.1:44431/x",            // another port that shares a prefix
		"https://127.0.0.1:4443.evil.example/", // a host that shares a prefix
		"https://fonts.example.com/a.woff2",
		"data:image/png;base64,AAAA",
	}}
	got := l.Outside("https://127.0.0.1:4443/")
	want := []string{
		"https://127.0.0.1:44431/x",
		"https://127.0.0.1:4443.evil.example/",
		"https://fonts.example.com/a.woff2",
		"data:image/png;base64,AAAA",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Outside = %q, want %q", got, want)
	}
}

func TestColours(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 10, 10))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	if n := Colours(img, 10); n != 1 {
		t.Errorf("blank image: %d colours, want 1", n)
	}
	img.Set(3, 4, color.RGBA{R: 10, A: 0xff})
	if n := Colours(img, 10); n != 2 {
		t.Errorf("one dot: %d colours, want 2", n)
	}
}

func TestSPKIHash(t *testing.T) {
	dir := t.TempDir()
	cert, err := certs.LoadOrCreateSelfSigned(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(cert.Leaf.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	want := base64.StdEncoding.EncodeToString(sum[:])
	got, err := SPKIHashFile(filepath.Join(dir, certs.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("SPKIHashFile = %q, want %q", got, want)
	}
	if _, err := SPKIHash([]byte("not a certificate")); err == nil {
		t.Errorf("SPKIHash accepted garbage")
	}
}
