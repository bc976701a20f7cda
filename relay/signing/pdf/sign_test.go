package pdf_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/signing/pdf"
)

var roles = []string{"customer", "advisor", "cosigner"}

// planFor places, for each of the first n roles, a signature field on page
// (i mod pages)+1 and, for the first role, a text field.
func planFor(t testing.TB, doc []byte, n int) *pdf.Plan {
	t.Helper()
	info, err := pdf.Inspect(bytes.NewReader(doc), int64(len(doc)), pdf.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var fields []pdf.Field
	for i := 0; i < n; i++ {
		page := i%len(info.Pages) + 1
		y := 100.0 + float64(i)*120
		fields = append(fields, pdf.Field{ID: fmt.Sprintf("sig-%d", i+1), Page: page, Kind: pdf.KindSignature, Signer: roles[i],
			Rect: pdf.Rect{LLX: 72, LLY: y, URX: 272, URY: y + 70}, Label: "Signature"})
	}
	fields = append(fields, pdf.Field{ID: "place", Page: 1, Kind: pdf.KindText, Signer: roles[0],
		Rect: pdf.Rect{LLX: 320, LLY: 100, URX: 520, URY: 120}, Label: "Place, date"})
	plan, err := pdf.Prepare(doc, fields, roles[:n], pdf.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func stepFor(t testing.TB, i int) pdf.Step {
	s := pdf.Step{
		Role:     roles[i],
		Channel:  "kiosk",
		Images:   map[string][]byte{fmt.Sprintf("sig-%d", i+1): signaturePNG(t)},
		Envelope: bytes.Repeat([]byte{byte(i + 1), 0xA5}, 2000),
	}
	if i == 0 {
		s.Texts = map[string]string{"place": "Köln, 01.01.2026 (Filiale)"}
	}
	return s
}

func signAll(t testing.TB, doc []byte, plan *pdf.Plan, p pki, clk *clock.Fake, n int) [][]byte {
	t.Helper()
	revs := [][]byte{doc}
	for i := 0; i < n; i++ {
		out, err := pdf.SignStep(revs[len(revs)-1], plan, stepFor(t, i), p.key, p.chain, clk)
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if !bytes.HasPrefix(out, revs[len(revs)-1]) {
			t.Fatalf("step %d rewrote earlier bytes", i+1)
		}
		revs = append(revs, out)
		clk.Advance(3 * time.Minute)
	}
	return revs
}

func TestStepsAreValidForPdfsigAndVerify(t *testing.T) {
	p := newPKI(t, false)
	sources := map[string][]byte{"classic-1p": classicPDF(1), "xrefstream-20p": xrefStreamPDF(t, 20)}
	for name, src := range sources {
		for n := 1; n <= 3; n++ {
			t.Run(fmt.Sprintf("%s/%d-steps", name, n), func(t *testing.T) {
				clk := clock.NewFake(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC))
				plan := planFor(t, src, n)
				revs := signAll(t, src, plan, p, clk, n)
				final := revs[n]
				reports, err := pdf.Verify(final, p.roots)
				if err != nil {
					t.Fatalf("Verify: %v (%+v)", err, reports)
				}
				if len(reports) != n {
					t.Fatalf("Verify found %d signatures, want %d", len(reports), n)
				}
				for i, r := range reports {
					if r.Kind != "step" || r.Step != i+1 || r.Role != roles[i] || r.Channel != "kiosk" || !r.ChainVerified {
						t.Errorf("report %d: %+v", i, r)
					}
					env := sha256.Sum256(stepFor(t, i).Envelope)
					if !r.EnvelopeBound || !bytes.Equal(r.EnvelopeSHA256, env[:]) {
						t.Errorf("report %d: envelope not bound: %+v", i, r)
					}
					if r.RevisionEnd != int64(len(revs[i+1])) || r.CoversWholeFile != (i == n-1) {
						t.Errorf("report %d: covers %d of %d bytes", i, r.RevisionEnd, len(final))
					}
					want := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC).Add(time.Duration(i) * 3 * time.Minute)
					if !r.SigningTime.Equal(want) {
						t.Errorf("report %d: signing time %v, want %v", i, r.SigningTime, want)
					}
				}
				valid, total, out := pdfsig(t, final)
				if valid != n || total != n {
					t.Fatalf("pdfsig: %d of %d valid, want %d:\n%s", valid, total, n, out)
				}
			})
		}
	}
}

func TestTwoSignatureFieldsForOneSigner(t *testing.T) {
	p := newPKI(t, false)
	src := classicPDF(2)
	fields := []pdf.Field{
		{ID: "a", Page: 1, Kind: pdf.KindSignature, Signer: "customer", Rect: pdf.Rect{LLX: 72, LLY: 100, URX: 272, URY: 170}},
		{ID: "b", Page: 2, Kind: pdf.KindSignature, Signer: "customer", Rect: pdf.Rect{LLX: 72, LLY: 100, URX: 272, URY: 170}},
	}
	plan, err := pdf.Prepare(src, fields, []string{"customer"}, pdf.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	img := signaturePNG(t)
	out, err := pdf.SignStep(src, plan, pdf.Step{Role: "customer", Channel: "remote", Images: map[string][]byte{"a": img, "b": img}}, p.key, p.chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	reports, err := pdf.Verify(out, p.roots)
	if err != nil || len(reports) != 1 || reports[0].EnvelopeSHA256 != nil {
		t.Fatalf("Verify: %v %+v", err, reports)
	}
	if valid, total, o := pdfsig(t, out); valid != 1 || total != 1 {
		t.Fatalf("pdfsig %d/%d\n%s", valid, total, o)
	}
	// Both fields show the image.
	for page := 1; page <= 2; page++ {
		if n := inkPixels(t, out, page, pdf.Rect{LLX: 72, LLY: 100, URX: 272, URY: 170}, 842); n < 100 {
			t.Errorf("page %d: %d ink pixels in the field", page, n)
		}
	}
}

func TestRSA3072Seal(t *testing.T) {
	p := newPKI(t, true)
	src := classicPDF(1)
	plan := planFor(t, src, 1)
	revs := signAll(t, src, plan, p, clock.NewFake(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)), 1)
	if _, err := pdf.Verify(revs[1], p.roots); err != nil {
		t.Fatal(err)
	}
	if valid, total, o := pdfsig(t, revs[1]); valid != 1 || total != 1 {
		t.Fatalf("pdfsig %d/%d\n%s", valid, total, o)
	}
}

func TestSealAddsAuditPageAndFinalSignature(t *testing.T) {
	p := newPKI(t, false)
	for name, src := range map[string][]byte{"classic": classicPDF(1), "xrefstream": xrefStreamPDF(t, 3)} {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC))
			plan := planFor(t, src, 2)
			revs := signAll(t, src, plan, p, clk, 2)
			if _, err := pdf.Seal(revs[1], plan, p.key, p.chain, clk); !errors.Is(err, pdf.ErrIncomplete) {
				t.Fatalf("Seal after 1 of 2 steps: %v, want ErrIncomplete", err)
			}
			sealed, err := pdf.Seal(revs[2], plan, p.key, p.chain, clk)
			if err != nil {
				t.Fatal(err)
			}
			reports, err := pdf.Verify(sealed, p.roots)
			if err != nil || len(reports) != 3 {
				t.Fatalf("Verify: %v, %d reports", err, len(reports))
			}
			if last := reports[2]; last.Kind != "seal" || !last.CoversWholeFile {
				t.Fatalf("seal report %+v", last)
			}
			if valid, total, o := pdfsig(t, sealed); valid != 3 || total != 3 {
				t.Fatalf("pdfsig %d/%d\n%s", valid, total, o)
			}
			srcInfo, _ := pdf.Inspect(bytes.NewReader(src), int64(len(src)), pdf.Limits{})
			info, err := pdf.Inspect(bytes.NewReader(sealed), int64(len(sealed)), pdf.Limits{})
			if err != nil || len(info.Pages) != len(srcInfo.Pages)+1 || info.Signatures != 3 {
				t.Fatalf("Inspect sealed: %v %+v", err, info)
			}
			text := pdfText(t, sealed, len(info.Pages))
			for _, want := range []string{
				"Signature audit trail",
				fmt.Sprintf("%x", plan.OriginalSHA256),
				"Step 1: signer role customer, channel kiosk, signed 2026-03-02 09:30:00 UTC",
				"Step 2: signer role advisor, channel kiosk, signed 2026-03-02 09:33:00 UTC",
				fmt.Sprintf("%x", reports[0].DocumentDigest),
				fmt.Sprintf("%x", reports[1].DocumentDigest),
				"Test Bank AG",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("audit page lacks %q:\n%s", want, text)
				}
			}
			if _, err := pdf.Seal(sealed, plan, p.key, p.chain, clk); !errors.Is(err, pdf.ErrSealed) {
				t.Fatalf("second Seal: %v, want ErrSealed", err)
			}
		})
	}
}

func TestSignedFieldsRender(t *testing.T) {
	p := newPKI(t, false)
	src := classicPDF(1)
	plan := planFor(t, src, 2)
	revs := signAll(t, src, plan, p, clock.NewFake(time.Time{}), 2)
	// Field sig-1 at y 100–170, sig-2 at y 220–290, both on page 1.
	for i, r := range []pdf.Rect{{LLX: 72, LLY: 100, URX: 272, URY: 170}, {LLX: 72, LLY: 220, URX: 272, URY: 290}} {
		if n := inkPixels(t, revs[2], 1, r, 842); n < 200 {
			t.Errorf("signature field %d: %d ink pixels, want the scribble", i+1, n)
		}
		if n := inkPixels(t, src, 1, r, 842); n != 0 {
			t.Errorf("original has %d ink pixels in field %d", n, i+1)
		}
	}
	if !strings.Contains(pdfText(t, revs[2], 1), "Köln, 01.01.2026 (Filiale)") {
		t.Error("stamped text value not found on page 1")
	}
	if !strings.Contains(pdfText(t, revs[2], 1), "Page 1 of the contract") {
		t.Error("original text lost")
	}
}

func TestTamperingIsDetected(t *testing.T) {
	p := newPKI(t, false)
	src := classicPDF(1)
	plan := planFor(t, src, 2)
	revs := signAll(t, src, plan, p, clock.NewFake(time.Time{}), 2)
	signed := revs[2]

	t.Run("byte in the original", func(t *testing.T) {
		bad := bytes.Clone(signed)
		i := bytes.Index(bad, []byte("Page 1 of the contract"))
		bad[i+1] = 'b'
		reports, err := pdf.Verify(bad, p.roots)
		if !errors.Is(err, pdf.ErrInvalidSignature) {
			t.Fatalf("Verify: %v", err)
		}
		for _, r := range reports {
			if r.Valid || r.Problem == "" {
				t.Errorf("signature %d still valid", r.Step)
			}
		}
		if valid, total, o := pdfsig(t, bad); valid != 0 || total != 2 {
			t.Fatalf("pdfsig %d/%d valid after tampering\n%s", valid, total, o)
		}
	})
	t.Run("byte in the last update", func(t *testing.T) {
		bad := bytes.Clone(signed)
		i := bytes.LastIndex(bad, []byte("/Role(advisor)"))
		bad[i+7] = 'A'
		reports, err := pdf.Verify(bad, p.roots)
		if !errors.Is(err, pdf.ErrInvalidSignature) || len(reports) != 2 || !reports[0].Valid || reports[1].Valid {
			t.Fatalf("Verify: %v %+v", err, reports)
		}
		if valid, total, o := pdfsig(t, bad); valid != 1 || total != 2 {
			t.Fatalf("pdfsig %d/%d valid\n%s", valid, total, o)
		}
	})
	t.Run("bytes appended after the last signature", func(t *testing.T) {
		bad := append(bytes.Clone(signed), []byte("% appended later\n")...)
		reports, err := pdf.Verify(bad, p.roots)
		if err != nil || len(reports) != 2 {
			t.Fatalf("Verify: %v", err)
		}
		for _, r := range reports {
			if r.CoversWholeFile {
				t.Errorf("signature %d claims to cover the appended bytes", r.Step)
			}
		}
	})
	t.Run("untrusted root", func(t *testing.T) {
		other := newPKI(t, false)
		if _, err := pdf.Verify(signed, other.roots); !errors.Is(err, pdf.ErrInvalidSignature) {
			t.Fatalf("Verify with another CA: %v", err)
		}
	})
}

func TestSigningOrderAndDocumentIdentity(t *testing.T) {
	p := newPKI(t, false)
	src := classicPDF(1)
	plan := planFor(t, src, 2)
	if _, err := pdf.SignStep(src, plan, stepFor(t, 1), p.key, p.chain, nil); !errors.Is(err, pdf.ErrOutOfOrder) {
		t.Fatalf("advisor first: %v", err)
	}
	one, err := pdf.SignStep(src, plan, stepFor(t, 0), p.key, p.chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pdf.SignStep(one, plan, stepFor(t, 0), p.key, p.chain, nil); !errors.Is(err, pdf.ErrOutOfOrder) {
		t.Fatalf("customer twice: %v", err)
	}
	other := classicPDF(2)
	if _, err := pdf.SignStep(other, plan, stepFor(t, 0), p.key, p.chain, nil); !errors.Is(err, pdf.ErrWrongDocument) {
		t.Fatalf("other document: %v", err)
	}
	bad := stepFor(t, 1)
	bad.Images = map[string][]byte{"sig-2": []byte("not a png")}
	if _, err := pdf.SignStep(one, plan, bad, p.key, p.chain, nil); !errors.Is(err, pdf.ErrInvalidStep) {
		t.Fatalf("bad image: %v", err)
	}
	bad = stepFor(t, 1)
	bad.Images = nil
	if _, err := pdf.SignStep(one, plan, bad, p.key, p.chain, nil); !errors.Is(err, pdf.ErrInvalidStep) {
		t.Fatalf("missing image: %v", err)
	}
	bad = stepFor(t, 1)
	bad.Texts = map[string]string{"place": "not the advisor's field"}
	if _, err := pdf.SignStep(one, plan, bad, p.key, p.chain, nil); !errors.Is(err, pdf.ErrInvalidStep) {
		t.Fatalf("foreign text field: %v", err)
	}
	weak := newPKI(t, false)
	if _, err := pdf.SignStep(one, plan, stepFor(t, 1), weak.key, p.chain, nil); !errors.Is(err, pdf.ErrKey) {
		t.Fatalf("key not matching certificate: %v", err)
	}
	two, err := pdf.SignStep(one, plan, stepFor(t, 1), p.key, p.chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := pdf.Seal(two, plan, p.key, p.chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pdf.SignStep(sealed, plan, stepFor(t, 1), p.key, p.chain, nil); !errors.Is(err, pdf.ErrSealed) {
		t.Fatalf("step after seal: %v", err)
	}
}
