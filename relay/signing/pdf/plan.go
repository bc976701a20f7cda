package pdf

import (
	"crypto/sha256"
	"fmt"
	"unicode/utf8"
)

// Kind is what a field holds.
type Kind string

// Field kinds.
const (
	// KindSignature is a signature field: it shows the signer's appearance
	// image and belongs to the signer's signature.
	KindSignature Kind = "signature"
	// KindText is a fillable text field: its value is stamped into the
	// page content (flattened) in the signer's step.
	KindText Kind = "text"
)

// Field is one field an advisor placed on the document.
type Field struct {
	// ID names the field within the plan: 1–64 characters of [A-Za-z0-9._-].
	ID string `json:"id"`
	// Page is the 1-based page number.
	Page int `json:"page"`
	// Rect is the field's rectangle in the page's user space (points); it
	// must lie inside the page's crop box.
	Rect Rect `json:"rect"`
	// Kind is KindSignature or KindText.
	Kind Kind `json:"kind"`
	// Signer is the role (an entry of Plan.Order) that fills the field.
	Signer string `json:"signer"`
	// Label is an optional caption for the advisor's and signer's UI; it is
	// not written into the PDF.
	Label string `json:"label,omitempty"`
}

// Plan is a validated layout for one document: the fields, the signing
// order and the identity of the original. It is plain data (JSON) so the
// relay can keep it between steps.
type Plan struct {
	// OriginalSHA256 is the SHA-256 of the original PDF as uploaded.
	OriginalSHA256 []byte `json:"original_sha256"`
	// OriginalSize is the original's length; every signed revision starts
	// with exactly these bytes.
	OriginalSize int64 `json:"original_size"`
	// Order lists the signer roles in signing order (e.g. "customer",
	// "advisor"); roles are labels, never names.
	Order []string `json:"order"`
	// Fields are the fields, each assigned to one role.
	Fields []Field `json:"fields"`
}

// Limits on a plan.
const (
	// MaxFields is the largest number of fields in a plan.
	MaxFields = 200
	// MaxSigners is the largest number of signers in a plan.
	MaxSigners = 20
	// MaxLabel is the longest field label, in characters.
	MaxLabel = 200
	// MaxTextValue is the longest text field value, in characters.
	MaxTextValue = 500
)

// Prepare checks the original and the advisor's layout and returns the plan
// the signing steps follow. The original is not rewritten: all additions
// (fields, appearances, values, envelopes, audit page) arrive later in
// signed incremental updates, so the original's bytes and hash stay the
// first revision of the signed document.
func Prepare(original []byte, fields []Field, order []string, lim Limits) (*Plan, error) {
	doc, err := parse(original, lim)
	if err != nil {
		return nil, fmt.Errorf("pdf: prepare: %w", err)
	}
	if err := validate(original); err != nil {
		return nil, fmt.Errorf("pdf: prepare: %w", err)
	}
	if len(order) == 0 || len(order) > MaxSigners {
		return nil, fmt.Errorf("pdf: prepare: %d signers (1 to %d): %w", len(order), MaxSigners, ErrInvalidField)
	}
	roles := map[string]bool{}
	for i, r := range order {
		if !validID(r) || roles[r] {
			return nil, fmt.Errorf("pdf: prepare: signer %d: role empty, malformed or repeated: %w", i+1, ErrInvalidField)
		}
		roles[r] = true
	}
	if len(fields) > MaxFields {
		return nil, fmt.Errorf("pdf: prepare: %d fields (limit %d): %w", len(fields), MaxFields, ErrInvalidField)
	}
	ids := map[string]bool{}
	out := make([]Field, 0, len(fields))
	for i, f := range fields {
		if !validID(f.ID) || ids[f.ID] {
			return nil, fmt.Errorf("pdf: prepare: field %d: id empty, malformed or repeated: %w", i+1, ErrInvalidField)
		}
		ids[f.ID] = true
		if f.Kind != KindSignature && f.Kind != KindText {
			return nil, fmt.Errorf("pdf: prepare: field %s: kind %q: %w", f.ID, f.Kind, ErrInvalidField)
		}
		if !roles[f.Signer] {
			return nil, fmt.Errorf("pdf: prepare: field %s: signer not in the signing order: %w", f.ID, ErrInvalidField)
		}
		if f.Page < 1 || f.Page > len(doc.pages) {
			return nil, fmt.Errorf("pdf: prepare: field %s: page %d of %d: %w", f.ID, f.Page, len(doc.pages), ErrInvalidField)
		}
		f.Rect = f.Rect.normalized()
		if f.Rect.Width() < 1 || f.Rect.Height() < 1 || !doc.pages[f.Page-1].crop.contains(f.Rect) {
			return nil, fmt.Errorf("pdf: prepare: field %s: rectangle empty or outside page %d: %w", f.ID, f.Page, ErrInvalidField)
		}
		if utf8.RuneCountInString(f.Label) > MaxLabel || !utf8.ValidString(f.Label) {
			return nil, fmt.Errorf("pdf: prepare: field %s: label too long or not UTF-8: %w", f.ID, ErrInvalidField)
		}
		out = append(out, f)
	}
	sum := sha256.Sum256(original)
	return &Plan{
		OriginalSHA256: sum[:],
		OriginalSize:   int64(len(original)),
		Order:          append([]string(nil), order...),
		Fields:         out,
	}, nil
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// fieldsOf returns the plan's fields for role, in plan order.
func (p *Plan) fieldsOf(role string) []Field {
	var out []Field
	for _, f := range p.Fields {
		if f.Signer == role {
			out = append(out, f)
		}
	}
	return out
}
