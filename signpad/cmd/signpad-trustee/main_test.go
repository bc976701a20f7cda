package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/signpad/envelope"
	"parley/signpad/internal/fixture"
	"parley/signpad/iso19794"
)

func sh(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String() + errb.String()
}

func seal(t *testing.T, dir, name string, pdf []byte, variant float64) string {
	t.Helper()
	pubPEM, err := os.ReadFile(filepath.Join(dir, "trustee.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := envelope.ParsePublicKeyPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := iso19794.FromSignature(fixture.Pen(200, 2*time.Second, variant))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := rec.MarshalBinary()
	env, err := envelope.Seal(rand.Reader, pub, envelope.Contents{
		Record: b, DocumentSHA256: sha256.Sum256(pdf), Signer: "sgn_1", Field: "Signature1", Time: fixture.Start, Device: "evdev 056a:0374",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, env, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrusteeWorkflow(t *testing.T) {
	dir := t.TempDir()
	if code, out := sh(t, "keygen", "-out", dir); code != 0 {
		t.Fatalf("keygen: %d %s", code, out)
	}
	if st, err := os.Stat(filepath.Join(dir, "trustee.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key file %v %v", st, err)
	}
	if code, _ := sh(t, "keygen", "-out", dir); code == 0 {
		t.Fatal("keygen overwrote an existing key")
	}
	key := filepath.Join(dir, "trustee.key")
	pdf := []byte("%PDF-1.7 the contract")
	pdfPath := filepath.Join(dir, "doc.pdf")
	os.WriteFile(pdfPath, pdf, 0o600)
	env := seal(t, dir, "a.env", pdf, 0)

	code, out := sh(t, "open", "-key", key, "-in", env, "-iso", filepath.Join(dir, "a.iso"), "-xml", filepath.Join(dir, "a.xml"))
	if code != 0 || !strings.Contains(out, "field: Signature1") || !strings.Contains(out, "strokes: 3") {
		t.Fatalf("open: %d %s", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.iso")); !bytes.HasPrefix(b, []byte("SDI\x00020\x00")) {
		t.Error("no ISO record written")
	}

	if code, out := sh(t, "verify", "-key", key, "-in", env, "-pdf", pdfPath); code != 0 || !strings.HasPrefix(out, "OK") {
		t.Fatalf("verify of the right document: %d %s", code, out)
	}
	changed := filepath.Join(dir, "changed.pdf")
	os.WriteFile(changed, append(pdf, '\n'), 0o600)
	if code, out := sh(t, "verify", "-key", key, "-in", env, "-pdf", changed); code != exitMismatch || !strings.HasPrefix(out, "MISMATCH") {
		t.Fatalf("verify of a changed document: %d %s", code, out)
	}
	if code, _ := sh(t, "verify", "-key", key, "-in", env, "-pdf", pdfPath, "-field", "Signature2"); code != exitMismatch {
		t.Fatal("an envelope for another field passed")
	}

	plotPath, inkPath := filepath.Join(dir, "p.png"), filepath.Join(dir, "i.png")
	if code, out := sh(t, "plot", "-key", key, "-in", env, "-out", plotPath, "-ink", inkPath); code != 0 {
		t.Fatalf("plot: %d %s", code, out)
	}
	for _, p := range []string{plotPath, inkPath} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		f.Close()
	}

	same := seal(t, dir, "b.env", pdf, 0.2)
	if code, out := sh(t, "compare", "-key", key, "-in", same, "-ref", env, "-ref", filepath.Join(dir, "a.iso")); code != 0 || !strings.Contains(out, "no flag") {
		t.Fatalf("compare: %d %s", code, out)
	}
}

func TestWrongKeyAndUsage(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	sh(t, "keygen", "-out", a)
	sh(t, "keygen", "-out", b)
	env := seal(t, a, "x.env", []byte("%PDF"), 0)
	if code, out := sh(t, "open", "-key", filepath.Join(b, "trustee.key"), "-in", env); code != exitError || !strings.Contains(out, "another key") {
		t.Fatalf("open with another trustee's key: %d %s", code, out)
	}
	if code, _ := sh(t, "nonsense"); code != exitUsage {
		t.Error("unknown command accepted")
	}
	if code, _ := sh(t, "verify", "-in", env); code != exitUsage {
		t.Error("verify without -pdf accepted")
	}
}
