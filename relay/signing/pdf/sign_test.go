package pdf_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
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
