package pdf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// The CMS is PAdES baseline B-B: message digest and signing-certificate-v2
// present, no signing-time attribute.
func TestCMSAttributes(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "seal"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	content := []byte("signed byte ranges")
	digest := sha256.Sum256(content)
	cms, err := signCMS(digest[:], key, []*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	if len(cms) > cmsSize([]*x509.Certificate{cert}) {
		t.Fatalf("CMS %d bytes exceeds the placeholder estimate", len(cms))
	}
	p7, err := pkcs7.Parse(cms)
	if err != nil {
		t.Fatal(err)
	}
	p7.Content = content
	if err := p7.Verify(); err != nil {
		t.Fatal(err)
	}
	var st time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &st); err == nil {
		t.Fatal("signing-time attribute present")
	}
	var scv2 signingCertificateV2
	if err := p7.UnmarshalSignedAttribute(oidAttrSigningCertV2, &scv2); err != nil {
		t.Fatalf("signing-certificate-v2: %v", err)
	}
	if sum := sha256.Sum256(der); len(scv2.Certs) != 1 || string(scv2.Certs[0].CertHash) != string(sum[:]) || scv2.Certs[0].IssuerSerial.Serial.Int64() != 7 {
		t.Fatalf("signing-certificate-v2 %+v", scv2)
	}
	p7.Content = []byte("other bytes")
	if err := p7.Verify(); err == nil {
		t.Fatal("verifies over other content")
	}
}
