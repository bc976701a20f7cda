package messaging

import (
	"bytes"
	"net/http"
	"strings"
	"unicode/utf8"

	"parley/relay/chat"
)

// fileType is an allowed attachment type: its media type and the
// extensions a file of this type may carry (the first is added to names
// that have none of them).
type fileType struct {
	mime string
	exts []string
}

var (
	typePDF  = fileType{"application/pdf", []string{".pdf"}}
	typePNG  = fileType{"image/png", []string{".png"}}
	typeJPEG = fileType{"image/jpeg", []string{".jpg", ".jpeg"}}
	typeGIF  = fileType{"image/gif", []string{".gif"}}
	typeWebP = fileType{"image/webp", []string{".webp"}}
	typeText = fileType{"text/plain; charset=utf-8", []string{".txt", ".text", ".log", ".md", ".csv"}}
)

// markup is what a text attachment must not contain: markers of
// documents a browser would render as active content.
var markup = [][]byte{[]byte("<script"), []byte("<svg"), []byte("<html"), []byte("<!doctype"), []byte("<iframe"),
	[]byte("<?xml"), []byte("<body"), []byte("<object"), []byte("<embed"), []byte("<meta"), []byte("<head"), []byte("<xml")}

// sniff decides an attachment's type from its content only. Everything
// outside the allow-list (executables, HTML, SVG, XML, archives, office
// documents, audio, video) is refused.
func sniff(b []byte) (fileType, bool) {
	if bytes.HasPrefix(b, []byte("%PDF-")) {
		return typePDF, true
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
		if plainText(b) {
			return typeText, true
		}
	}
	return fileType{}, false
}

// plainText reports whether b is UTF-8 text without control characters
// and without markup.
func plainText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f {
			return false
		}
	}
	rest := bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n\f")
	if len(rest) > 0 && rest[0] == '<' {
		return false
	}
	lower := bytes.ToLower(b)
	for _, m := range markup {
		if bytes.Contains(lower, m) {
			return false
		}
	}
	return true
}

// checkedAttachment is a validated attachment.
type checkedAttachment struct {
	name string
	mime string
	data []byte
}

// checkAttachments validates attachments: count, size (each and
// together), type by content, and a sanitised name (the last path
// element, no control or format characters such as right-to-left
// overrides, no Windows device names) whose extension matches the type.
func checkAttachments(in []AttachmentInput) ([]checkedAttachment, error) {
	if len(in) > MaxAttachments {
		return nil, invalid("attachments", "too many")
	}
	var total int
	out := make([]checkedAttachment, 0, len(in))
	for _, a := range in {
		if len(a.Data) == 0 {
			return nil, invalid("attachment.data", "empty file")
		}
		total += len(a.Data)
		if len(a.Data) > MaxAttachmentBytes || total > MaxAttachmentBytes {
			return nil, ErrTooLarge
		}
		ft, ok := sniff(a.Data)
		if !ok {
			return nil, ErrTypeNotAllowed
		}
		name, err := chat.SanitizeName(a.Name)
		if err != nil {
			return nil, invalid("attachment.name", "no usable file name")
		}
		out = append(out, checkedAttachment{name: withExt(name, ft.exts), mime: ft.mime, data: a.Data})
	}
	return out, nil
}

// withExt makes sure name ends with one of exts, appending the first one
// when it does not, so that the name a download is saved under matches
// its content.
func withExt(name string, exts []string) string {
	lower := strings.ToLower(name)
	for _, e := range exts {
		if strings.HasSuffix(lower, e) && len(name) > len(e) {
			return name
		}
	}
	if len(name)+len(exts[0]) > chat.MaxFileNameBytes {
		keep := chat.MaxFileNameBytes - len(exts[0])
		for keep > 0 && !utf8.RuneStart(name[keep]) {
			keep--
		}
		name = strings.TrimRight(name[:keep], " .")
		if name == "" {
			name = "file"
		}
	}
	return name + exts[0]
}
