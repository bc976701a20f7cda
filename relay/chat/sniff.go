package chat

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// fileType is an allowed type: its media type and the extensions a file of
// this type may carry (the first is added to names that lack all).
type fileType struct {
	mime string
	exts []string
}

var (
	typePDF   = fileType{"application/pdf", []string{".pdf"}}
	typePNG   = fileType{"image/png", []string{".png"}}
	typeJPEG  = fileType{"image/jpeg", []string{".jpg", ".jpeg", ".jpe", ".jfif"}}
	typeGIF   = fileType{"image/gif", []string{".gif"}}
	typeWebP  = fileType{"image/webp", []string{".webp"}}
	typeText  = fileType{"text/plain", []string{".txt", ".text", ".log", ".md"}}
	typeCSV   = fileType{"text/csv", []string{".csv"}}
	typeDOCX  = fileType{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", []string{".docx"}}
	typeXLSX  = fileType{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", []string{".xlsx"}}
	typePPTX  = fileType{"application/vnd.openxmlformats-officedocument.presentationml.presentation", []string{".pptx"}}
	typeODT   = fileType{"application/vnd.oasis.opendocument.text", []string{".odt"}}
	kindZip   = fileType{mime: "zip"}  // decided by officeType once the whole file is stored
	kindPlain = fileType{mime: "text"} // text/plain or text/csv, checked while streaming
)

// sniffFirst classifies a file by its first bytes. It returns false for
// every type outside the allow-list (executables, HTML, XML and SVG,
// archives other than zip, audio, video, …).
func sniffFirst(b []byte) (fileType, bool) {
	switch {
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return typePDF, true
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return kindZip, true
	}
	switch http.DetectContentType(b) {
	case "image/png":
		return typePNG, true
	case "image/jpeg":
		return typeJPEG, true
	case "image/gif":
		return typeGIF, true
	case "image/webp":
		return typeWebP, true
	case "text/plain; charset=utf-8":
		// DetectContentType found no binary bytes and no HTML, XML or
		// UTF-16 marker; textCheck looks at the rest.
		return kindPlain, true
	}
	return fileType{}, false
}

// markup is what a text file must not contain: markers of documents a
// browser would render as active content (HTML, SVG, XML).
var markup = []string{"<script", "<svg", "<html", "<!doctype", "<iframe", "<?xml", "<body", "<object", "<embed", "<meta", "<head", "<xml"}

// maxMarkup is the length of the longest markup marker.
const maxMarkup = len("<!doctype")

// textCheck follows a text file chunk by chunk: it refuses markup
// documents and markup or binary control characters anywhere, and notes
// whether the text is UTF-8. Its verdict does not depend on how the text
// is cut into chunks.
type textCheck struct {
	decided bool   // the first character after BOM and white space was seen
	bomDone bool   // the start was checked for a byte-order mark
	head    []byte // the first bytes while a BOM is still possible
	notUTF8 bool
	partial []byte // an incomplete UTF-8 sequence at the end of the last chunk
	tail    []byte // the last bytes of the last chunk, lower-cased, for markers across chunks
}

const bom = "\xef\xbb\xbf"

// write checks the next chunk; false means the file is not acceptable text.
func (t *textCheck) write(b []byte) bool {
	if !t.decided {
		data := b
		if !t.bomDone {
			t.head = append(t.head, b...)
			data = nil
			if len(t.head) >= len(bom) || !bytes.HasPrefix([]byte(bom), t.head) {
				t.bomDone = true
				data = bytes.TrimPrefix(t.head, []byte(bom))
				t.head = nil
			}
		}
		if rest := bytes.TrimLeft(data, " \t\r\n\f"); len(rest) > 0 {
			t.decided = true
			if rest[0] == '<' {
				return false // a markup document
			}
		}
	}
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f {
			return false
		}
	}
	if !t.notUTF8 {
		data := append(t.partial, b...)
		cut := len(data)
		for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
			if utf8.RuneStart(data[i]) {
				if !utf8.FullRune(data[i:]) {
					cut = i
				}
				break
			}
		}
		if !utf8.Valid(data[:cut]) {
			t.notUTF8 = true
		}
		t.partial = bytes.Clone(data[cut:])
	}
	lower := append(bytes.Clone(t.tail), b...)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	for _, m := range markup {
		if bytes.Contains(lower, []byte(m)) {
			return false
		}
	}
	if len(lower) > maxMarkup {
		lower = lower[len(lower)-maxMarkup:]
	}
	t.tail = lower
	return true
}

// result returns the text's type: CSV when the name says so, plain text
// otherwise, with charset=utf-8 when the whole text is UTF-8.
func (t *textCheck) result(name string) fileType {
	ft := typeText
	_, ext := splitExt(name)
	if strings.EqualFold(ext, ".csv") {
		ft = typeCSV
	}
	if !t.notUTF8 && len(t.partial) == 0 {
		ft.mime += "; charset=utf-8"
	}
	return ft
}

// odtMime is the content of an OpenDocument text's "mimetype" member.
const odtMime = "application/vnd.oasis.opendocument.text"

// officeType decides what a zip container is: docx, xlsx or pptx (Office
// Open XML with its main part), or odt (OpenDocument with its mimetype
// member first). Anything else, and documents carrying macros, is
// refused.
func officeType(ra io.ReaderAt, size int64) (fileType, bool) {
	zr, err := zip.NewReader(ra, size)
	if err != nil || len(zr.File) == 0 {
		return fileType{}, false
	}
	names := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		lower := strings.ToLower(f.Name)
		if strings.HasSuffix(lower, "vbaproject.bin") || strings.HasPrefix(lower, "basic/") ||
			strings.HasSuffix(lower, ".exe") || strings.HasSuffix(lower, ".js") {
			return fileType{}, false // macros or programs inside
		}
		names[f.Name] = true
	}
	if names["[Content_Types].xml"] {
		switch {
		case names["word/document.xml"]:
			return typeDOCX, true
		case names["xl/workbook.xml"]:
			return typeXLSX, true
		case names["ppt/presentation.xml"]:
			return typePPTX, true
		}
		return fileType{}, false
	}
	if f := zr.File[0]; f.Name == "mimetype" && f.Method == zip.Store && f.UncompressedSize64 == uint64(len(odtMime)) {
		rc, err := f.Open()
		if err != nil {
			return fileType{}, false
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, int64(len(odtMime))+1))
		if err == nil && string(b) == odtMime {
			return typeODT, true
		}
	}
	return fileType{}, false
}
