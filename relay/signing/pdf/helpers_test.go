package pdf_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"parley/relay/signing/pdf"
)

// classicPDF writes an n-page PDF with a classic xref table by hand. The
// font and media box are inherited from the page tree root; each page's
// content stream is uncompressed and says "Page <i> of the contract".
func classicPDF(n int) []byte { return buildPDF(n, n, nil) }

// buildPDF writes a PDF with n page objects whose root claims count pages;
// pageExtra adds entries to page i's dictionary (0-based).
func buildPDF(n, count int, pageExtra map[int]string) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	var kids []string
	for i := 0; i < n; i++ {
		kids = append(kids, fmt.Sprintf("%d 0 R", 4+2*i))
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> >>", strings.Join(kids, " "), count))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	for i := 0; i < n; i++ {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R %s/Contents %d 0 R >>", pageExtra[i], 5+2*i))
		content := fmt.Sprintf("BT /F1 24 Tf 72 760 Td (Page %d of the contract) Tj ET", i+1)
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// xrefStreamPDF rewrites classicPDF(n) with pdfcpu, which writes object
// streams and a cross-reference stream.
func xrefStreamPDF(t testing.TB, n int) []byte {
	t.Helper()
	api.DisableConfigDir()
	conf := model.NewDefaultConfiguration()
	conf.WriteXRefStream = true
	conf.WriteObjectStream = true
	ctx, err := api.ReadContext(bytes.NewReader(classicPDF(n)), conf)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := api.WriteContext(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("/XRef")) {
		t.Fatal("pdfcpu did not write an xref stream")
	}
	return out.Bytes()
}

// encryptedPDF encrypts classicPDF(1) with pdfcpu (AES-256).
func encryptedPDF(t testing.TB, userPW string) []byte {
	t.Helper()
	api.DisableConfigDir()
	conf := model.NewAESConfiguration(userPW, "owner-secret", 256)
	var out bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(classicPDF(1)), &out, conf); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

type pki struct {
	key   crypto.Signer
	chain []*x509.Certificate
	roots *x509.CertPool
}

// newPKI makes a test CA and a seal certificate (ECDSA P-256, or RSA-3072
// when rsaKeys is set).
func newPKI(t testing.TB, rsaKeys bool) pki {
	t.Helper()
	gen := func() crypto.Signer {
		if rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 3072)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, sealKey := gen(), gen()
	notBefore := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Parley Test CA", Organization: []string{"Test Bank AG"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	sealTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "Test Bank AG e-seal", Organization: []string{"Test Bank AG"}},
		NotBefore:    notBefore,
		NotAfter:     notBefore.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	sealDER, err := x509.CreateCertificate(rand.Reader, sealTmpl, ca, sealKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	seal, _ := x509.ParseCertificate(sealDER)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return pki{key: sealKey, chain: []*x509.Certificate{seal, ca}, roots: roots}
}

// signaturePNG draws a dark-blue scribble on a transparent background.
func signaturePNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 300, 100))
	ink := color.NRGBA{R: 10, G: 20, B: 120, A: 255}
	for x := 10; x < 290; x++ {
		y := 50 + int(30*sinApprox(float64(x)/20))
		for dy := -4; dy <= 4; dy++ {
			img.Set(x, y+dy, ink)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sinApprox(x float64) float64 {
	// A triangle wave is scribble enough.
	x = x - 4*float64(int(x/4))
	if x < 2 {
		return x - 1
	}
	return 3 - x
}

// tool returns the path of a poppler tool or skips the test.
func tool(t testing.TB, name string) string {
	t.Helper()
	p := "/usr/bin/" + name
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not installed (poppler-utils): %v", p, err)
	}
	return p
}

// pdfsig runs pdfsig on doc and returns the number of signatures it
// reports valid and the number it reports at all.
func pdfsig(t testing.TB, doc []byte) (valid, total int, out string) {
	t.Helper()
	bin := tool(t, "pdfsig")
	f := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	o, _ := exec.Command(bin, f).CombinedOutput()
	out = string(o)
	valid = strings.Count(out, "Signature Validation: Signature is Valid.")
	total = strings.Count(out, "Signature Validation:")
	return valid, total, out
}

// inkPixels renders page at 72 dpi with pdftoppm and counts clearly
// non-white pixels inside r (PDF user space of a page pageHeight high).
func inkPixels(t testing.TB, doc []byte, page int, r pdf.Rect, pageHeight float64) int {
	t.Helper()
	bin := tool(t, "pdftoppm")
	dir := t.TempDir()
	f := filepath.Join(dir, "doc.pdf")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	p := fmt.Sprint(page)
	if out, err := exec.Command(bin, "-r", "72", "-png", "-f", p, "-l", p, "-singlefile", f, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pf, err := os.Open(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for y := int(pageHeight - r.URY); y < int(pageHeight-r.LLY); y++ {
		for x := int(r.LLX); x < int(r.URX); x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr < 0x8000 && cg < 0x8000 && cb > 0x4000 {
				n++
			}
		}
	}
	return n
}

// pdfText extracts the text of one page with pdftotext.
func pdfText(t testing.TB, doc []byte, page int) string {
	t.Helper()
	bin := tool(t, "pdftotext")
	f := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	p := fmt.Sprint(page)
	out, err := exec.Command(bin, "-f", p, "-l", p, "-layout", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}
