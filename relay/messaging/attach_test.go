package messaging

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"
)

var (
	pngHeader  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
	jpegHeader = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00")
	pdfHeader  = []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
)

func TestHostileAttachmentsStoreNothing(t *testing.T) {
	f := newFixture(t, nil)
	c := f.open(t, advisorA, cust1)
	big := make([]byte, MaxAttachmentBytes+1)
	copy(big, pdfHeader)
	half := make([]byte, MaxAttachmentBytes/2+1)
	copy(half, pdfHeader)
	cases := []struct {
		name string
		in   []AttachmentInput
		want error
	}{
		{"html as png", []AttachmentInput{{Name: "photo.png", Data: []byte("<html><script>alert(1)</script></html>")}}, ErrTypeNotAllowed},
		{"svg", []AttachmentInput{{Name: "logo.svg", Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)}}, ErrTypeNotAllowed},
		{"svg with xml prolog", []AttachmentInput{{Name: "a.txt", Data: []byte("<?xml version=\"1.0\"?><svg/>")}}, ErrTypeNotAllowed},
		{"markup later in text", []AttachmentInput{{Name: "a.txt", Data: []byte("hello\n<script>x</script>")}}, ErrTypeNotAllowed},
		{"exe", []AttachmentInput{{Name: "invoice.pdf", Data: append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 64)...)}}, ErrTypeNotAllowed},
		{"elf", []AttachmentInput{{Name: "x.txt", Data: []byte("\x7fELF\x02\x01\x01\x00")}}, ErrTypeNotAllowed},
		{"zip", []AttachmentInput{{Name: "a.docx", Data: []byte("PK\x03\x04\x14\x00\x00\x00")}}, ErrTypeNotAllowed},
		{"text with NUL", []AttachmentInput{{Name: "a.txt", Data: []byte("abc\x00def")}}, ErrTypeNotAllowed},
		{"text not UTF-8", []AttachmentInput{{Name: "a.txt", Data: []byte("caf\xe9 au lait")}}, ErrTypeNotAllowed},
		{"too large", []AttachmentInput{{Name: "big.pdf", Data: big}}, ErrTooLarge},
		{"too large together", []AttachmentInput{{Name: "a.pdf", Data: half}, {Name: "b.pdf", Data: half}}, ErrTooLarge},
		{"empty", []AttachmentInput{{Name: "a.pdf", Data: nil}}, ErrInvalidInput},
		{"name only dots", []AttachmentInput{{Name: "../..", Data: pdfHeader}}, ErrInvalidInput},
		{"name only controls", []AttachmentInput{{Name: "\u202e\u200f\x01", Data: pdfHeader}}, ErrInvalidInput},
		{"too many", slices.Repeat([]AttachmentInput{{Name: "a.pdf", Data: pdfHeader}}, MaxAttachments+1), ErrInvalidInput},
	}
	for _, tc := range cases {
		_, err := f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "x", Text: "see attached", Attachments: tc.in})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	got, _ := f.svc.Get(ctx, advisorA, c.ID)
	if got.LastSeq != 0 {
		t.Fatalf("stored %d messages", got.LastSeq)
	}
	for k := range rawKeys(t, f.mem) {
		if strings.HasPrefix(k, prefixAtt) || strings.HasPrefix(k, prefixMsg) || strings.HasPrefix(k, prefixCID) {
			t.Fatalf("left behind: %s", k)
		}
	}
}

func TestAttachmentNamesAndTypes(t *testing.T) {
	f := newFixture(t, nil)
	c := f.open(t, advisorA, cust1)
	in := []AttachmentInput{
		{Name: "../../etc/passwd", Data: []byte("root:x:0:0")},
		{Name: "invoice\u202efdp.exe", Data: pdfHeader},
		{Name: `C:\Users\x\photo.jpg`, Data: jpegHeader},
		{Name: "bild.pdf", Data: pngHeader}, // claimed PDF, is a PNG
		{Name: "CON.txt", Data: []byte("text")},
	}
	m, err := f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "ok", Attachments: in})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, typ string }{
		{"passwd.txt", "text/plain; charset=utf-8"},
		{"invoicefdp.exe.pdf", "application/pdf"},
		{"photo.jpg", "image/jpeg"},
		{"bild.pdf.png", "image/png"},
		{"_CON.txt", "text/plain; charset=utf-8"},
	}
	for i, a := range m.Attachments {
		if a.Name != want[i].name || a.Type != want[i].typ || a.Size != int64(len(in[i].Data)) {
			t.Errorf("attachment %d: %+v, want %+v", i, a, want[i])
		}
		got, err := f.svc.Attachment(ctx, customer1, c.ID, a.ID)
		if err != nil || !bytes.Equal(got.Data, in[i].Data) || got.Name != a.Name {
			t.Errorf("attachment %d read back: %v %+v", i, err, got)
		}
	}
	if _, err := f.svc.Attachment(ctx, advisorB, c.ID, m.Attachments[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other advisor: %v", err)
	}
	if _, err := f.svc.Attachment(ctx, advisorA, c.ID, "0000000000000000000000000000000a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown attachment: %v", err)
	}
}

// FuzzAttachment checks that any name and content is either refused with
// one of the documented errors or accepted with a safe name and an
// allowed type that its content really has.
func FuzzAttachment(f *testing.F) {
	f.Add("a.pdf", pdfHeader)
	f.Add("../x.png", pngHeader)
	f.Add("r\u202egnp.exe", jpegHeader)
	f.Add("notes.txt", []byte("plain text\n"))
	f.Add("x.txt", []byte("<svg/>"))
	f.Add("CON", []byte("hi"))
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		out, err := checkAttachments([]AttachmentInput{{Name: name, Data: data}})
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) && !errors.Is(err, ErrTypeNotAllowed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		a := out[0]
		ft, ok := sniff(data)
		if !ok || ft.mime != a.mime {
			t.Fatalf("type %q accepted for content sniffed as %q", a.mime, ft.mime)
		}
		if a.name == "" || strings.ContainsAny(a.name, `/\<>:"|?*`) || len(a.name) > 200+len(".jpeg") {
			t.Fatalf("unsafe name %q", a.name)
		}
		for _, r := range a.name {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("control or format character in %q", a.name)
			}
		}
		ext := false
		for _, e := range ft.exts {
			ext = ext || strings.HasSuffix(strings.ToLower(a.name), e)
		}
		if !ext {
			t.Fatalf("name %q does not end in an extension of %s", a.name, ft.mime)
		}
	})
}

// FuzzScanFrom checks the digit-prefix range scan against a plain filter.
func FuzzScanFrom(f *testing.F) {
	f.Add(uint64(0), uint64(100), uint64(7))
	f.Add(uint64(99), uint64(1000), uint64(13))
	f.Add(uint64(18446744073709551000), uint64(18446744073709551615), uint64(1))
	f.Fuzz(func(t *testing.T, from, max, step uint64) {
		step = step%97 + 1
		mem := &storeMemory{}
		var keys []uint64
		base := max - min(max, 3000)
		mem.put(t, func(put func(n uint64)) {
			for n := base; n <= max && n >= base; n += step {
				put(n)
				keys = append(keys, n)
				if n+step < n {
					break
				}
			}
		})
		var want []uint64
		for _, n := range keys {
			if n >= from && n <= max {
				want = append(want, n)
			}
		}
		got := mem.scan(t, from, max)
		if len(got) != len(want) {
			t.Fatalf("from %d max %d: got %d keys, want %d", from, max, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("from %d max %d: key %d is %d, want %d", from, max, i, got[i], want[i])
			}
		}
	})
}
