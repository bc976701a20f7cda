package pdf_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"parley/relay/signing/pdf"
)

// claimPDF is a one-page PDF whose page tree claims count pages.
func claimPDF(count int) []byte {
	return buildPDF(1, count, nil)
}

func inspect(doc []byte, lim pdf.Limits) (pdf.Info, error) {
	return pdf.Inspect(bytes.NewReader(doc), int64(len(doc)), lim)
}

func TestInspectReportsPages(t *testing.T) {
	info, err := inspect(classicPDF(1), pdf.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Pages) != 1 || info.XRefStream || info.Version != "1.4" || info.Signatures != 0 {
		t.Fatalf("classic: %+v", info)
	}
	want := pdf.Rect{URX: 595, URY: 842}
	if p := info.Pages[0]; p.MediaBox != want || p.CropBox != want || p.Rotate != 0 || p.Number != 1 {
		t.Fatalf("page 1: %+v (inherited media box)", p)
	}
	rotated := buildPDF(2, 2, map[int]string{1: "/Rotate 90 /CropBox [10 10 500 800] "})
	info, err = inspect(rotated, pdf.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if p := info.Pages[1]; p.Rotate != 90 || p.CropBox != (pdf.Rect{LLX: 10, LLY: 10, URX: 500, URY: 800}) {
		t.Fatalf("page 2: %+v", p)
	}
	info, err = inspect(xrefStreamPDF(t, 20), pdf.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Pages) != 20 || !info.XRefStream {
		t.Fatalf("xref stream: %d pages, xref stream %v", len(info.Pages), info.XRefStream)
	}
}

func TestHostileInputIsRefused(t *testing.T) {
	good := classicPDF(1)
	cases := []struct {
		name string
		doc  []byte
		lim  pdf.Limits
		want error
	}{
		{"empty", nil, pdf.Limits{}, pdf.ErrNotPDF},
		{"not a PDF", []byte("PK\x03\x04 this is a zip file, not a contract"), pdf.Limits{}, pdf.ErrNotPDF},
		{"PNG", signaturePNG(t), pdf.Limits{}, pdf.ErrNotPDF},
		{"truncated", good[:len(good)/2], pdf.Limits{}, pdf.ErrMalformed},
		{"header only", []byte("%PDF-1.7\n%%EOF\n"), pdf.Limits{}, pdf.ErrMalformed},
		{"garbage after header", append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{0xff, 0x00, '<', '('}, 5000)...), pdf.Limits{}, pdf.ErrMalformed},
		{"encrypted with a user password", encryptedPDF(t, "user-secret"), pdf.Limits{}, pdf.ErrEncrypted},
		{"encrypted with an empty user password", encryptedPDF(t, ""), pdf.Limits{}, pdf.ErrEncrypted},
		{"100000-page claim", claimPDF(100000), pdf.Limits{}, pdf.ErrTooManyPages},
		{"page count lies", claimPDF(5), pdf.Limits{}, pdf.ErrMalformed},
		{"over the page cap", classicPDF(12), pdf.Limits{MaxPages: 10}, pdf.ErrTooManyPages},
		{"over the size cap", good, pdf.Limits{MaxBytes: 100}, pdf.ErrTooLarge},
		{"page tree loop", bytes.Replace(good, []byte("/Kids [4 0 R]"), []byte("/Kids [2 0 R]"), 1), pdf.Limits{}, pdf.ErrMalformed},
		{"xref offset wrong", bytes.Replace(good, []byte("/Count 1 "), []byte("/Count 1     "), 1), pdf.Limits{}, pdf.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := inspect(c.doc, c.lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("Inspect: %v, want %v", err, c.want)
			}
			if _, err := pdf.Prepare(c.doc, nil, []string{"customer"}, c.lim); !errors.Is(err, c.want) {
				t.Fatalf("Prepare: %v, want %v", err, c.want)
			}
		})
	}
}

func TestPrepareRefusesBadLayouts(t *testing.T) {
	doc := classicPDF(2)
	ok := pdf.Field{ID: "s1", Page: 1, Kind: pdf.KindSignature, Signer: "customer", Rect: pdf.Rect{LLX: 72, LLY: 72, URX: 272, URY: 142}}
	mod := func(f func(*pdf.Field)) []pdf.Field {
		c := ok
		f(&c)
		return []pdf.Field{c}
	}
	cases := map[string]struct {
		fields []pdf.Field
		order  []string
	}{
		"no signers":       {[]pdf.Field{ok}, nil},
		"repeated signer":  {[]pdf.Field{ok}, []string{"customer", "customer"}},
		"unknown signer":   {mod(func(f *pdf.Field) { f.Signer = "stranger" }), []string{"customer"}},
		"page 0":           {mod(func(f *pdf.Field) { f.Page = 0 }), []string{"customer"}},
		"page 3 of 2":      {mod(func(f *pdf.Field) { f.Page = 3 }), []string{"customer"}},
		"outside the page": {mod(func(f *pdf.Field) { f.Rect.URX = 700 }), []string{"customer"}},
		"empty rectangle":  {mod(func(f *pdf.Field) { f.Rect.URY = f.Rect.LLY }), []string{"customer"}},
		"bad kind":         {mod(func(f *pdf.Field) { f.Kind = "checkbox" }), []string{"customer"}},
		"bad id":           {mod(func(f *pdf.Field) { f.ID = "a b(c)" }), []string{"customer"}},
		"duplicate id":     {[]pdf.Field{ok, ok}, []string{"customer"}},
		"long label":       {mod(func(f *pdf.Field) { f.Label = strings.Repeat("x", pdf.MaxLabel+1) }), []string{"customer"}},
	}
	for name, c := range cases {
		if _, err := pdf.Prepare(doc, c.fields, c.order, pdf.Limits{}); !errors.Is(err, pdf.ErrInvalidField) {
			t.Errorf("%s: %v, want ErrInvalidField", name, err)
		}
	}
	plan, err := pdf.Prepare(doc, mod(func(f *pdf.Field) { f.Rect = pdf.Rect{LLX: 272, LLY: 142, URX: 72, URY: 72} }), []string{"customer"}, pdf.Limits{})
	if err != nil || plan.Fields[0].Rect != ok.Rect {
		t.Fatalf("swapped corners are normalised: %v %+v", err, plan)
	}
}

func FuzzInspect(f *testing.F) {
	f.Add(classicPDF(1))
	f.Add(classicPDF(3))
	f.Add(claimPDF(100000))
	f.Add([]byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"))
	f.Add([]byte("not a pdf"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		info, err := inspect(doc, pdf.Limits{MaxBytes: 1 << 20, MaxPages: 50})
		if err != nil {
			for _, e := range []error{pdf.ErrNotPDF, pdf.ErrMalformed, pdf.ErrEncrypted, pdf.ErrTooManyPages, pdf.ErrTooLarge} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("unclassified error: %v", err)
		}
		if len(info.Pages) < 1 || len(info.Pages) > 50 {
			t.Fatalf("accepted %d pages", len(info.Pages))
		}
	})
}
