package store

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// A backup file is a fixed header followed by AES-256-GCM chunks:
//
//	header (BackupHeaderSize bytes, big-endian):
//	  magic      8  "PRLYBKUP"
//	  version    2  1
//	  flags      2  0
//	  created    8  Unix seconds
//	  key id    16  HMAC-SHA256(store key, keyIDLabel)[:16]
//	  salt      32  random, HKDF salt: every backup has its own chunk key
//	  nonce     12  random nonce base
//	  chunk      4  plaintext bytes per chunk
//	chunk (repeated):
//	  length     4  ciphertext length incl. the 16-byte tag
//	  ciphertext
//
// The chunk key is HKDF-SHA256(store key, salt, chunkKeyLabel). Chunk i is
// sealed with nonce = nonce base XOR i (in the last 8 bytes) and additional
// data = header || i (8 bytes) || final flag (1 byte), so that a changed
// header, a reordered, swapped or dropped chunk and a cut-off tail all fail
// to open. The last chunk, and only it, has the final flag; it may be
// empty. The plaintext is badger's backup stream (length-prefixed KVLists).
const (
	backupMagic   = "PRLYBKUP"
	backupVersion = 1
	// BackupHeaderSize is the size of a backup file's header in bytes.
	BackupHeaderSize = 8 + 2 + 2 + 8 + 16 + 32 + 12 + 4
	keyIDLabel       = "parley relay backup key id v1"
	chunkKeyLabel    = "parley relay backup chunk key v1"
	// defaultChunkSize is how much plaintext each chunk holds.
	defaultChunkSize = 1 << 20
	// maxChunkSize bounds the chunk size a header may announce, so that
	// a damaged header cannot make Restore allocate without limit.
	maxChunkSize = 16 << 20
	tagSize      = 16
)

// Errors returned by Restore and ParseBackupHeader; check with errors.Is.
var (
	// ErrNotBackup means the input does not start with a backup header.
	ErrNotBackup = errors.New("store: not a Parley relay backup")
	// ErrBackupVersion means the backup was written by a newer relay.
	ErrBackupVersion = errors.New("store: unsupported backup version")
	// ErrWrongKey means the backup was made with a different store key.
	ErrWrongKey = errors.New("store: the backup was made with a different store key")
	// ErrBackupDamaged means a chunk failed authentication or the file was
	// cut short or extended: the file was damaged or tampered with.
	ErrBackupDamaged = errors.New("store: backup damaged or tampered with")
	// ErrRestoreTargetNotEmpty means Restore's target folder holds files.
	ErrRestoreTargetNotEmpty = errors.New("store: restore target is not empty")
)

// BackupHeader is the clear-text header of a backup file.
type BackupHeader struct {
	// Version is the format version (1).
	Version uint16
	// Created is when the backup was started, to the second.
	Created time.Time
	// KeyID identifies the store key without revealing it.
	KeyID [16]byte
	// Salt is the HKDF salt of this backup's chunk key.
	Salt [32]byte
	// Nonce is the nonce base of the chunks.
	Nonce [12]byte
	// ChunkSize is the plaintext size of every chunk but the last.
	ChunkSize uint32
}

// Manifest describes a backup that was written.
type Manifest struct {
	// Created is the time recorded in the header.
	Created time.Time
	// KeyID is the hex key id recorded in the header.
	KeyID string
	// Entries counts the key versions in the backup (deletion markers
	// included).
	Entries int
	// DataBytes is the size of the (encrypted) badger stream's plaintext.
	DataBytes int64
	// Bytes is the size of the backup file.
	Bytes int64
	// Chunks is the number of encrypted chunks.
	Chunks uint64
	// SHA256 is the hex SHA-256 of the backup file's bytes.
	SHA256 string
}

// BackupKeyID returns the key id recorded in backups made with key.
func BackupKeyID(key []byte) [16]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(keyIDLabel))
	var id [16]byte
	copy(id[:], m.Sum(nil))
	return id
}

func (h *BackupHeader) marshal() []byte {
	b := make([]byte, 0, BackupHeaderSize)
	b = append(b, backupMagic...)
	b = binary.BigEndian.AppendUint16(b, h.Version)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Created.Unix()))
	b = append(b, h.KeyID[:]...)
	b = append(b, h.Salt[:]...)
	b = append(b, h.Nonce[:]...)
	b = binary.BigEndian.AppendUint32(b, h.ChunkSize)
	return b
}

// ParseBackupHeader parses the first BackupHeaderSize bytes of a backup.
// It checks the magic, the version and the chunk size, not the key.
func ParseBackupHeader(b []byte) (BackupHeader, error) {
	var h BackupHeader
	if len(b) < BackupHeaderSize || string(b[:8]) != backupMagic {
		return h, ErrNotBackup
	}
	h.Version = binary.BigEndian.Uint16(b[8:])
	if h.Version != backupVersion {
		return h, fmt.Errorf("%w %d (this relay reads %d)", ErrBackupVersion, h.Version, backupVersion)
	}
	if flags := binary.BigEndian.Uint16(b[10:]); flags != 0 {
		return h, fmt.Errorf("%w: unknown header flags %#x", ErrBackupVersion, flags)
	}
	h.Created = time.Unix(int64(binary.BigEndian.Uint64(b[12:])), 0).UTC()
	copy(h.KeyID[:], b[20:36])
	copy(h.Salt[:], b[36:68])
	copy(h.Nonce[:], b[68:80])
	h.ChunkSize = binary.BigEndian.Uint32(b[80:])
	if h.ChunkSize == 0 || h.ChunkSize > maxChunkSize {
		return h, fmt.Errorf("%w: chunk size %d out of range", ErrBackupDamaged, h.ChunkSize)
	}
	return h, nil
}

func chunkAEAD(key []byte, salt []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("store: backup key must be 32 bytes, got %d", len(key))
	}
	k, err := hkdf.Key(sha256.New, key, salt, chunkKeyLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("store: derive backup key: %w", err)
	}
	blk, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("store: backup cipher: %w", err)
	}
	return cipher.NewGCM(blk)
}

func chunkNonce(base [12]byte, i uint64) []byte {
	n := base
	c := binary.BigEndian.Uint64(n[4:]) ^ i
	binary.BigEndian.PutUint64(n[4:], c)
	return n[:]
}

func chunkAAD(dst, header []byte, i uint64, final bool) []byte {
	dst = append(dst[:0], header...)
	dst = binary.BigEndian.AppendUint64(dst, i)
	if final {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// sealWriter encrypts what is written to it in chunks.
type sealWriter struct {
	ctx    context.Context
	w      io.Writer
	aead   cipher.AEAD
	header []byte
	nonce  [12]byte
	buf    []byte // plaintext of the current chunk
	size   int
	out    []byte
	aad    []byte
	n      uint64 // chunks written
	plain  int64
	err    error
}

func (s *sealWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	total := len(p)
	for len(p) > 0 {
		k := min(s.size-len(s.buf), len(p))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		if len(s.buf) == s.size {
			if err := s.seal(false); err != nil {
				return total - len(p), err
			}
		}
	}
	s.plain += int64(total)
	return total, nil
}

// seal encrypts and writes the buffered chunk. Full chunks are sealed as
// they fill; close seals the rest, possibly empty, as the final chunk.
func (s *sealWriter) seal(final bool) error {
	s.aad = chunkAAD(s.aad, s.header, s.n, final)
	s.out = s.aead.Seal(s.out[:4], chunkNonce(s.nonce, s.n), s.buf, s.aad)
	binary.BigEndian.PutUint32(s.out[:4], uint32(len(s.out)-4))
	if _, err := s.w.Write(s.out); err != nil {
		s.err = fmt.Errorf("store: write backup: %w", err)
		return s.err
	}
	s.n++
	s.buf = s.buf[:0]
	return nil
}

func (s *sealWriter) close() error {
	if s.err != nil {
		return s.err
	}
	return s.seal(true)
}

// entryCounter follows the framing of badger's backup stream (8-byte
// little-endian length, then a protobuf KVList) and counts the entries.
type entryCounter struct {
	hdr     [8]byte
	nhdr    int
	body    []byte
	want    uint64
	entries int
}

func (c *entryCounter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if c.nhdr < 8 {
			k := copy(c.hdr[c.nhdr:], p)
			c.nhdr += k
			p = p[k:]
			if c.nhdr == 8 {
				c.want = binary.LittleEndian.Uint64(c.hdr[:])
				c.body = c.body[:0]
			}
		}
		if c.nhdr == 8 {
			k := min(int(c.want-uint64(len(c.body))), len(p))
			c.body = append(c.body, p[:k]...)
			p = p[k:]
			if uint64(len(c.body)) == c.want {
				var list pb.KVList
				if err := proto.Unmarshal(c.body, &list); err != nil {
					return 0, fmt.Errorf("store: backup stream: %w", err)
				}
				c.entries += len(list.Kv)
				c.nhdr = 0
			}
		}
	}
	return total, nil
}

// Backup writes an encrypted, authenticated snapshot of db to w. key is the
// store key (the backup is useless without it, and it is not in the backup).
// Nothing is written to w in plain text but the header.
func Backup(ctx context.Context, db *Badger, w io.Writer, key []byte) (Manifest, error) {
	return BackupFiles(ctx, db, w, key, nil)
}

// fileKeyPrefix marks the entries that carry BackupFiles' files inside
// the backup stream. They are loaded with the store on restore, read out
// and deleted again by RestoreFiles.
const fileKeyPrefix = "\x00parley-backup/file/"

// BackupFiles is Backup that also stores small files (such as the TLS
// certificate and key kept beside the store) in the backup, encrypted like
// the store. Names are slash-separated relative paths.
func BackupFiles(ctx context.Context, db *Badger, w io.Writer, key []byte, files map[string][]byte) (Manifest, error) {
	for name := range files {
		if !validFileName(name) {
			return Manifest{}, fmt.Errorf("store: backup file name %q is not a local slash path", name)
		}
	}
	h := BackupHeader{Version: backupVersion, Created: time.Now().UTC().Truncate(time.Second),
		KeyID: BackupKeyID(key), ChunkSize: defaultChunkSize}
	if _, err := rand.Read(h.Salt[:]); err != nil {
		return Manifest{}, fmt.Errorf("store: backup salt: %w", err)
	}
	if _, err := rand.Read(h.Nonce[:]); err != nil {
		return Manifest{}, fmt.Errorf("store: backup nonce: %w", err)
	}
	aead, err := chunkAEAD(key, h.Salt[:])
	if err != nil {
		return Manifest{}, err
	}
	sum := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, sum)}
	header := h.marshal()
	if _, err := cw.Write(header); err != nil {
		return Manifest{}, fmt.Errorf("store: write backup header: %w", err)
	}
	sw := &sealWriter{ctx: ctx, w: cw, aead: aead, header: header, nonce: h.Nonce,
		size: int(h.ChunkSize), buf: make([]byte, 0, h.ChunkSize), out: make([]byte, 4, 4+h.ChunkSize+tagSize)}
	var counter entryCounter
	stream := db.db.NewStream()
	stream.LogPrefix = "store.Backup"
	maxVersion, err := stream.Backup(io.MultiWriter(&counter, sw), 0)
	if err != nil {
		return Manifest{}, fmt.Errorf("store: backup stream: %w", err)
	}
	if len(files) > 0 {
		var list pb.KVList
		for name, data := range files {
			list.Kv = append(list.Kv, &pb.KV{Key: []byte(fileKeyPrefix + name), Value: data, Version: max(maxVersion, 1)})
		}
		b, err := proto.Marshal(&list)
		if err != nil {
			return Manifest{}, fmt.Errorf("store: backup files: %w", err)
		}
		if _, err := sw.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(b)))); err != nil {
			return Manifest{}, err
		}
		if _, err := sw.Write(b); err != nil {
			return Manifest{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return Manifest{}, err
	}
	if err := sw.close(); err != nil {
		return Manifest{}, err
	}
	return Manifest{Created: h.Created, KeyID: hex.EncodeToString(h.KeyID[:]), Entries: counter.entries,
		DataBytes: sw.plain, Bytes: cw.n, Chunks: sw.n, SHA256: hex.EncodeToString(sum.Sum(nil))}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// openReader decrypts a backup stream chunk by chunk; Read returns only
// plaintext of chunks that authenticated, and io.EOF only after the final
// chunk with nothing behind it.
type openReader struct {
	r      *bufio.Reader
	aead   cipher.AEAD
	header []byte
	nonce  [12]byte
	max    int
	n      uint64
	in     []byte
	pt     []byte // buffer of plain
	plain  []byte
	aad    []byte
	done   bool
	err    error
}

// openBackup reads and checks the header of r against key.
func openBackup(in io.Reader, key []byte) (*openReader, BackupHeader, error) {
	r := bufio.NewReaderSize(in, 64<<10)
	raw := make([]byte, BackupHeaderSize)
	if _, err := io.ReadFull(r, raw); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, BackupHeader{}, ErrNotBackup
		}
		return nil, BackupHeader{}, fmt.Errorf("store: read backup header: %w", err)
	}
	h, err := ParseBackupHeader(raw)
	if err != nil {
		return nil, h, err
	}
	if id := BackupKeyID(key); !hmac.Equal(id[:], h.KeyID[:]) {
		return nil, h, ErrWrongKey
	}
	aead, err := chunkAEAD(key, h.Salt[:])
	if err != nil {
		return nil, h, err
	}
	return &openReader{r: r, aead: aead, header: raw, nonce: h.Nonce, max: int(h.ChunkSize) + tagSize}, h, nil
}

func (o *openReader) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		o.err = o.next()
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

func (o *openReader) next() error {
	var l [4]byte
	if _, err := io.ReadFull(o.r, l[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: cut off after chunk %d", ErrBackupDamaged, o.n)
		}
		return fmt.Errorf("store: read backup: %w", err)
	}
	size := int(binary.BigEndian.Uint32(l[:]))
	if size < tagSize || size > o.max {
		return fmt.Errorf("%w: chunk %d has length %d", ErrBackupDamaged, o.n, size)
	}
	if cap(o.in) < size {
		o.in = make([]byte, size)
	}
	o.in = o.in[:size]
	if _, err := io.ReadFull(o.r, o.in); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: cut off in chunk %d", ErrBackupDamaged, o.n)
		}
		return fmt.Errorf("store: read backup: %w", err)
	}
	// The final chunk is the one with nothing behind it; a chunk sealed
	// as final with data behind it, or a non-final one at the end (a
	// cut-off tail), fails to authenticate.
	_, perr := o.r.Peek(1)
	final := errors.Is(perr, io.EOF)
	if perr != nil && !final {
		return fmt.Errorf("store: read backup: %w", perr)
	}
	o.aad = chunkAAD(o.aad, o.header, o.n, final)
	pt, err := o.aead.Open(o.pt[:0], chunkNonce(o.nonce, o.n), o.in, o.aad)
	if err != nil {
		return fmt.Errorf("%w: chunk %d does not authenticate", ErrBackupDamaged, o.n)
	}
	o.pt = pt
	o.plain = pt
	o.n++
	o.done = final
	return nil
}

// VerifyBackup reads a whole backup and checks every chunk against key
// without storing anything. It returns the header.
func VerifyBackup(r io.Reader, key []byte) (BackupHeader, error) {
	o, h, err := openBackup(r, key)
	if err != nil {
		return h, err
	}
	if _, err := io.Copy(io.Discard, o); err != nil {
		return h, err
	}
	return h, nil
}

// Restore reads a backup from r and recreates the store in dir, encrypted
// with the same key. dir must be missing or empty. The data is loaded into
// a staging folder beside dir and moved into place only when every chunk
// authenticated and the stream ended with its final chunk; on any error
// nothing is left behind (dir itself is not created when the header does
// not match key).
func Restore(ctx context.Context, r io.Reader, dir string, key []byte) error {
	_, err := RestoreFiles(ctx, r, dir, key)
	return err
}

// RestoreFiles is Restore that also returns the files BackupFiles stored,
// by name. The caller decides where to write them.
func RestoreFiles(ctx context.Context, r io.Reader, dir string, key []byte) (files map[string][]byte, err error) {
	if err := checkEmpty(dir); err != nil {
		return nil, err
	}
	o, _, err := openBackup(r, key)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("store: create restore folder: %w", err)
	}
	staging, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".restore-")
	if err != nil {
		return nil, fmt.Errorf("store: create staging folder: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(staging)
		}
	}()
	db, err := Open(BadgerOptions{Dir: staging, Key: key})
	if err != nil {
		return nil, err
	}
	loadErr := db.db.Load(&ctxReader{ctx: ctx, r: o}, 16)
	if loadErr == nil && o.done {
		files, loadErr = takeFiles(ctx, db)
	}
	if cerr := db.Close(); loadErr == nil && cerr != nil {
		loadErr = fmt.Errorf("store: close restored store: %w", cerr)
	}
	if loadErr != nil {
		if o.err != nil {
			return nil, o.err // the backup's own error, not badger's view of it
		}
		return nil, fmt.Errorf("store: load backup: %w", loadErr)
	}
	if !o.done {
		// Badger stops at a clean frame boundary; the final chunk must
		// have been seen all the same.
		if _, err := io.Copy(io.Discard, o); err != nil {
			return nil, err
		}
	}
	if err := checkEmpty(dir); err != nil {
		return nil, err
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("store: replace empty restore target: %w", err)
	}
	if err := os.Rename(staging, dir); err != nil {
		return nil, fmt.Errorf("store: move restored store into place: %w", err)
	}
	if d, err := os.Open(parent); err == nil {
		d.Sync()
		d.Close()
	}
	return files, nil
}

// takeFiles reads the files out of a freshly loaded store and deletes them.
func takeFiles(ctx context.Context, db *Badger) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := db.Update(ctx, func(tx Txn) error {
		clear(files)
		err := tx.Scan([]byte(fileKeyPrefix), func(k, v []byte) error {
			name := string(k[len(fileKeyPrefix):])
			if !validFileName(name) {
				return fmt.Errorf("%w: bad file name in backup", ErrBackupDamaged)
			}
			files[name] = v
			return nil
		})
		if err != nil {
			return err
		}
		for name := range files {
			if err := tx.Delete([]byte(fileKeyPrefix + name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: restore files: %w", err)
	}
	return files, nil
}

// validFileName accepts clean, local, slash-separated relative paths.
func validFileName(name string) bool {
	return name != "" && filepath.IsLocal(name) && path.Clean(name) == name && !strings.Contains(name, "\\")
}

// checkEmpty fails unless dir is missing or an empty folder.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: restore target: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("%w: %s", ErrRestoreTargetNotEmpty, dir)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ReadKeyFile reads a store key written as 64 hex digits, as in
// KeyFileName. Unlike LoadOrCreateKey it never creates a key.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("store: read key file: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("store: key file %s is not 64 hex digits", path)
	}
	return k, nil
}
