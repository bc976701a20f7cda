package chat

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestPutFileAcceptsTheAllowListAndFixesExtensions(t *testing.T) {
	e := newEnv(t, nil, Options{})
	xlsx := zipOf([2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"xl/workbook.xml", "<workbook/>"})
	pptx := zipOf([2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"ppt/presentation.xml", "<p/>"})
	odt := zipOf([2]string{"mimetype", odtMime}, [2]string{"content.xml", "<office:document-content/>"})
	for _, c := range []struct {
		name, body, wantName, wantType string
	}{
		{"Vertrag.pdf", pdfBytes, "Vertrag.pdf", "application/pdf"},
		{"scan.PNG", string(pngBytes()), "scan.PNG", "image/png"},
		{"foto.jpeg", string(jpegBytes()), "foto.jpeg", "image/jpeg"},
		{"anim.gif", string(gifBytes()), "anim.gif", "image/gif"},
		{"bild.webp", string(webpBytes), "bild.webp", "image/webp"},
		{"notiz.txt", "Bitte bis Freitag zurücksenden.\n", "notiz.txt", "text/plain; charset=utf-8"},
		{"konten.csv", "iban;betrag\nDE02;100\n", "konten.csv", "text/csv; charset=utf-8"},
		{"latin1.txt", "Gr\xfc\xdfe\n", "latin1.txt", "text/plain"},
		{"Antrag.docx", string(docx()), "Antrag.docx", typeDOCX.mime},
		{"Tabelle.xlsx", string(xlsx), "Tabelle.xlsx", typeXLSX.mime},
		{"Folien.pptx", string(pptx), "Folien.pptx", typePPTX.mime},
		{"Brief.odt", string(odt), "Brief.odt", typeODT.mime},
		// The content decides; the name is made to match it.
		{"scan.pdf", string(pngBytes()), "scan.pdf.png", "image/png"},
		{"Vertrag", pdfBytes, "Vertrag.pdf", "application/pdf"},
		{"seite.html", "nur Text\n", "seite.html.txt", "text/plain; charset=utf-8"},
		{"Antrag.zip", string(docx()), "Antrag.zip.docx", typeDOCX.mime},
	} {
		en, err := e.put(meetingA, c.name, []byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if en.FileName != c.wantName || en.FileType != c.wantType || en.FileSize != int64(len(c.body)) || en.ID == "" {
			t.Errorf("%s: entry %+v, want name %q type %q", c.name, en, c.wantName, c.wantType)
		}
		if got := e.read(meetingA, en.ID); !bytes.Equal(got, []byte(c.body)) {
			t.Errorf("%s: read back %d bytes, want %d", c.name, len(got), len(c.body))
		}
	}
}

func TestPutFileRefusesDisguisedAndActiveContent(t *testing.T) {
	e := newEnv(t, nil, Options{})
	// A text whose markup starts exactly across a chunk boundary.
	straddle := strings.Repeat("a", ChunkSize-3) + "<script>alert(1)</script>"
	for _, c := range []struct{ name, body string }{
		{"html.pdf", "<!DOCTYPE html><html><script>alert(1)</script></html>"},
		{"svg.pdf", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`},
		{"svg2.pdf", "\xef\xbb\xbf  \n<svg><script>alert(1)</script></svg>"},
		{"xml.txt", `<?xml version="1.0"?><a/>`},
		{"elf.pdf", "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"},
		{"pe.pdf", "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"},
		{"script.txt", "hello\n<SCRIPT src=//evil></SCRIPT>"},
		{"straddle.txt", straddle},
		{"binary-later.txt", strings.Repeat("text ", 200) + "\x00\x01\x02"},
		{"utf16.txt", "\xff\xfeh\x00i\x00"},
		{"plain.zip", string(zipOf([2]string{"a.txt", "hi"}))},
		{"macro.docx", string(zipOf([2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"word/document.xml", "<w/>"}, [2]string{"word/vbaProject.bin", "\x00"}))},
		{"fake.docx", string(zipOf([2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"evil.exe", "MZ"}))},
		{"broken.docx", "PK\x03\x04 not really a zip"},
		{"archive.gz", "\x1f\x8b\x08\x00\x00\x00\x00\x00"},
		{"sound.pdf", "ID3\x03\x00\x00\x00\x00\x00\x00"},
	} {
		if _, err := e.put(meetingA, c.name, []byte(c.body)); !errors.Is(err, ErrTypeNotAllowed) {
			t.Errorf("%s: %v, want ErrTypeNotAllowed", c.name, err)
		}
	}
	if n := e.keys("chat/"); n != 0 {
		t.Fatalf("refused files left %d keys behind", n)
	}
	for _, name := range []string{"", "..", " . ", "/", "\x00\x01"} {
		if _, err := e.put(meetingA, name, []byte(pdfBytes)); !errors.Is(err, ErrInvalid) {
			t.Errorf("name %q: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := e.put(meetingA, "leer.txt", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty file: %v, want ErrInvalid", err)
	}
}

func TestPutFileStreamsInChunksAndStopsAtTheLimit(t *testing.T) {
	e := newEnv(t, nil, Options{MaxFileBytes: 3*ChunkSize + 1000})
	body := append([]byte(pdfBytes), bytes.Repeat([]byte("0123456789\n"), (3*ChunkSize)/11)...)
	en, err := e.put(meetingA, "gross.pdf", body)
	must(t, err)
	if en.FileSize != int64(len(body)) {
		t.Fatalf("size %d, want %d", en.FileSize, len(body))
	}
	if n := e.keys(prefixChunk); n != 4 {
		t.Fatalf("%d chunks stored, want 4", n)
	}
	if got := e.read(meetingA, en.ID); !bytes.Equal(got, body) {
		t.Fatal("read back differs")
	}
	_, rc, err := e.svc.OpenFile(e.ctx, meetingA, en.ID)
	must(t, err)
	if _, err := rc.(io.Seeker).Seek(int64(ChunkSize+5), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 20)
	if _, err := io.ReadFull(rc, part); err != nil || !bytes.Equal(part, body[ChunkSize+5:ChunkSize+25]) {
		t.Fatalf("reading from the middle: %q %v", part, err)
	}

	// An endless upload is cut off after the limit, not read to the end.
	r := &repeatReader{pattern: []byte("%PDF-1.7 ")}
	if _, err := e.svc.PutFile(e.ctx, meetingA, customer, "endlos.pdf", r); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless upload: %v", err)
	}
	if r.n > e.svc.opts.MaxFileBytes+ChunkSize {
		t.Fatalf("read %d bytes of an upload limited to %d", r.n, e.svc.opts.MaxFileBytes)
	}
	if n := e.keys(prefixChunk); n != 4 {
		t.Fatalf("%d chunks after the refused upload, want the first file's 4", n)
	}
	if n := e.keys(prefixUpload) + e.keys(prefixGarbage); n != 0 {
		t.Fatalf("%d upload records left", n)
	}
}

func TestPutFileQuotaPerMeeting(t *testing.T) {
	e := newEnv(t, nil, Options{MaxMeetingBytes: 2*ChunkSize + 10})
	body := append([]byte(pdfBytes), bytes.Repeat([]byte("x"), ChunkSize)...)
	_, err := e.put(meetingA, "a.pdf", body)
	must(t, err)
	if _, err := e.put(meetingA, "b.pdf", body); !errors.Is(err, ErrQuota) {
		t.Fatalf("second file: %v, want ErrQuota", err)
	}
	if _, err := e.put(meetingB, "b.pdf", body); err != nil {
		t.Fatalf("another meeting: %v", err)
	}
	if n := e.keys(prefixChunk); n != 4 {
		t.Fatalf("%d chunks, want 2 per stored file", n)
	}
}

func TestOpenFileOnlyInItsMeeting(t *testing.T) {
	e := newEnv(t, nil, Options{})
	en, err := e.put(meetingA, "a.pdf", []byte(pdfBytes))
	must(t, err)
	msgEntry, _, err := e.svc.Post(e.ctx, meetingA, customer, "hallo", "")
	must(t, err)
	for _, c := range [][2]string{
		{meetingB, en.ID},         // another meeting
		{meetingA, msgEntry.ID},   // a chat message's id
		{meetingA, "../" + en.ID}, // not an id
		{meetingA, strings.Repeat("0", 32)},
		{"", en.ID},
	} {
		if _, _, err := e.svc.OpenFile(e.ctx, c[0], c[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("open %q in %q: %v, want ErrNotFound", c[1], c[0], err)
		}
	}
	got, err := e.svc.Since(e.ctx, meetingA, 0, 0)
	must(t, err)
	if len(got) != 2 || got[0].FileName != "a.pdf" || got[1].Text != "hallo" {
		t.Fatalf("timeline %+v", got)
	}
}

// failingReader returns an error after n bytes, like a client that goes
// away in the middle of an upload.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestFailedUploadLeavesNothing(t *testing.T) {
	e := newEnv(t, nil, Options{})
	r := &failingReader{r: &repeatReader{pattern: []byte("%PDF-1.7 ")}, n: 2*ChunkSize + 7}
	if _, err := e.svc.PutFile(e.ctx, meetingA, customer, "a.pdf", r); err == nil || errors.Is(err, ErrTooLarge) {
		t.Fatalf("broken upload: %v", err)
	}
	if n := e.keys("chat/"); n != 0 {
		t.Fatalf("broken upload left %d keys", n)
	}
}
