package recording

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// A sealed file is a fixed header followed by AES-256-GCM chunks, the
// format of relay/store's backups with variable chunk lengths (a writer
// may seal a short chunk on Flush, so that what was recorded so far is on
// disk and readable):
//
//	header (SealHeaderSize bytes, big-endian):
//	  magic      8  "PRLYSEAL"
//	  version    2  1
//	  flags      2  0
//	  key id    16  HMAC-SHA256(key, sealKeyIDLabel)[:16]
//	  salt      32  random, HKDF salt: every file has its own key
//	  nonce     12  random nonce base
//	  max chunk  4  plaintext bytes per chunk, at most
//	chunk (repeated):
//	  length     4  ciphertext length incl. the 16-byte tag
//	  ciphertext
//
// Chunk i is sealed with nonce = nonce base XOR i and additional data =
// header || i || final flag; the last chunk, and only it, has the final
// flag. A reordered, swapped, altered or foreign chunk fails to open; a
// file cut after a chunk boundary reads as ErrIncomplete (a recording that
// is still being written, or whose writer crashed), never as a complete
// file.
const (
	sealMagic   = "PRLYSEAL"
	sealVersion = 1
	// SealHeaderSize is the size of a sealed file's header in bytes.
	SealHeaderSize  = 8 + 2 + 2 + 16 + 32 + 12 + 4
	sealKeyIDLabel  = "parley recording key id v1"
	sealChunkLabel  = "parley recording chunk key v1"
	sealChunkSize   = 256 << 10
	maxSealChunk    = 4 << 20
	sealTagSize     = 16
	sealChunkHeader = 4
)

// Errors of sealed files; check with errors.Is.
var (
	// ErrNotSealed: the input does not start with a sealed file header.
	ErrNotSealed = errors.New("recording: not a sealed recording file")
	// ErrWrongKey: the file was sealed with another key.
	ErrWrongKey = errors.New("recording: sealed with a different key")
	// ErrDamaged: a chunk failed authentication or the framing is broken.
	ErrDamaged = errors.New("recording: sealed file damaged or tampered with")
	// ErrIncomplete: the file ends before its final chunk: it is still
	// being written or its writer stopped without closing it. Everything
	// read before this error was authenticated.
	ErrIncomplete = errors.New("recording: sealed file incomplete")
)

func sealKeyID(key []byte) [16]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sealKeyIDLabel))
	var id [16]byte
	copy(id[:], m.Sum(nil))
	return id
}

func sealAEAD(key, salt []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("recording: key must be 32 bytes, got %d", len(key))
	}
	k, err := hkdf.Key(sha256.New, key, salt, sealChunkLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("recording: deriving file key: %w", err)
	}
	blk, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("recording: file cipher: %w", err)
	}
	return cipher.NewGCM(blk)
}

func sealNonce(dst []byte, base []byte, i uint64) []byte {
	dst = append(dst[:0], base...)
	binary.BigEndian.PutUint64(dst[4:], binary.BigEndian.Uint64(dst[4:])^i)
	return dst
}

func sealAAD(dst, header []byte, i uint64, final bool) []byte {
	dst = append(dst[:0], header...)
	dst = binary.BigEndian.AppendUint64(dst, i)
	if final {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// sealWriter encrypts what is written to it into a sealed file. It is safe
// for concurrent use (the WebM muxer writes from its own goroutine while
// the track writer flushes).
type sealWriter struct {
	mu     sync.Mutex
	w      io.WriteCloser
	aead   cipher.AEAD
	header []byte
	buf    []byte
	out    []byte
	aad    []byte
	nonce  []byte
	n      uint64
	plain  int64
	err    error
	closed bool
}

// newSealWriter writes the header to w and returns a writer that seals
// what follows. Closing it writes the final chunk and closes w.
func newSealWriter(w io.WriteCloser, key []byte) (*sealWriter, error) {
	var salt [32]byte
	var nonce [12]byte
	rand.Read(salt[:])
	rand.Read(nonce[:])
	aead, err := sealAEAD(key, salt[:])
	if err != nil {
		return nil, err
	}
	id := sealKeyID(key)
	h := make([]byte, 0, SealHeaderSize)
	h = append(h, sealMagic...)
	h = binary.BigEndian.AppendUint16(h, sealVersion)
	h = binary.BigEndian.AppendUint16(h, 0)
	h = append(h, id[:]...)
	h = append(h, salt[:]...)
	h = append(h, nonce[:]...)
	h = binary.BigEndian.AppendUint32(h, sealChunkSize)
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("recording: writing header: %w", err)
	}
	return &sealWriter{w: w, aead: aead, header: h, buf: make([]byte, 0, sealChunkSize)}, nil
}

func (s *sealWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, errors.New("recording: write to closed file")
	}
	total := len(p)
	for len(p) > 0 {
		k := min(sealChunkSize-len(s.buf), len(p))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		if len(s.buf) == sealChunkSize {
			if err := s.seal(false); err != nil {
				return total - len(p), err
			}
		}
	}
	s.plain += int64(total)
	return total, nil
}

// Flush seals what is buffered as a (short) chunk, so that it is on disk
// and readable. It does nothing when nothing is buffered.
func (s *sealWriter) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.closed || len(s.buf) == 0 {
		return s.err
	}
	return s.seal(false)
}

func (s *sealWriter) seal(final bool) error {
	s.aad = sealAAD(s.aad, s.header, s.n, final)
	s.nonce = sealNonce(s.nonce, s.header[60:72], s.n)
	s.out = s.aead.Seal(append(s.out[:0], 0, 0, 0, 0), s.nonce, s.buf, s.aad)
	binary.BigEndian.PutUint32(s.out[:4], uint32(len(s.out)-4))
	if _, err := s.w.Write(s.out); err != nil {
		s.err = fmt.Errorf("recording: writing chunk: %w", err)
		return s.err
	}
	s.n++
	s.buf = s.buf[:0]
	return nil
}

// Close seals the final chunk and closes the underlying writer.
func (s *sealWriter) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.err
	}
	s.closed = true
	err := s.err
	if err == nil {
		err = s.seal(true)
	}
	if cerr := s.w.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("recording: closing file: %w", cerr)
		s.err = err
	}
	return err
}

// sealHeader is a parsed header.
type sealHeader struct {
	raw      []byte
	keyID    [16]byte
	salt     []byte
	nonce    []byte
	maxChunk uint32
}

func parseSealHeader(b []byte) (sealHeader, error) {
	if len(b) < SealHeaderSize || string(b[:8]) != sealMagic {
		return sealHeader{}, ErrNotSealed
	}
	if v := binary.BigEndian.Uint16(b[8:]); v != sealVersion {
		return sealHeader{}, fmt.Errorf("%w: version %d", ErrNotSealed, v)
	}
	if f := binary.BigEndian.Uint16(b[10:]); f != 0 {
		return sealHeader{}, fmt.Errorf("%w: flags %#x", ErrNotSealed, f)
	}
	h := sealHeader{raw: b[:SealHeaderSize:SealHeaderSize], salt: b[28:60], nonce: b[60:72]}
	copy(h.keyID[:], b[12:28])
	h.maxChunk = binary.BigEndian.Uint32(b[72:])
	if h.maxChunk == 0 || h.maxChunk > maxSealChunk {
		return sealHeader{}, fmt.Errorf("%w: chunk size %d", ErrDamaged, h.maxChunk)
	}
	return h, nil
}

// SealReader reads the plaintext of a sealed file, authenticating every
// chunk before returning any of it.
type SealReader struct {
	r     io.Reader
	aead  cipher.AEAD
	h     sealHeader
	n     uint64
	plain []byte
	pbuf  []byte
	ct    []byte
	aad   []byte
	nonce []byte
	done  bool
	err   error
}

// OpenSealed reads the header of a sealed file from r and returns a
// reader of its plaintext. Read returns io.EOF after the final chunk,
// ErrIncomplete when the input ends before it, and ErrDamaged when a
// chunk fails authentication or data follows the final chunk.
func OpenSealed(r io.Reader, key []byte) (*SealReader, error) {
	b := make([]byte, SealHeaderSize)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrNotSealed
		}
		return nil, fmt.Errorf("recording: reading header: %w", err)
	}
	h, err := parseSealHeader(b)
	if err != nil {
		return nil, err
	}
	if id := sealKeyID(key); !hmac.Equal(id[:], h.keyID[:]) {
		return nil, ErrWrongKey
	}
	aead, err := sealAEAD(key, h.salt)
	if err != nil {
		return nil, err
	}
	return &SealReader{r: r, aead: aead, h: h}, nil
}

// Read implements io.Reader.
func (s *SealReader) Read(p []byte) (int, error) {
	for len(s.plain) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		if s.done {
			s.err = s.checkTail()
			continue
		}
		s.err = s.next()
	}
	n := copy(p, s.plain)
	s.plain = s.plain[n:]
	return n, nil
}

func (s *SealReader) checkTail() error {
	var one [1]byte
	n, err := io.ReadFull(s.r, one[:])
	if n > 0 {
		return fmt.Errorf("%w: data after the final chunk", ErrDamaged)
	}
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("recording: reading: %w", err)
}

func (s *SealReader) next() error {
	var lb [sealChunkHeader]byte
	if _, err := io.ReadFull(s.r, lb[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrIncomplete
		}
		return fmt.Errorf("recording: reading: %w", err)
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n < sealTagSize || n > s.h.maxChunk+sealTagSize {
		return fmt.Errorf("%w: chunk length %d", ErrDamaged, n)
	}
	if cap(s.ct) < int(n) {
		s.ct = make([]byte, n)
	}
	s.ct = s.ct[:n]
	if _, err := io.ReadFull(s.r, s.ct); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrIncomplete
		}
		return fmt.Errorf("recording: reading: %w", err)
	}
	s.nonce = sealNonce(s.nonce, s.h.nonce, s.n)
	// Try as a middle chunk first, then as the final one.
	s.aad = sealAAD(s.aad, s.h.raw, s.n, false)
	pt, err := s.aead.Open(s.pbuf[:0], s.nonce, s.ct, s.aad)
	if err != nil {
		s.aad = sealAAD(s.aad, s.h.raw, s.n, true)
		pt, err = s.aead.Open(s.pbuf[:0], s.nonce, s.ct, s.aad)
		if err != nil {
			return fmt.Errorf("%w: chunk %d", ErrDamaged, s.n)
		}
		s.done = true
	}
	s.plain, s.pbuf = pt, pt
	s.n++
	return nil
}

// SealedSize walks the chunk lengths of a sealed file (without decrypting)
// and returns the plaintext size of its complete chunks: exactly what a
// SealReader yields when every chunk authenticates. It is what an archive
// announces as an entry's size before copying it.
func SealedSize(r io.ReadSeeker) (size int64, err error) {
	b := make([]byte, SealHeaderSize)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, ErrNotSealed
	}
	h, err := parseSealHeader(b)
	if err != nil {
		return 0, err
	}
	for {
		var lb [sealChunkHeader]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return size, nil
			}
			return 0, fmt.Errorf("recording: reading: %w", err)
		}
		n := binary.BigEndian.Uint32(lb[:])
		if n < sealTagSize || n > h.maxChunk+sealTagSize {
			return 0, fmt.Errorf("%w: chunk length %d", ErrDamaged, n)
		}
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, fmt.Errorf("recording: seeking: %w", err)
		}
		end, err := r.Seek(int64(n), io.SeekCurrent)
		if err != nil {
			return 0, fmt.Errorf("recording: seeking: %w", err)
		}
		// Seeking past the end succeeds; check that the chunk is there.
		last, err := r.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, fmt.Errorf("recording: seeking: %w", err)
		}
		if last < end {
			return size, nil
		}
		if _, err := r.Seek(pos+int64(n), io.SeekStart); err != nil {
			return 0, fmt.Errorf("recording: seeking: %w", err)
		}
		size += int64(n) - sealTagSize
	}
}
