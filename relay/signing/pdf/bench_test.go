package pdf_test

import (
	"testing"

	"parley/relay/signing/pdf"
)

// BenchmarkSignAndSeal20Pages: one signer's step (appearance image, text
// value, 4 KB envelope) and the final seal with audit page on a 20-page
// document, ECDSA P-256.
func BenchmarkSignAndSeal20Pages(b *testing.B) {
	p := newPKI(b, false)
	src := xrefStreamPDF(b, 20)
	plan := planFor(b, src, 1)
	step := stepFor(b, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		one, err := pdf.SignStep(src, plan, step, p.key, p.chain, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pdf.Seal(one, plan, p.key, p.chain, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify20Pages verifies a sealed 20-page document (two
// signatures).
func BenchmarkVerify20Pages(b *testing.B) {
	p := newPKI(b, false)
	src := xrefStreamPDF(b, 20)
	plan := planFor(b, src, 1)
	one, err := pdf.SignStep(src, plan, stepFor(b, 0), p.key, p.chain, nil)
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := pdf.Seal(one, plan, p.key, p.chain, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := pdf.Verify(sealed, p.roots); err != nil {
			b.Fatal(err)
		}
	}
}
