package fake

import (
	"io"
	"mime"
	"net/http"
	"strings"
)

// Upload is a file part of a multipart request a fake accepted.
type Upload struct {
	// Field is the form field the file came in.
	Field string
	// FileName is the part's filename parameter.
	FileName string
	// MIMEType is the part's Content-Type.
	MIMEType string
	// Data is the file's bytes as they arrived.
	Data []byte
}

// maxUpload bounds what a fake reads of a multipart request.
const maxUpload = 110 << 20

// readMultipart parses a multipart/form-data request into its fields
// and its file parts; ok is false when the request is not multipart or
// is malformed.
func readMultipart(r *http.Request) (fields map[string]string, files map[string]Upload, ok bool) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, nil, false
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, false
	}
	fields, files = map[string]string{}, map[string]Upload{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return fields, files, true
		}
		if err != nil {
			return nil, nil, false
		}
		data, err := io.ReadAll(io.LimitReader(p, maxUpload))
		if err != nil {
			return nil, nil, false
		}
		if p.FileName() == "" {
			fields[p.FormName()] = string(data)
			continue
		}
		files[p.FormName()] = Upload{Field: p.FormName(), FileName: p.FileName(), MIMEType: p.Header.Get("Content-Type"), Data: data}
	}
}

// baseType is a media type without parameters.
func baseType(t string) string {
	b, _, _ := strings.Cut(t, ";")
	return strings.ToLower(strings.TrimSpace(b))
}
