// Package envelope seals a signature's biometric data for a trustee: the
// ISO/IEC 19794-7 record, the SHA-256 of the signed document, the signer's
// id, the signature field, the time, the capture device and a random nonce
// are compressed and encrypted with a fresh AES-256-GCM data key, and the
// data key is wrapped for the tenant's trustee X25519 public key (ephemeral
// X25519 + HKDF-SHA256 + AES-256-GCM). Only the trustee's private key,
// which is never on the relay, opens it. The byte layout is in
// docs/signpad.md.
package envelope

import (
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"parley/signpad/iso19794"
)

// Sizes and offsets of the envelope header.
const (
	magic       = "PSE1"
	version     = 1
	suiteX25519 = 1 // X25519, HKDF-SHA256, AES-256-GCM

	keyIDLen   = 16
	offKeyID   = 6
	offDoc     = offKeyID + keyIDLen // 22
	offEph     = offDoc + 32         // 54
	offWrapped = offEph + 32         // 86
	offNonce   = offWrapped + 48     // 134
	offLen     = offNonce + 12       // 146
	// HeaderSize is the size of the clear header before the ciphertext.
	HeaderSize = offLen + 4 // 150

	// MaxEnvelope is the largest envelope Open accepts.
	MaxEnvelope = 8 << 20
	// maxPlain bounds the decompressed contents.
	maxPlain = 16 << 20
	// maxText bounds the signer, field and device strings.
	maxText = 1024
)

var wrapInfo = []byte("parley signpad envelope v1 key wrap")

// Errors of Seal and Open; check with errors.Is.
var (
	// ErrFormat means the bytes are not an envelope of a known version.
	ErrFormat = errors.New("envelope: malformed envelope")
	// ErrWrongKey means the envelope is sealed for another trustee key.
	ErrWrongKey = errors.New("envelope: sealed for another key")
	// ErrDecrypt means authentication failed: the envelope was altered.
	ErrDecrypt = errors.New("envelope: decryption failed (altered or corrupt)")
	// ErrBinding means the envelope belongs to another document, field or signer.
	ErrBinding = errors.New("envelope: not bound to this document")
	// ErrInvalid means the contents are not acceptable for sealing.
	ErrInvalid = errors.New("envelope: invalid contents")
)

// Contents is what an envelope carries.
type Contents struct {
	// Record is the binary ISO/IEC 19794-7 record of the signature.
	Record []byte
	// DocumentSHA256 is the SHA-256 of the document as signed.
	DocumentSHA256 [32]byte
	// Signer is the signer's id in the signing process (an id, not a name).
	Signer string
	// Field is the name of the signature field in the document.
	Field string
	// Time is when the signature was completed.
	Time time.Time
	// Device describes the capture device (source, product, ids).
	Device string
	// Nonce is 16 random bytes chosen by Seal, so that two envelopes of the
	// same data differ and can be told apart.
	Nonce [16]byte
}

// Header is the clear part of an envelope, readable without the key.
type Header struct {
	// KeyID is the first 16 bytes of the SHA-256 of the trustee's public key.
	KeyID [keyIDLen]byte
	// DocumentSHA256 is the document hash the envelope is bound to.
	DocumentSHA256 [32]byte
}

// KeyID returns the id of a trustee public key as written in envelopes.
func KeyID(pub *ecdh.PublicKey) [keyIDLen]byte {
	sum := sha256.Sum256(pub.Bytes())
	return [keyIDLen]byte(sum[:keyIDLen])
}

// GenerateKey creates a trustee key pair.
func GenerateKey(rand io.Reader) (*ecdh.PrivateKey, error) {
	k, err := ecdh.X25519().GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("envelope: generating key: %w", err)
	}
	return k, nil
}

func kek(secret, eph, trustee, header []byte) (cipher.AEAD, error) {
	salt := append(append([]byte(nil), eph...), trustee...)
	info := append(append([]byte(nil), wrapInfo...), header...)
	key, err := hkdf.Key(sha256.New, secret, salt, string(info), 32)
	if err != nil {
		return nil, err
	}
	return gcm(key)
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func checkText(what, s string) error {
	if len(s) > maxText || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8 of at most %d bytes", ErrInvalid, what, maxText)
	}
	return nil
}

// Seal encrypts c for the trustee. The record must be a valid ISO/IEC
// 19794-7 record; c.Nonce is replaced by fresh random bytes.
func Seal(rand io.Reader, trustee *ecdh.PublicKey, c Contents) ([]byte, error) {
	if trustee == nil || trustee.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("%w: trustee key must be X25519", ErrInvalid)
	}
	var rec iso19794.Record
	if err := rec.UnmarshalBinary(c.Record); err != nil {
		return nil, fmt.Errorf("%w: record: %w", ErrInvalid, err)
	}
	if err := errors.Join(checkText("signer", c.Signer), checkText("field", c.Field), checkText("device", c.Device)); err != nil {
		return nil, err
	}
	if c.Time.IsZero() {
		return nil, fmt.Errorf("%w: no time", ErrInvalid)
	}
	if _, err := io.ReadFull(rand, c.Nonce[:]); err != nil {
		return nil, fmt.Errorf("envelope: reading randomness: %w", err)
	}
	plain, err := compress(marshalContents(c))
	if err != nil {
		return nil, err
	}
	if len(plain) > MaxEnvelope-HeaderSize-16 {
		return nil, fmt.Errorf("%w: contents too large", ErrInvalid)
	}

	eph, err := ecdh.X25519().GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("envelope: ephemeral key: %w", err)
	}
	secret, err := eph.ECDH(trustee)
	if err != nil {
		return nil, fmt.Errorf("envelope: key agreement: %w", err)
	}
	dek := make([]byte, 32)
	if _, err := io.ReadFull(rand, dek); err != nil {
		return nil, fmt.Errorf("envelope: reading randomness: %w", err)
	}

	h := make([]byte, HeaderSize, HeaderSize+len(plain)+16)
	copy(h, magic)
	h[4], h[5] = version, suiteX25519
	id := KeyID(trustee)
	copy(h[offKeyID:], id[:])
	copy(h[offDoc:], c.DocumentSHA256[:])
	copy(h[offEph:], eph.PublicKey().Bytes())
	if _, err := io.ReadFull(rand, h[offNonce:offLen]); err != nil {
		return nil, fmt.Errorf("envelope: reading randomness: %w", err)
	}
	binary.BigEndian.PutUint32(h[offLen:], uint32(len(plain)+16))

	wrap, err := kek(secret, h[offEph:offWrapped], trustee.Bytes(), h[:offWrapped])
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving wrapping key: %w", err)
	}
	// The wrapping key is unique to this envelope (fresh ephemeral key), so
	// a fixed nonce is safe.
	wrap.Seal(h[offWrapped:offWrapped], make([]byte, 12), dek, h[:offWrapped])

	data, err := gcm(dek)
	if err != nil {
		return nil, fmt.Errorf("envelope: data key: %w", err)
	}
	return data.Seal(h, h[offNonce:offLen], plain, h[:HeaderSize]), nil
}

// ReadHeader parses the clear header without decrypting.
func ReadHeader(env []byte) (Header, error) {
	if len(env) < HeaderSize || string(env[:4]) != magic {
		return Header{}, fmt.Errorf("%w: no envelope header", ErrFormat)
	}
	if env[4] != version || env[5] != suiteX25519 {
		return Header{}, fmt.Errorf("%w: version %d suite %d", ErrFormat, env[4], env[5])
	}
	if n := binary.BigEndian.Uint32(env[offLen:]); uint64(n) != uint64(len(env)-HeaderSize) {
		return Header{}, fmt.Errorf("%w: payload length %d but %d bytes", ErrFormat, n, len(env)-HeaderSize)
	}
	var h Header
	copy(h.KeyID[:], env[offKeyID:])
	copy(h.DocumentSHA256[:], env[offDoc:])
	return h, nil
}

// Open decrypts an envelope with the trustee's private key and checks its
// integrity: the wrapped key and the payload are authenticated together
// with the whole header, the document hash inside must equal the one in the
// header, and the record must be a valid ISO/IEC 19794-7 record.
func Open(priv *ecdh.PrivateKey, env []byte) (*Contents, error) {
	if len(env) > MaxEnvelope {
		return nil, fmt.Errorf("%w: %d bytes", ErrFormat, len(env))
	}
	h, err := ReadHeader(env)
	if err != nil {
		return nil, err
	}
	if priv == nil || priv.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("%w: key must be X25519", ErrWrongKey)
	}
	pub := priv.PublicKey()
	if id := KeyID(pub); subtle.ConstantTimeCompare(id[:], h.KeyID[:]) != 1 {
		return nil, ErrWrongKey
	}
	eph, err := ecdh.X25519().NewPublicKey(env[offEph:offWrapped])
	if err != nil {
		return nil, fmt.Errorf("%w: ephemeral key", ErrFormat)
	}
	secret, err := priv.ECDH(eph)
	if err != nil {
		return nil, fmt.Errorf("%w: key agreement", ErrDecrypt)
	}
	wrap, err := kek(secret, env[offEph:offWrapped], pub.Bytes(), env[:offWrapped])
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving wrapping key: %w", err)
	}
	dek, err := wrap.Open(nil, make([]byte, 12), env[offWrapped:offNonce], env[:offWrapped])
	if err != nil {
		return nil, ErrDecrypt
	}
	data, err := gcm(dek)
	if err != nil {
		return nil, fmt.Errorf("envelope: data key: %w", err)
	}
	plain, err := data.Open(nil, env[offNonce:offLen], env[HeaderSize:], env[:HeaderSize])
	if err != nil {
		return nil, ErrDecrypt
	}
	raw, err := decompress(plain)
	if err != nil {
		return nil, err
	}
	c, err := unmarshalContents(raw)
	if err != nil {
		return nil, err
	}
	if c.DocumentSHA256 != h.DocumentSHA256 {
		return nil, fmt.Errorf("%w: document hash inside differs from the header", ErrDecrypt)
	}
	var rec iso19794.Record
	if err := rec.UnmarshalBinary(c.Record); err != nil {
		return nil, fmt.Errorf("%w: record: %w", ErrFormat, err)
	}
	return c, nil
}

// Binding is what a signature must be bound to: the document as signed,
// its field and its signer.
type Binding struct {
	// DocumentSHA256 is the SHA-256 of the document (the PDF as signed).
	DocumentSHA256 [32]byte
	// Field is the signature field's name.
	Field string
	// Signer is the signer's id.
	Signer string
}

// Check returns ErrBinding unless the opened contents belong to b: a
// changed document, or an envelope taken from another document, field or
// signer, fails.
func (c *Contents) Check(b Binding) error {
	switch {
	case c.DocumentSHA256 != b.DocumentSHA256:
		return fmt.Errorf("%w: document hash differs", ErrBinding)
	case c.Field != b.Field:
		return fmt.Errorf("%w: field differs", ErrBinding)
	case c.Signer != b.Signer:
		return fmt.Errorf("%w: signer differs", ErrBinding)
	}
	return nil
}

// Digest is the SHA-256 of the envelope's bytes: the value a signed PDF
// records (inside the PAdES-signed part) so that the envelope cannot be
// swapped for another one later.
func Digest(env []byte) [32]byte { return sha256.Sum256(env) }

func appendText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// marshalContents lays the contents out as: signer, field, device (each a
// 2-byte length and UTF-8), time (8 bytes, Unix nanoseconds), nonce (16),
// document SHA-256 (32), record (4-byte length and bytes).
func marshalContents(c Contents) []byte {
	b := make([]byte, 0, 128+len(c.Record))
	b = appendText(b, c.Signer)
	b = appendText(b, c.Field)
	b = appendText(b, c.Device)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixNano()))
	b = append(b, c.Nonce[:]...)
	b = append(b, c.DocumentSHA256[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Record)))
	return append(b, c.Record...)
}

func unmarshalContents(b []byte) (*Contents, error) {
	bad := fmt.Errorf("%w: contents truncated or malformed", ErrFormat)
	text := func() (string, bool) {
		if len(b) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(b))
		if n > maxText || len(b) < 2+n || !utf8.Valid(b[2:2+n]) {
			return "", false
		}
		s := string(b[2 : 2+n])
		b = b[2+n:]
		return s, true
	}
	var c Contents
	var ok1, ok2, ok3 bool
	c.Signer, ok1 = text()
	c.Field, ok2 = text()
	c.Device, ok3 = text()
	if !ok1 || !ok2 || !ok3 || len(b) < 8+16+32+4 {
		return nil, bad
	}
	ns := int64(binary.BigEndian.Uint64(b))
	c.Time = time.Unix(0, ns).UTC()
	copy(c.Nonce[:], b[8:])
	copy(c.DocumentSHA256[:], b[24:])
	n := binary.BigEndian.Uint32(b[56:])
	b = b[60:]
	if uint64(n) != uint64(len(b)) {
		return nil, bad
	}
	c.Record = append([]byte(nil), b...)
	return &c, nil
}

func compress(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("envelope: compressing: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return nil, fmt.Errorf("envelope: compressing: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("envelope: compressing: %w", err)
	}
	return buf.Bytes(), nil
}

func decompress(b []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(b))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, maxPlain+1))
	if err != nil {
		return nil, fmt.Errorf("%w: decompressing: %v", ErrFormat, err)
	}
	if len(out) > maxPlain {
		return nil, fmt.Errorf("%w: contents larger than %d bytes", ErrFormat, maxPlain)
	}
	return out, nil
}
