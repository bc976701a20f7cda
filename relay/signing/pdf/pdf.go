// Package pdf is the PDF side of Parley's e-signature feature: it inspects an
// uploaded PDF (refusing anything that is not a plain, unencrypted PDF of a
// sane size), checks the field layout an advisor placed on it (Prepare), and
// writes one signed incremental update per signing step (SignStep): the
// signer's appearance images in their signature fields, the text values
// stamped into the page content, the signer's encrypted biometric envelope as
// an embedded file, and a PAdES baseline B-B signature (CMS, SHA-256,
// signing-certificate-v2, no signing-time attribute) made with the tenant's
// seal certificate. Seal appends the audit-trail page and a last seal
// signature over everything. Verify checks every signature of a document.
//
// The package knows nothing of HTTP, storage or the pen: it receives PNG
// images and opaque envelope bytes and returns bytes. Earlier revisions are
// never rewritten, so earlier signatures stay valid. docs/pades.md records the
// format decisions.
//
// pdfcpu is used to read and validate documents; its configuration directory
// is disabled (no files are written under the user's home).
package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Errors returned by this package, wrapped with what was being done; check
// them with errors.Is. Their text never contains document content.
var (
	// ErrNotPDF: the input does not start with a PDF header.
	ErrNotPDF = errors.New("not a PDF document (only PDF files can be signed)")
	// ErrMalformed: the PDF cannot be parsed or its structure is broken.
	ErrMalformed = errors.New("malformed PDF document")
	// ErrEncrypted: the PDF is encrypted or password protected.
	ErrEncrypted = errors.New("encrypted PDF documents cannot be signed")
	// ErrTooManyPages: the page count exceeds Limits.MaxPages.
	ErrTooManyPages = errors.New("PDF document has too many pages")
	// ErrTooLarge: the file exceeds Limits.MaxBytes.
	ErrTooLarge = errors.New("PDF document is too large")
	// ErrInvalidField: a field of the layout is unusable (unknown page,
	// rectangle outside the page, duplicate id, unknown signer, …).
	ErrInvalidField = errors.New("invalid signature or text field")
	// ErrInvalidStep: a signing step does not fit the plan (unknown or
	// missing field value, bad image).
	ErrInvalidStep = errors.New("invalid signing step")
	// ErrOutOfOrder: a signer signs before the signers ahead of them in the
	// signing order, or signs twice.
	ErrOutOfOrder = errors.New("signer is not next in the signing order")
	// ErrWrongDocument: the document handed to a step is not a revision of
	// the plan's original.
	ErrWrongDocument = errors.New("document does not belong to this signing plan")
	// ErrIncomplete: Seal was called before every signer signed.
	ErrIncomplete = errors.New("signing process is not complete")
	// ErrSealed: the document already carries the final seal.
	ErrSealed = errors.New("document is already sealed")
	// ErrNoSignatures: Verify found no signature.
	ErrNoSignatures = errors.New("PDF document has no signatures")
	// ErrInvalidSignature: at least one signature failed verification; the
	// reports say which and why.
	ErrInvalidSignature = errors.New("PDF signature invalid")
	// ErrKey: the seal key or certificate chain is unusable.
	ErrKey = errors.New("seal key or certificate unusable")
)

// Limits bound what Inspect accepts.
type Limits struct {
	// MaxBytes is the largest accepted file size; 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxPages is the largest accepted page count; 0 means DefaultMaxPages.
	MaxPages int
}

// Default limits.
const (
	// DefaultMaxBytes is the default file size cap (50 MiB).
	DefaultMaxBytes = 50 << 20
	// DefaultMaxPages is the default page count cap.
	DefaultMaxPages = 2000
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPages <= 0 {
		l.MaxPages = DefaultMaxPages
	}
	return l
}

// Rect is a rectangle in PDF user space (points, origin bottom left):
// lower-left and upper-right corners.
type Rect struct {
	// LLX is the lower-left x coordinate.
	LLX float64
	// LLY is the lower-left y coordinate.
	LLY float64
	// URX is the upper-right x coordinate.
	URX float64
	// URY is the upper-right y coordinate.
	URY float64
}

// Width is URX-LLX.
func (r Rect) Width() float64 { return r.URX - r.LLX }

// Height is URY-LLY.
func (r Rect) Height() float64 { return r.URY - r.LLY }

func (r Rect) normalized() Rect {
	if r.LLX > r.URX {
		r.LLX, r.URX = r.URX, r.LLX
	}
	if r.LLY > r.URY {
		r.LLY, r.URY = r.URY, r.LLY
	}
	return r
}

func (r Rect) contains(o Rect) bool {
	const eps = 0.01
	return o.LLX >= r.LLX-eps && o.LLY >= r.LLY-eps && o.URX <= r.URX+eps && o.URY <= r.URY+eps
}

// PageInfo describes one page so that fields can be placed in its user space.
type PageInfo struct {
	// Number is the 1-based page number.
	Number int
	// MediaBox is the page's media box (inherited if need be).
	MediaBox Rect
	// CropBox is the visible region; equal to MediaBox when absent.
	CropBox Rect
	// Rotate is the page rotation in degrees clockwise (0, 90, 180, 270).
	Rotate int
}

// Info is what Inspect learned about a document.
type Info struct {
	// Size is the file size in bytes.
	Size int64
	// Version is the PDF version from the header (e.g. "1.7").
	Version string
	// XRefStream reports whether the file uses cross-reference streams
	// (incremental updates then use one too) rather than a classic table.
	XRefStream bool
	// Pages lists every page in order.
	Pages []PageInfo
	// Signatures counts the signature fields that hold a signature.
	Signatures int
}

var configOnce sync.Once

func config() *model.Configuration {
	configOnce.Do(api.DisableConfigDir)
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Offline = true
	return conf
}

// Inspect reads a candidate document and refuses anything that is not a
// plain PDF within lim: no PDF header, unparseable or structurally invalid
// (ErrMalformed), encrypted (ErrEncrypted), too large (ErrTooLarge), too many
// pages (ErrTooManyPages).
func Inspect(r io.ReaderAt, size int64, lim Limits) (Info, error) {
	lim = lim.withDefaults()
	if size > lim.MaxBytes {
		return Info{}, fmt.Errorf("pdf: inspect: %d bytes (limit %d): %w", size, lim.MaxBytes, ErrTooLarge)
	}
	if size < 0 {
		return Info{}, fmt.Errorf("pdf: inspect: negative size: %w", ErrMalformed)
	}
	buf := make([]byte, size)
	if _, err := r.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF) && size == 0) {
		return Info{}, fmt.Errorf("pdf: inspect: reading: %w", err)
	}
	doc, err := parse(buf, lim)
	if err != nil {
		return Info{}, fmt.Errorf("pdf: inspect: %w", err)
	}
	if err := validate(buf); err != nil {
		return Info{}, fmt.Errorf("pdf: inspect: %w", err)
	}
	info := Info{Size: size, Version: doc.version, XRefStream: doc.xrefStream}
	for i, p := range doc.pages {
		info.Pages = append(info.Pages, PageInfo{Number: i + 1, MediaBox: p.media, CropBox: p.crop, Rotate: p.rotate})
	}
	sigs, err := doc.signatures()
	if err != nil {
		return Info{}, fmt.Errorf("pdf: inspect: %w", err)
	}
	info.Signatures = len(sigs)
	return info, nil
}

// validate runs pdfcpu's relaxed validation on a fresh context (validation
// may repair the context in memory, so it never shares one with writing).
func validate(buf []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("validating: %v: %w", p, ErrMalformed)
		}
	}()
	ctx, err := api.ReadContext(bytes.NewReader(buf), config())
	if err != nil {
		return fmt.Errorf("validating: %w", ErrMalformed)
	}
	if err := api.ValidateContext(ctx); err != nil {
		return fmt.Errorf("validating: %w", ErrMalformed)
	}
	return nil
}

// document is a parsed revision of a PDF.
type document struct {
	buf        []byte
	ctx        *model.Context
	xt         *model.XRefTable
	version    string
	xrefStream bool
	pages      []page
}

// page is one leaf of the page tree with its inherited attributes.
type page struct {
	ref       types.IndirectRef
	dict      types.Dict
	media     Rect
	crop      Rect
	rotate    int
	resources types.Object
}

// parse reads buf with pdfcpu and walks the page tree. It refuses encrypted
// documents and page counts above lim.MaxPages.
func parse(buf []byte, lim Limits) (d *document, err error) {
	lim = lim.withDefaults()
	if int64(len(buf)) > lim.MaxBytes {
		return nil, fmt.Errorf("%d bytes (limit %d): %w", len(buf), lim.MaxBytes, ErrTooLarge)
	}
	version, ok := header(buf)
	if !ok {
		return nil, ErrNotPDF
	}
	if err := checkTail(buf); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("parsing: %v: %w", p, ErrMalformed)
		}
	}()
	ctx, err := api.ReadContext(bytes.NewReader(buf), config())
	if err != nil {
		if errors.Is(err, pdfcpu.ErrWrongPassword) {
			return nil, ErrEncrypted
		}
		return nil, fmt.Errorf("parsing: %w", ErrMalformed)
	}
	if ctx.Encrypt != nil || ctx.E != nil {
		return nil, ErrEncrypted
	}
	d = &document{buf: buf, ctx: ctx, xt: ctx.XRefTable, version: version, xrefStream: ctx.Read.UsingXRefStreams}
	if d.xt.Root == nil {
		return nil, fmt.Errorf("no catalog: %w", ErrMalformed)
	}
	if err := d.walkPages(lim.MaxPages); err != nil {
		return nil, err
	}
	return d, nil
}

// header returns the version of a "%PDF-x.y" header within the first 1024
// bytes (as readers tolerate leading garbage).
func header(buf []byte) (string, bool) {
	head := buf
	if len(head) > 1024 {
		head = head[:1024]
	}
	i := bytes.Index(head, []byte("%PDF-"))
	if i < 0 || len(head) < i+8 {
		return "", false
	}
	v := head[i+5 : i+8]
	if v[0] < '1' || v[0] > '2' || v[1] != '.' || v[2] < '0' || v[2] > '9' {
		return "", false
	}
	return string(v), true
}

// checkTail requires an intact end of file: %%EOF near the end and a
// startxref pointing at a cross-reference section. pdfcpu would rebuild a
// truncated file's xref, but an incremental update must chain to the
// file's real one.
func checkTail(buf []byte) error {
	tail := buf
	if len(tail) > 1024 {
		tail = tail[len(tail)-1024:]
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return fmt.Errorf("no %%%%EOF at the end (truncated?): %w", ErrMalformed)
	}
	off, err := prevXRef(buf)
	if err != nil {
		return err
	}
	at := bytes.TrimLeft(buf[off:], " \r\n\t\f")
	if bytes.HasPrefix(at, []byte("xref")) {
		return nil
	}
	// An xref stream: "<nr> <gen> obj".
	var nr, gen int
	if n, _ := fmt.Sscanf(string(at[:min(len(at), 32)]), "%d %d obj", &nr, &gen); n == 2 {
		return nil
	}
	return fmt.Errorf("startxref does not point at a cross-reference section: %w", ErrMalformed)
}

const maxTreeDepth = 64

func (d *document) walkPages(maxPages int) error {
	cat, err := d.xt.Catalog()
	if err != nil {
		return fmt.Errorf("catalog: %w", ErrMalformed)
	}
	rootRef, ok := cat["Pages"].(types.IndirectRef)
	if !ok {
		return fmt.Errorf("page tree root: %w", ErrMalformed)
	}
	root, err := d.xt.DereferenceDict(rootRef)
	if err != nil || root == nil {
		return fmt.Errorf("page tree root: %w", ErrMalformed)
	}
	count := root.IntEntry("Count")
	if count == nil || *count < 1 {
		return fmt.Errorf("page count: %w", ErrMalformed)
	}
	if *count > maxPages {
		return fmt.Errorf("%d pages (limit %d): %w", *count, maxPages, ErrTooManyPages)
	}
	seen := map[int]bool{}
	type inherited struct {
		media, crop types.Object
		rotate      types.Object
		resources   types.Object
	}
	var walk func(ref types.IndirectRef, node types.Dict, inh inherited, depth int) error
	walk = func(ref types.IndirectRef, node types.Dict, inh inherited, depth int) error {
		if depth > maxTreeDepth {
			return fmt.Errorf("page tree too deep: %w", ErrMalformed)
		}
		if seen[ref.ObjectNumber.Value()] {
			return fmt.Errorf("page tree loop: %w", ErrMalformed)
		}
		seen[ref.ObjectNumber.Value()] = true
		if v, ok := node["MediaBox"]; ok {
			inh.media = v
		}
		if v, ok := node["CropBox"]; ok {
			inh.crop = v
		}
		if v, ok := node["Rotate"]; ok {
			inh.rotate = v
		}
		if v, ok := node["Resources"]; ok {
			inh.resources = v
		}
		typ := node.NameEntry("Type")
		kidsObj, hasKids := node["Kids"]
		if (typ != nil && *typ == "Page") || (typ == nil && !hasKids) {
			if len(d.pages) >= maxPages {
				return fmt.Errorf("more than %d pages: %w", maxPages, ErrTooManyPages)
			}
			p := page{ref: ref, dict: node, resources: inh.resources}
			media, err := d.rect(inh.media)
			if err != nil {
				return fmt.Errorf("page %d media box: %w", len(d.pages)+1, err)
			}
			p.media = media
			p.crop = media
			if inh.crop != nil {
				if crop, err := d.rect(inh.crop); err == nil {
					p.crop = crop
				}
			}
			if inh.rotate != nil {
				if o, err := d.xt.Dereference(inh.rotate); err == nil {
					if i, ok := o.(types.Integer); ok {
						p.rotate = ((i.Value() % 360) + 360) % 360
					}
				}
			}
			d.pages = append(d.pages, p)
			return nil
		}
		kids, err := d.xt.DereferenceArray(kidsObj)
		if err != nil {
			return fmt.Errorf("page tree kids: %w", ErrMalformed)
		}
		for _, k := range kids {
			kr, ok := k.(types.IndirectRef)
			if !ok {
				return fmt.Errorf("page tree kid: %w", ErrMalformed)
			}
			kd, err := d.xt.DereferenceDict(kr)
			if err != nil || kd == nil {
				return fmt.Errorf("page tree kid: %w", ErrMalformed)
			}
			if err := walk(kr, kd, inh, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(rootRef, root, inherited{}, 0); err != nil {
		return err
	}
	if len(d.pages) != *count {
		return fmt.Errorf("page count %d, page tree holds %d: %w", *count, len(d.pages), ErrMalformed)
	}
	return nil
}

func (d *document) rect(o types.Object) (Rect, error) {
	if o == nil {
		return Rect{}, fmt.Errorf("missing box: %w", ErrMalformed)
	}
	a, err := d.xt.DereferenceArray(o)
	if err != nil || len(a) != 4 {
		return Rect{}, fmt.Errorf("box: %w", ErrMalformed)
	}
	var v [4]float64
	for i, e := range a {
		f, err := d.xt.DereferenceNumber(e)
		if err != nil {
			return Rect{}, fmt.Errorf("box: %w", ErrMalformed)
		}
		v[i] = f
	}
	r := Rect{v[0], v[1], v[2], v[3]}.normalized()
	if r.Width() <= 0 || r.Height() <= 0 || r.Width() > 14400 || r.Height() > 14400 {
		return Rect{}, fmt.Errorf("box size: %w", ErrMalformed)
	}
	return r, nil
}
