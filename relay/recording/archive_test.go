package recording

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// fakeSource is an in-memory Source.
type fakeSource struct {
	media, files, whiteboard, signatures []Item
	chat                                 []ChatLine
	meta, consent                        []byte
}

func (f *fakeSource) Media(context.Context) ([]Item, error)      { return f.media, nil }
func (f *fakeSource) Chat(context.Context) ([]ChatLine, error)   { return f.chat, nil }
func (f *fakeSource) Files(context.Context) ([]Item, error)      { return f.files, nil }
func (f *fakeSource) Whiteboard(context.Context) ([]Item, error) { return f.whiteboard, nil }
func (f *fakeSource) Signatures(context.Context) ([]Item, error) { return f.signatures, nil }
func (f *fakeSource) Metadata(context.Context) ([]byte, error)   { return f.meta, nil }
func (f *fakeSource) Consent(context.Context) ([]byte, error)    { return f.consent, nil }

func bytesItem(name string, b []byte) Item {
	return Item{Name: name, Size: int64(len(b)), Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

// unzip reads every entry and checks the manifest's sizes and hashes.
func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out[f.Name] = data
		order = append(order, f.Name)
	}
	if order[len(order)-1] != "manifest.json" {
		t.Fatalf("manifest not last: %v", order)
	}
	var man ArchiveManifest
	if err := json.Unmarshal(out["manifest.json"], &man); err != nil {
		t.Fatal(err)
	}
	if man.Format != ArchiveFormat || len(man.Entries) != len(out)-1 {
		t.Fatalf("manifest %d entries for %d files", len(man.Entries), len(out))
	}
	for _, e := range man.Entries {
		sum := sha256.Sum256(out[e.Name])
		if hex.EncodeToString(sum[:]) != e.SHA256 || int64(len(out[e.Name])) != e.Size {
			t.Fatalf("manifest mismatch for %s", e.Name)
		}
	}
	return out
}

func TestArchiveContentsAndManifest(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
	src := &fakeSource{
		media:      []Item{bytesItem("r1-a-video.webm", []byte("webm bytes")), bytesItem("r1-a-video.json", []byte(`{"kind":"video"}`))},
		chat:       []ChatLine{{At: at, AuthorID: "c1", AuthorRole: "customer", AuthorName: "Erika", Text: "Hallo\nzweite Zeile", File: "Vertrag.pdf"}},
		files:      []Item{bytesItem("../../etc/passwd", []byte("x")), bytesItem("Vertrag.pdf", []byte("%PDF-1")), bytesItem("Vertrag.pdf", []byte("%PDF-2")), bytesItem("a\x00b:c.txt", []byte("y"))},
		whiteboard: []Item{bytesItem("board-1.png", []byte("\x89PNG"))},
		signatures: []Item{bytesItem("signed.pdf", []byte("%PDF-signed"))},
		meta:       []byte(`{"meeting_id":"m"}`),
		consent:    []byte(`{"entries":[]}`),
	}
	var calls [][2]int64
	var buf bytes.Buffer
	if err := WriteArchive(ctx, &buf, src, func(done, total int64) { calls = append(calls, [2]int64{done, total}) }); err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())
	want := map[string]string{
		"media/r1-a-video.webm":  "webm bytes",
		"files/passwd":           "x",
		"files/Vertrag.pdf":      "%PDF-1",
		"files/Vertrag-2.pdf":    "%PDF-2",
		"files/a_b_c.txt":        "y",
		"whiteboard/board-1.png": "\x89PNG",
		"signatures/signed.pdf":  "%PDF-signed",
		"metadata.json":          `{"meeting_id":"m"}`,
		"consent.json":           `{"entries":[]}`,
	}
	for name, content := range want {
		if string(files[name]) != content {
			t.Errorf("%s = %q, want %q", name, files[name], content)
		}
	}
	txt := string(files["chat/transcript.txt"])
	if !strings.Contains(txt, "[2026-03-02T10:05:00Z] Erika (customer): Hallo\n    zweite Zeile") || !strings.Contains(txt, "(file: Vertrag.pdf)") {
		t.Errorf("transcript %q", txt)
	}
	var lines []ChatLine
	if err := json.Unmarshal(files["chat/transcript.json"], &lines); err != nil || len(lines) != 1 {
		t.Errorf("chat json: %v", err)
	}
	// Progress: total known from the first call, monotonic, ends at total.
	total := calls[0][1]
	var sum int64
	for name, b := range files {
		if name != "manifest.json" {
			sum += int64(len(b))
		}
	}
	if calls[0][0] != 0 || total != sum || calls[len(calls)-1][0] != total {
		t.Fatalf("progress first %v last %v, content %d", calls[0], calls[len(calls)-1], sum)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] < calls[i-1][0] || calls[i][1] != total {
			t.Fatalf("progress not monotonic at %d: %v", i, calls[i])
		}
	}
}

func TestArchiveSizeMismatch(t *testing.T) {
	for _, size := range []int64{3, 5} {
		src := &fakeSource{media: []Item{{Name: "x.webm", Size: size, Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("four")), nil
		}}}}
		if err := WriteArchive(ctx, io.Discard, src, nil); !errors.Is(err, ErrSizeMismatch) {
			t.Errorf("size %d: %v", size, err)
		}
	}
}

// patternReader yields n bytes of a pattern and records how far it has
// been read.
type patternReader struct {
	n, read  int64
	maxChunk int
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.read >= p.n {
		return 0, io.EOF
	}
	k := min(int64(len(b)), p.n-p.read)
	for i := range k {
		b[i] = byte(p.read + i)
	}
	p.read += k
	p.maxChunk = max(p.maxChunk, int(k))
	return int(k), nil
}

func (p *patternReader) Close() error { return nil }

// lagWriter checks, at every write, how far the source has been read ahead
// of what reached the output.
type lagWriter struct {
	src     *patternReader
	written int64
	maxLag  int64
}

func (l *lagWriter) Write(b []byte) (int, error) {
	l.written += int64(len(b))
	if lag := l.src.read - l.written; lag > l.maxLag {
		l.maxLag = lag
	}
	return len(b), nil
}

func TestArchiveStreamsLargeMediaInBoundedMemory(t *testing.T) {
	const size = 200 << 20
	src := &patternReader{n: size}
	fs := &fakeSource{media: []Item{{Name: "big.webm", Size: size, Open: func(context.Context) (io.ReadCloser, error) { return src, nil }}}}
	out := &lagWriter{src: src}
	if err := WriteArchive(ctx, out, fs, nil); err != nil {
		t.Fatal(err)
	}
	if src.read != size {
		t.Fatalf("read %d of %d", src.read, size)
	}
	// What was read but not yet written is all the builder holds of the
	// file: one copy buffer plus the ZIP writer's small buffer.
	if limit := int64(1 << 20); out.maxLag > limit || src.maxChunk > copyBuffer {
		t.Fatalf("read ahead %d bytes (chunk %d), limit %d", out.maxLag, src.maxChunk, limit)
	}
	if out.written < size {
		t.Fatalf("archive %d bytes for %d of media", out.written, size)
	}
}

func TestArchiveCancelled(t *testing.T) {
	c, cancel := context.WithCancel(ctx)
	src := &patternReader{n: 10 << 20}
	fs := &fakeSource{media: []Item{{Name: "m.webm", Size: src.n, Open: func(context.Context) (io.ReadCloser, error) { return src, nil }}}}
	err := WriteArchive(c, writerFunc(func(b []byte) (int, error) {
		cancel()
		return len(b), nil
	}), fs, nil)
	if !errors.Is(err, context.Canceled) || src.read == src.n {
		t.Fatalf("err %v after %d of %d bytes", err, src.read, src.n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestStoreArchiveRoundTrip records a meeting, keeps its artefacts in the
// store and builds the archive from the sealed folder.
func TestStoreArchiveRoundTrip(t *testing.T) {
	must := mustT(t)
	r := newMeetingRig(t)
	must(r.rec.Request("adv"))
	must(r.rec.Accept("cust1"))
	r.step(t)
	r.step(t)
	if err := r.rec.Close(); err != nil {
		t.Fatal(err)
	}
	s := r.f.s
	chat, _ := json.Marshal([]ChatLine{{AuthorID: "adv", AuthorRole: "advisor", Text: "Guten Tag"}})
	puts := []struct {
		part Part
		name string
		data string
	}{
		{PartChat, "", string(chat)},
		{PartMetadata, "", `{"meeting_id":"` + r.id + `"}`},
		{PartFiles, "Antrag.pdf", "%PDF-a"},
		{PartFiles, "Antrag.pdf", "%PDF-b"},
		{PartWhiteboard, "board.png", "\x89PNG"},
		{PartSignatures, "../signed.pdf", "%PDF-s"},
	}
	for _, p := range puts {
		if _, err := s.Put(ctx, r.id, p.part, p.name, strings.NewReader(p.data)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(ctx, r.id, PartMetadata, "", strings.NewReader("not json")); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("non-JSON metadata: %v", err)
	}
	if _, err := s.Put(ctx, r.id, Part("x"), "", strings.NewReader("{}")); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("unknown part: %v", err)
	}
	if _, err := s.Put(ctx, "0123", PartFiles, "a", strings.NewReader("{}")); !errors.Is(err, ErrInvalidMeeting) {
		t.Fatalf("bad meeting id: %v", err)
	}
	src, err := s.Source(ctx, r.id)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteArchive(ctx, &buf, src, nil); err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())
	for name, want := range map[string]string{
		"files/Antrag.pdf": "%PDF-a", "files/Antrag-2.pdf": "%PDF-b", "whiteboard/board.png": "\x89PNG",
		"signatures/signed.pdf": "%PDF-s", "metadata.json": `{"meeting_id":"` + r.id + `"}`,
	} {
		if string(files[name]) != want {
			t.Errorf("%s = %q", name, files[name])
		}
	}
	if !strings.Contains(string(files["chat/transcript.txt"]), "Guten Tag") {
		t.Error("chat missing")
	}
	var rec Record
	if err := json.Unmarshal(files["consent.json"], &rec); err != nil || rec.MeetingID != r.id || len(rec.Entries) == 0 {
		t.Fatalf("consent record: %v %+v", err, rec)
	}
	webms, sidecars := 0, 0
	for name, b := range files {
		switch {
		case strings.HasPrefix(name, "media/") && strings.HasSuffix(name, ".webm"):
			webms++
			if !bytes.HasPrefix(b, []byte{0x1a, 0x45, 0xdf, 0xa3}) {
				t.Fatalf("%s is not EBML", name)
			}
		case strings.HasPrefix(name, "media/") && strings.HasSuffix(name, ".json"):
			sidecars++
			var m TrackMeta
			if err := json.Unmarshal(b, &m); err != nil || m.Started.IsZero() || m.MeetingID != r.id {
				t.Fatalf("%s: %v %+v", name, err, m)
			}
		}
	}
	if webms != 2 || sidecars != 2 {
		t.Fatalf("media: %d webm, %d sidecars", webms, sidecars)
	}
}
