package recording

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Item is one file of a session archive.
type Item struct {
	// Name is the file's name inside its folder; the archive builder
	// keeps only a safe base name of it (uploaded files carry names
	// chosen by customers).
	Name string
	// Size is exactly how many bytes Open yields; the archive announces
	// the total up front and fails on a mismatch.
	Size int64
	// Open returns the content. The builder reads it in small pieces and
	// closes it.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// ChatLine is one message of the meeting's text chat.
type ChatLine struct {
	// At is when it was posted.
	At time.Time `json:"at"`
	// AuthorID is the author's participant or user id.
	AuthorID string `json:"author_id"`
	// AuthorRole is "advisor" or "customer".
	AuthorRole string `json:"author_role"`
	// AuthorName is the name shown in the meeting.
	AuthorName string `json:"author_name,omitempty"`
	// Text is the message.
	Text string `json:"text"`
	// File names an uploaded file the message refers to, if any.
	File string `json:"file,omitempty"`
}

// Source is what a session archive is built from. Each method returns
// what the meeting has of that kind (nothing is fine).
type Source interface {
	// Media returns the WebM files and their sidecar JSON files.
	Media(ctx context.Context) ([]Item, error)
	// Chat returns the chat transcript in order.
	Chat(ctx context.Context) ([]ChatLine, error)
	// Files returns the files exchanged in the meeting.
	Files(ctx context.Context) ([]Item, error)
	// Whiteboard returns whiteboard snapshots as PNG images.
	Whiteboard(ctx context.Context) ([]Item, error)
	// Signatures returns the signed PDFs.
	Signatures(ctx context.Context) ([]Item, error)
	// Metadata returns the meeting metadata as JSON.
	Metadata(ctx context.Context) ([]byte, error)
	// Consent returns the consent record as JSON.
	Consent(ctx context.Context) ([]byte, error)
}

// ManifestEntry describes one archive entry.
type ManifestEntry struct {
	// Name is the entry's path in the archive.
	Name string `json:"name"`
	// Size is its size in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of its content.
	SHA256 string `json:"sha256"`
}

// ArchiveManifest is manifest.json, the archive's last entry.
type ArchiveManifest struct {
	// Format names the archive layout.
	Format string `json:"format"`
	// Entries lists every other entry in archive order.
	Entries []ManifestEntry `json:"entries"`
}

// ArchiveFormat is ArchiveManifest.Format.
const ArchiveFormat = "parley-session-archive/1"

// ErrSizeMismatch: an item yielded more or fewer bytes than its Size.
var ErrSizeMismatch = errors.New("recording: archive item size mismatch")

// copyBuffer is the builder's only buffer for file contents.
const copyBuffer = 128 << 10

type archiveEntry struct {
	name string
	size int64
	data []byte // small in-memory entries
	open func(ctx context.Context) (io.ReadCloser, error)
	pack bool // deflate
}

// WriteArchive streams a session archive (a ZIP file) to w: media/,
// chat/transcript.txt and chat/transcript.json, files/, whiteboard/,
// signatures/, metadata.json, consent.json and, last, manifest.json with
// every other entry's size and SHA-256. Media, images and PDFs are stored
// uncompressed (they are compressed already), text is deflated. Content is
// copied through one small buffer: no file is ever held whole in memory.
// progress, if not nil, is called with the content bytes done and the
// total, which is known before the first byte is written; the last call
// has done == total.
func WriteArchive(ctx context.Context, w io.Writer, src Source, progress func(done, total int64)) error {
	entries, err := collect(ctx, src)
	if err != nil {
		return fmt.Errorf("recording: archive: %w", err)
	}
	var total int64
	for _, e := range entries {
		total += e.size
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	progress(0, total)
	zw := zip.NewWriter(w)
	man := ArchiveManifest{Format: ArchiveFormat}
	buf := make([]byte, copyBuffer)
	var done int64
	for _, e := range entries {
		sum, err := writeEntry(ctx, zw, e, buf, func(n int64) {
			done += n
			progress(done, total)
		})
		if err != nil {
			return fmt.Errorf("recording: archive entry %s: %w", e.name, err)
		}
		man.Entries = append(man.Entries, ManifestEntry{Name: e.name, Size: e.size, SHA256: sum})
	}
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("recording: archive manifest: %w", err)
	}
	if _, err := writeEntry(ctx, zw, archiveEntry{name: "manifest.json", size: int64(len(mb)), data: mb, pack: true}, buf, func(int64) {}); err != nil {
		return fmt.Errorf("recording: archive manifest: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("recording: finishing archive: %w", err)
	}
	return nil
}

// collect asks the source for everything and lays out the archive.
func collect(ctx context.Context, src Source) ([]archiveEntry, error) {
	var out []archiveEntry
	used := map[string]bool{"manifest.json": true}
	add := func(dir string, items []Item, pack bool) error {
		for _, it := range items {
			if it.Size < 0 || it.Open == nil {
				return fmt.Errorf("%w: %s item without size or content", ErrSizeMismatch, dir)
			}
			name := uniqueName(used, dir, it.Name)
			out = append(out, archiveEntry{name: name, size: it.Size, open: it.Open, pack: pack})
		}
		return nil
	}
	media, err := src.Media(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing media: %w", err)
	}
	if err := add("media", media, false); err != nil {
		return nil, err
	}
	chat, err := src.Chat(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading chat: %w", err)
	}
	if len(chat) > 0 {
		txt := []byte(Transcript(chat))
		js, err := json.MarshalIndent(chat, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encoding chat: %w", err)
		}
		used["chat/transcript.txt"], used["chat/transcript.json"] = true, true
		out = append(out,
			archiveEntry{name: "chat/transcript.txt", size: int64(len(txt)), data: txt, pack: true},
			archiveEntry{name: "chat/transcript.json", size: int64(len(js)), data: js, pack: true})
	}
	for _, k := range []struct {
		dir  string
		get  func(context.Context) ([]Item, error)
		pack bool
	}{
		{"files", src.Files, true},
		{"whiteboard", src.Whiteboard, false},
		{"signatures", src.Signatures, false},
	} {
		items, err := k.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", k.dir, err)
		}
		if err := add(k.dir, items, k.pack); err != nil {
			return nil, err
		}
	}
	for _, k := range []struct {
		name string
		get  func(context.Context) ([]byte, error)
	}{
		{"metadata.json", src.Metadata},
		{"consent.json", src.Consent},
	} {
		b, err := k.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", k.name, err)
		}
		if b != nil {
			used[k.name] = true
			out = append(out, archiveEntry{name: k.name, size: int64(len(b)), data: b, pack: true})
		}
	}
	return out, nil
}

// Transcript renders chat lines as text, one message per line block.
func Transcript(lines []ChatLine) string {
	var b strings.Builder
	for _, l := range lines {
		who := l.AuthorName
		if who == "" {
			who = l.AuthorID
		}
		fmt.Fprintf(&b, "[%s] %s (%s): %s\n", l.At.UTC().Format(time.RFC3339), who, l.AuthorRole, strings.ReplaceAll(l.Text, "\n", "\n    "))
		if l.File != "" {
			fmt.Fprintf(&b, "    (file: %s)\n", l.File)
		}
	}
	return b.String()
}

// uniqueName makes a safe, unique archive path dir/name: the base name
// only, control and path characters replaced, at most 120 bytes, and a
// counter before the extension when the name is taken.
func uniqueName(used map[string]bool, dir, name string) string {
	base := SafeFileName(name)
	cand := dir + "/" + base
	ext := path.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	for i := 2; used[cand]; i++ {
		cand = dir + "/" + stem + "-" + strconv.Itoa(i) + ext
	}
	used[cand] = true
	return cand
}

// SafeFileName reduces a name from outside to something safe as a single
// path element in an archive or a folder: the part after the last slash or
// backslash, with control characters, separators and characters Windows
// refuses replaced by '_', no leading dots, at most 120 bytes of valid
// UTF-8. An empty result becomes "file".
func SafeFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(name, "_") {
		if unicode.IsControl(r) || strings.ContainsRune(`<>:"|?*`, r) || r == utf8.RuneError {
			r = '_'
		}
		if b.Len()+utf8.RuneLen(r) > 120 {
			break
		}
		b.WriteRune(r)
	}
	out := strings.TrimLeft(strings.TrimSpace(b.String()), ".")
	if out == "" {
		return "file"
	}
	return out
}

// writeEntry writes one entry, hashing and counting what goes in.
func writeEntry(ctx context.Context, zw *zip.Writer, e archiveEntry, buf []byte, step func(int64)) (string, error) {
	method := zip.Store
	if e.pack {
		method = zip.Deflate
	}
	hdr := &zip.FileHeader{Name: e.name, Method: method}
	hdr.SetMode(0o600)
	fw, err := zw.CreateHeader(hdr)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	dst := io.MultiWriter(fw, h)
	if e.data != nil || e.open == nil {
		if _, err := dst.Write(e.data); err != nil {
			return "", err
		}
		step(int64(len(e.data)))
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	rc, err := e.open(ctx)
	if err != nil {
		return "", fmt.Errorf("opening: %w", err)
	}
	defer rc.Close()
	if err := copyExact(ctx, dst, rc, e.size, buf, step); err != nil {
		return "", err
	}
	return hexSum(h), nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// copyExact copies exactly n bytes from r to w, checking ctx between
// pieces, and fails if r holds fewer or more.
func copyExact(ctx context.Context, w io.Writer, r io.Reader, n int64, buf []byte, step func(int64)) error {
	left := n
	for left > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, err := r.Read(buf[:min(int64(len(buf)), left)])
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return werr
			}
			left -= int64(k)
			step(int64(k))
		}
		if err == io.EOF {
			if left > 0 {
				return fmt.Errorf("%w: %d bytes short", ErrSizeMismatch, left)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("reading: %w", err)
		}
	}
	var one [1]byte
	for range 100 { // a reader that keeps returning (0, nil) is given up on
		k, err := r.Read(one[:])
		if k > 0 {
			return fmt.Errorf("%w: longer than announced", ErrSizeMismatch)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading: %w", err)
		}
	}
	return fmt.Errorf("reading: %w", io.ErrNoProgress)
}
