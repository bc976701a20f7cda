package pdf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sort"
)

// The CMS SignedData is encoded here rather than with smallstep/pkcs7's
// builder because PAdES baseline B-B forbids the signing-time attribute that
// pkcs7.AddSignerChain always adds (the time lives in the signature
// dictionary's /M) and requires signing-certificate-v2, which pkcs7 cannot
// emit without re-signing. smallstep/pkcs7 parses and verifies the result in
// Verify, and pdfsig (NSS) verifies it in the tests.

var (
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidAttrContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningCertV2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA256              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSAWithSHA256     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSHA256WithRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	algSHA256              = pkix.AlgorithmIdentifier{Algorithm: oidSHA256}
	algSHA256WithRSA       = pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}
	algECDSAWithSHA256     = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}
	errUnsupportedKeyTypes = fmt.Errorf("only ECDSA P-256/P-384 and RSA (≥ 3072 bit) seal keys are supported: %w", ErrKey)
)

type cmsContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT, pre-encoded
}

type cmsEncapContentInfo struct {
	EContentType asn1.ObjectIdentifier
}

type cmsIssuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type cmsSignerInfo struct {
	Version            int
	SID                cmsIssuerAndSerial
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

type cmsSignedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo cmsEncapContentInfo
	Certificates     asn1.RawValue
	SignerInfos      []cmsSignerInfo `asn1:"set"`
}

type cmsAttribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

type essIssuerSerial struct {
	Issuer []asn1.RawValue // GeneralNames
	Serial *big.Int
}

type essCertIDv2 struct {
	// hashAlgorithm is omitted: it defaults to SHA-256 (DER omits defaults).
	CertHash     []byte
	IssuerSerial essIssuerSerial
}

type signingCertificateV2 struct {
	Certs []essCertIDv2
}

// checkKey makes sure key matches the leaf certificate and uses an
// algorithm BSI TR-03116 / SOG-IS accept for seals.
func checkKey(key crypto.Signer, chain []*x509.Certificate) (pkix.AlgorithmIdentifier, error) {
	if key == nil || len(chain) == 0 || chain[0] == nil {
		return pkix.AlgorithmIdentifier{}, fmt.Errorf("missing key or certificate: %w", ErrKey)
	}
	leaf := chain[0]
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		lp, ok := leaf.PublicKey.(*ecdsa.PublicKey)
		if !ok || !lp.Equal(pub) {
			return pkix.AlgorithmIdentifier{}, fmt.Errorf("key does not match the seal certificate: %w", ErrKey)
		}
		if pub.Curve.Params().BitSize < 256 {
			return pkix.AlgorithmIdentifier{}, errUnsupportedKeyTypes
		}
		return algECDSAWithSHA256, nil
	case *rsa.PublicKey:
		lp, ok := leaf.PublicKey.(*rsa.PublicKey)
		if !ok || !lp.Equal(pub) {
			return pkix.AlgorithmIdentifier{}, fmt.Errorf("key does not match the seal certificate: %w", ErrKey)
		}
		if pub.N.BitLen() < 3072 {
			return pkix.AlgorithmIdentifier{}, errUnsupportedKeyTypes
		}
		return algSHA256WithRSA, nil
	default:
		return pkix.AlgorithmIdentifier{}, errUnsupportedKeyTypes
	}
}

// signCMS returns a detached CMS SignedData over a document digest
// (SHA-256 of the signed byte ranges) with the signed attributes
// content-type, message-digest and signing-certificate-v2.
func signCMS(digest []byte, key crypto.Signer, chain []*x509.Certificate) ([]byte, error) {
	sigAlg, err := checkKey(key, chain)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	certHash := sha256.Sum256(leaf.Raw)
	scv2, err := asn1.Marshal(signingCertificateV2{Certs: []essCertIDv2{{
		CertHash: certHash[:],
		IssuerSerial: essIssuerSerial{
			Issuer: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: leaf.RawIssuer}},
			Serial: leaf.SerialNumber,
		},
	}}})
	if err != nil {
		return nil, fmt.Errorf("encoding signing-certificate-v2: %w", err)
	}
	ct, err := asn1.Marshal(oidData)
	if err != nil {
		return nil, err
	}
	md, err := asn1.Marshal(digest)
	if err != nil {
		return nil, err
	}
	attrs := []cmsAttribute{
		{Type: oidAttrContentType, Values: []asn1.RawValue{{FullBytes: ct}}},
		{Type: oidAttrMessageDigest, Values: []asn1.RawValue{{FullBytes: md}}},
		{Type: oidAttrSigningCertV2, Values: []asn1.RawValue{{FullBytes: scv2}}},
	}
	var encoded [][]byte
	for _, a := range attrs {
		b, err := asn1.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("encoding signed attributes: %w", err)
		}
		encoded = append(encoded, b)
	}
	// DER: SET OF sorted by encoding.
	sort.Slice(encoded, func(i, j int) bool { return bytes.Compare(encoded[i], encoded[j]) < 0 })
	content := bytes.Join(encoded, nil)
	setDER, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: content})
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(setDER)
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	var certs []byte
	for _, c := range chain {
		certs = append(certs, c.Raw...)
	}
	sd := cmsSignedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{algSHA256},
		EncapContentInfo: cmsEncapContentInfo{EContentType: oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos: []cmsSignerInfo{{
			Version:            1,
			SID:                cmsIssuerAndSerial{Issuer: asn1.RawValue{FullBytes: leaf.RawIssuer}, Serial: leaf.SerialNumber},
			DigestAlgorithm:    algSHA256,
			SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: content},
			SignatureAlgorithm: sigAlg,
			Signature:          sig,
		}},
	}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("encoding signed data: %w", err)
	}
	return asn1.Marshal(cmsContentInfo{ContentType: oidSignedData, Content: asn1.RawValue{FullBytes: mustExplicit0(inner)}})
}

// mustExplicit0 wraps der in a [0] EXPLICIT tag.
func mustExplicit0(der []byte) []byte {
	b, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der})
	return b
}

// cmsSize estimates an upper bound of the CMS length for chain.
func cmsSize(chain []*x509.Certificate) int {
	n := 2048
	for _, c := range chain {
		n += len(c.Raw) + 16
	}
	return n
}
