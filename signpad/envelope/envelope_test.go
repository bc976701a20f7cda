package envelope_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"parley/signpad/envelope"
	"parley/signpad/internal/fixture"
	"parley/signpad/iso19794"
)

func record(t testing.TB, d time.Duration) []byte {
	t.Helper()
	rec, err := iso19794.FromSignature(fixture.Pen(200, d, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := rec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	pdf   = []byte("%PDF-1.7 contract for customer c_123 ...")
	other = []byte("%PDF-1.7 another contract ...")
)

func contents(t testing.TB, doc []byte, field string) envelope.Contents {
	return envelope.Contents{
		Record: record(t, 2*time.Second), DocumentSHA256: sha256.Sum256(doc),
		Signer: "sgn_4f2a", Field: field, Time: fixture.Start, Device: "evdev 056a:0374",
	}
}

func TestSealOpenAndBinding(t *testing.T) {
	priv, err := envelope.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := contents(t, pdf, "Signature1")
	env, err := envelope.Seal(rand.Reader, priv.PublicKey(), c)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(env, []byte("sgn_4f2a")) || bytes.Contains(env, []byte("Signature1")) || bytes.Contains(env, c.Record[:20]) {
		t.Fatal("envelope carries its contents in the clear")
	}
	got, err := envelope.Open(priv, env)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Record, c.Record) || got.Signer != c.Signer || got.Field != c.Field || !got.Time.Equal(c.Time) || got.Device != c.Device {
		t.Fatalf("opened contents differ: %+v", got)
	}
	if got.Nonce == ([16]byte{}) {
		t.Error("no nonce")
	}
	h, err := envelope.ReadHeader(env)
	if err != nil || h.DocumentSHA256 != sha256.Sum256(pdf) || h.KeyID != envelope.KeyID(priv.PublicKey()) {
		t.Fatalf("header %+v %v", h, err)
	}

	ok := envelope.Binding{DocumentSHA256: sha256.Sum256(pdf), Field: "Signature1", Signer: "sgn_4f2a"}
	if err := got.Check(ok); err != nil {
		t.Fatalf("binding to its own document: %v", err)
	}
	changed := append(append([]byte(nil), pdf...), ' ')
	for name, b := range map[string]envelope.Binding{
		"changed document": {DocumentSHA256: sha256.Sum256(changed), Field: "Signature1", Signer: "sgn_4f2a"},
		"other field":      {DocumentSHA256: ok.DocumentSHA256, Field: "Signature2", Signer: "sgn_4f2a"},
		"other signer":     {DocumentSHA256: ok.DocumentSHA256, Field: "Signature1", Signer: "sgn_9999"},
	} {
		if err := got.Check(b); !errors.Is(err, envelope.ErrBinding) {
			t.Errorf("%s: err = %v, want ErrBinding", name, err)
		}
	}

	// An envelope swapped in from another document fails the binding of this one.
	swapped, err := envelope.Seal(rand.Reader, priv.PublicKey(), contents(t, other, "Signature1"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := envelope.Open(priv, swapped)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Check(ok); !errors.Is(err, envelope.ErrBinding) {
		t.Errorf("swapped envelope: err = %v, want ErrBinding", err)
	}
	if envelope.Digest(env) == envelope.Digest(swapped) {
		t.Error("digests of different envelopes collide")
	}
	// Sealing the same contents twice gives different envelopes.
	again, _ := envelope.Seal(rand.Reader, priv.PublicKey(), c)
	if bytes.Equal(again, env) {
		t.Error("two seals are identical")
	}
}

func TestTamperingAndWrongKey(t *testing.T) {
	priv, _ := envelope.GenerateKey(rand.Reader)
	env, err := envelope.Seal(rand.Reader, priv.PublicKey(), contents(t, pdf, "Signature1"))
	if err != nil {
		t.Fatal(err)
	}
	// Rewriting the clear document hash to point at another PDF is detected.
	forged := append([]byte(nil), env...)
	h := sha256.Sum256(other)
	copy(forged[22:], h[:])
	if _, err := envelope.Open(priv, forged); !errors.Is(err, envelope.ErrDecrypt) {
		t.Errorf("forged header: err = %v, want ErrDecrypt", err)
	}
	for _, i := range []int{5, 30, 60, 100, 140, envelope.HeaderSize + 3, len(env) - 1} {
		b := append([]byte(nil), env...)
		b[i] ^= 1
		if _, err := envelope.Open(priv, b); err == nil {
			t.Errorf("flipping byte %d went unnoticed", i)
		}
	}
	if _, err := envelope.Open(priv, env[:len(env)-1]); !errors.Is(err, envelope.ErrFormat) {
		t.Errorf("truncated: err = %v", err)
	}
	stranger, _ := envelope.GenerateKey(rand.Reader)
	if _, err := envelope.Open(stranger, env); !errors.Is(err, envelope.ErrWrongKey) {
		t.Errorf("wrong key: err = %v, want ErrWrongKey", err)
	}
}

func TestSealRefusesInvalidContents(t *testing.T) {
	priv, _ := envelope.GenerateKey(rand.Reader)
	c := contents(t, pdf, "Signature1")
	c.Record = []byte("not a record")
	if _, err := envelope.Seal(rand.Reader, priv.PublicKey(), c); !errors.Is(err, envelope.ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
	c = contents(t, pdf, "Signature1")
	c.Field = "\xff"
	if _, err := envelope.Seal(rand.Reader, priv.PublicKey(), c); !errors.Is(err, envelope.ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
}

func TestKeysPEM(t *testing.T) {
	priv, _ := envelope.GenerateKey(rand.Reader)
	pp, err := envelope.MarshalPrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := envelope.MarshalPublicKeyPEM(priv.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	p2, err := envelope.ParsePrivateKeyPEM(pp)
	if err != nil || !p2.Equal(priv) {
		t.Fatalf("private key round trip: %v", err)
	}
	q, err := envelope.ParsePublicKeyPEM(pub)
	if err != nil || !q.Equal(priv.PublicKey()) {
		t.Fatalf("public key round trip: %v", err)
	}
	if _, err := envelope.ParsePublicKeyPEM(pp); !errors.Is(err, envelope.ErrKey) {
		t.Errorf("private PEM parsed as public: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	priv, _ := envelope.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	env, err := envelope.Seal(rand.Reader, priv.PublicKey(), contents(f, pdf, "Signature1"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env)
	f.Add(env[:envelope.HeaderSize])
	f.Add([]byte("PSE1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := envelope.Open(priv, data)
		if err == nil && !bytes.Equal(data, env) {
			t.Fatalf("a modified envelope opened: %+v", c.Field)
		}
	})
}

// BenchmarkEnvelopeSize seals a 5 s signature at 200 Hz (goal: at most 16 KB).
func BenchmarkEnvelopeSize(b *testing.B) {
	priv, _ := envelope.GenerateKey(rand.Reader)
	c := contents(b, pdf, "Signature1")
	c.Record = record(b, 5*time.Second)
	var n int
	for b.Loop() {
		env, err := envelope.Seal(rand.Reader, priv.PublicKey(), c)
		if err != nil {
			b.Fatal(err)
		}
		n = len(env)
	}
	b.ReportMetric(float64(n), "envelope-bytes")
	b.ReportMetric(float64(len(c.Record)), "record-bytes")
}

func TestEnvelopeOfFiveSecondsFitsSixteenKB(t *testing.T) {
	priv, _ := envelope.GenerateKey(rand.Reader)
	c := contents(t, pdf, "Signature1")
	c.Record = record(t, 5*time.Second)
	env, err := envelope.Seal(rand.Reader, priv.PublicKey(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(env) > 16<<10 {
		t.Errorf("envelope of 5 s at 200 Hz is %d bytes, goal 16384", len(env))
	}
}
