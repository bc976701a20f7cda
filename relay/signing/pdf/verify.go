package pdf

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"github.com/smallstep/pkcs7"
)

// SignatureReport is Verify's finding for one signature.
type SignatureReport struct {
	// Field is the signature field's name (/T).
	Field string
	// Kind is "step" or "seal" for Parley's signatures, "" for others.
	Kind string
	// Step is the 1-based signing step (Kind "step").
	Step int
	// Role is the signer role recorded with the step.
	Role string
	// Channel is the channel recorded with the step.
	Channel string
	// SigningTime is the signature dictionary's /M (zero if absent).
	SigningTime time.Time
	// SubFilter is the signature's /SubFilter.
	SubFilter string
	// Signer is the subject of the signing certificate.
	Signer string
	// ByteRange is the signed byte range as written.
	ByteRange [4]int64
	// RevisionEnd is the length of the revision the signature covers.
	RevisionEnd int64
	// CoversWholeFile reports that nothing was appended after the
	// signature's revision.
	CoversWholeFile bool
	// DocumentDigest is the SHA-256 of the signed byte ranges.
	DocumentDigest []byte
	// EnvelopeSHA256 is the recorded SHA-256 of the embedded biometric
	// envelope (nil if the step carries none).
	EnvelopeSHA256 []byte
	// EnvelopeBound reports that the embedded envelope found in the
	// signature's own revision hashes to EnvelopeSHA256.
	EnvelopeBound bool
	// ChainVerified reports that the signing certificate chains to roots
	// (false when Verify was given no roots).
	ChainVerified bool
	// Valid is true when every check passed.
	Valid bool
	// Problem says why the signature is not valid ("" when it is).
	Problem string
}

// Verify checks every signature of pdf: the byte range covers its whole
// revision except /Contents, the CMS parses and its signature and message
// digest verify against the byte ranges, the signing-certificate-v2
// attribute names the signer's certificate, the certificate chains to roots
// at the signing time (skipped when roots is nil), and a recorded envelope
// hash matches the embedded file. It returns the reports and
// ErrInvalidSignature if any signature failed, ErrNoSignatures if there is
// none.
func Verify(pdf []byte, roots *x509.CertPool) ([]SignatureReport, error) {
	doc, err := parse(pdf, Limits{MaxBytes: int64(len(pdf)) + 1})
	if err != nil {
		return nil, fmt.Errorf("pdf: verify: %w", err)
	}
	sigs, err := doc.signatures()
	if err != nil {
		return nil, fmt.Errorf("pdf: verify: %w", err)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("pdf: verify: %w", ErrNoSignatures)
	}
	reports := make([]SignatureReport, 0, len(sigs))
	bad := 0
	for _, s := range sigs {
		r := doc.verifyOne(s, roots)
		if !r.Valid {
			bad++
		}
		reports = append(reports, r)
	}
	if bad > 0 {
		return reports, fmt.Errorf("pdf: verify: %d of %d signatures: %w", bad, len(sigs), ErrInvalidSignature)
	}
	return reports, nil
}

// byteRange reads and checks a signature's /ByteRange against buf: it
// starts at 0, its gap is exactly the /Contents hex string and it ends
// where a revision ends (after %%EOF).
func byteRange(buf []byte, v types.Dict) ([4]int64, []byte, error) {
	var br [4]int64
	a := v.ArrayEntry("ByteRange")
	if len(a) != 4 {
		return br, nil, fmt.Errorf("byte range missing or not 4 numbers")
	}
	for i, o := range a {
		n, ok := o.(types.Integer)
		if !ok || n < 0 {
			return br, nil, fmt.Errorf("byte range entry %d not a non-negative integer", i)
		}
		br[i] = int64(n)
	}
	size := int64(len(buf))
	if br[0] != 0 || br[1] < 1 || br[2] <= br[1]+1 || br[2]+br[3] > size {
		return br, nil, fmt.Errorf("byte range does not start at 0 or exceeds the file")
	}
	if buf[br[1]] != '<' || buf[br[2]-1] != '>' {
		return br, nil, fmt.Errorf("byte range gap is not the /Contents string")
	}
	hexStr := buf[br[1]+1 : br[2]-1]
	if len(hexStr)%2 != 0 {
		return br, nil, fmt.Errorf("/Contents has odd length")
	}
	contents := make([]byte, len(hexStr)/2)
	if _, err := hex.Decode(contents, hexStr); err != nil {
		return br, nil, fmt.Errorf("/Contents is not plain hex")
	}
	end := br[2] + br[3]
	tail := bytes.TrimRight(buf[:end], " \r\n\t\f\x00")
	if !bytes.HasSuffix(tail, []byte("%%EOF")) {
		return br, nil, fmt.Errorf("byte range does not end at the end of a revision")
	}
	return br, contents, nil
}

func rangeDigest(buf []byte, br [4]int64) []byte {
	h := sha256.New()
	h.Write(buf[br[0] : br[0]+br[1]])
	h.Write(buf[br[2] : br[2]+br[3]])
	return h.Sum(nil)
}

func (d *document) verifyOne(s sigField, roots *x509.CertPool) (r SignatureReport) {
	r.Field = s.name
	if sf := s.v.NameEntry("SubFilter"); sf != nil {
		r.SubFilter = *sf
	}
	if m, err := s.v.StringEntryBytes("M"); err == nil && m != nil {
		if t, ok := parsePDFDate(string(m)); ok {
			r.SigningTime = t
		}
	}
	info, isParley := d.parley(s.v)
	if isParley {
		switch info.kind {
		case "Step":
			r.Kind = "step"
		case "Seal":
			r.Kind = "seal"
		}
		r.Step, r.Role, r.Channel, r.EnvelopeSHA256 = info.step, info.role, info.channel, info.envelope
	}
	fail := func(format string, args ...any) SignatureReport {
		r.Valid = false
		r.Problem = fmt.Sprintf(format, args...)
		return r
	}
	br, contents, err := byteRange(d.buf, s.v)
	r.ByteRange = br
	if err != nil {
		return fail("%v", err)
	}
	r.RevisionEnd = br[2] + br[3]
	r.CoversWholeFile = r.RevisionEnd == int64(len(d.buf))
	if r.SubFilter != "ETSI.CAdES.detached" && r.SubFilter != "adbe.pkcs7.detached" {
		return fail("unsupported /SubFilter %q", r.SubFilter)
	}
	var outer asn1.RawValue
	if _, err := asn1.Unmarshal(contents, &outer); err != nil {
		return fail("/Contents is not DER")
	}
	p7, err := pkcs7.Parse(outer.FullBytes)
	if err != nil {
		return fail("CMS does not parse: %v", err)
	}
	r.DocumentDigest = rangeDigest(d.buf, br)
	signed := make([]byte, 0, br[1]+br[3])
	signed = append(signed, d.buf[:br[1]]...)
	signed = append(signed, d.buf[br[2]:br[2]+br[3]]...)
	p7.Content = signed
	leaf := p7.GetOnlySigner()
	if leaf == nil {
		return fail("CMS has no single signer certificate")
	}
	r.Signer = leaf.Subject.String()
	at := r.SigningTime
	if at.IsZero() {
		at = time.Now()
	}
	if err := p7.VerifyWithChainAtTime(roots, at); err != nil {
		return fail("CMS verification failed: %v", err)
	}
	r.ChainVerified = roots != nil
	var md []byte
	if err := p7.UnmarshalSignedAttribute(oidAttrMessageDigest, &md); err != nil || !bytes.Equal(md, r.DocumentDigest) {
		return fail("message digest does not match the byte range")
	}
	var scv2 signingCertificateV2
	if err := p7.UnmarshalSignedAttribute(oidAttrSigningCertV2, &scv2); err == nil {
		sum := sha256.Sum256(leaf.Raw)
		if len(scv2.Certs) == 0 || !bytes.Equal(scv2.Certs[0].CertHash, sum[:]) {
			return fail("signing-certificate-v2 does not name the signer's certificate")
		}
	} else if r.SubFilter == "ETSI.CAdES.detached" {
		return fail("CAdES signature without signing-certificate-v2")
	}
	if r.EnvelopeSHA256 != nil {
		ok, err := d.envelopeBound(r.RevisionEnd, info)
		if err != nil {
			return fail("envelope: %v", err)
		}
		if !ok {
			return fail("embedded envelope does not match its recorded hash")
		}
		r.EnvelopeBound = true
	}
	r.Valid = true
	return r
}

// envelopeBound reads the embedded envelope as of the signature's own
// revision (later updates could redefine objects) and compares its hash.
func (d *document) envelopeBound(end int64, info parleyInfo) (bool, error) {
	if info.envRef == nil {
		return false, fmt.Errorf("no envelope reference")
	}
	rev := d
	if end != int64(len(d.buf)) {
		var err error
		rev, err = parse(d.buf[:end], Limits{MaxBytes: end + 1})
		if err != nil {
			return false, err
		}
	}
	fs, err := rev.xt.DereferenceDict(*info.envRef)
	if err != nil || fs == nil {
		return false, fmt.Errorf("file specification missing")
	}
	ef := fs.DictEntry("EF")
	if ef == nil {
		return false, fmt.Errorf("embedded file missing")
	}
	sd, _, err := rev.xt.DereferenceStreamDict(ef["F"])
	if err != nil || sd == nil {
		return false, fmt.Errorf("embedded file stream missing")
	}
	if _, ok := sd.Dict["Filter"]; ok {
		return false, fmt.Errorf("embedded envelope unexpectedly filtered")
	}
	data := sd.Raw
	if data == nil {
		if sd.StreamLength == nil || sd.StreamOffset < 0 || sd.StreamOffset+*sd.StreamLength > end {
			return false, fmt.Errorf("embedded file stream out of range")
		}
		data = rev.buf[sd.StreamOffset : sd.StreamOffset+*sd.StreamLength]
	}
	sum := sha256.Sum256(data)
	return bytes.Equal(sum[:], info.envelope), nil
}
