package pdf

import (
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"parley/relay/clock"
)

// Step is one signer's contribution, signed and sealed by SignStep.
type Step struct {
	// Role is the signer's role; it must be the next entry of Plan.Order.
	Role string
	// Channel says how the signer took part: a short token such as
	// "kiosk", "meeting" or "remote" (same syntax as field ids).
	Channel string
	// Images maps each of the role's signature field ids to a PNG of the
	// signature's appearance. Every signature field needs one.
	Images map[string][]byte
	// Texts maps the role's text field ids to their values; fields left out
	// stay empty.
	Texts map[string]string
	// Envelope is the signer's encrypted biometric envelope (opaque bytes),
	// embedded as a file and bound to the step's signature; may be empty.
	Envelope []byte
}

// MaxEnvelope is the largest accepted biometric envelope, in bytes.
const MaxEnvelope = 16 << 20

// sigField is a signed signature field found in a document.
type sigField struct {
	name string
	v    types.Dict
}

// parleyInfo is what Parley records about a signature in its dictionary.
type parleyInfo struct {
	kind     string // "Step" or "Seal"
	step     int
	role     string
	channel  string
	envelope []byte // SHA-256, nil if none
	envRef   *types.IndirectRef
	original []byte
}

func (d *document) parley(v types.Dict) (parleyInfo, bool) {
	o, ok := v["Parley"]
	if !ok {
		return parleyInfo{}, false
	}
	p, err := d.xt.DereferenceDict(o)
	if err != nil || p == nil {
		return parleyInfo{}, false
	}
	var info parleyInfo
	if n := p.NameEntry("Kind"); n != nil {
		info.kind = *n
	}
	if i := p.IntEntry("Step"); i != nil {
		info.step = *i
	}
	str := func(k string) string {
		b, _ := p.StringEntryBytes(k)
		return string(b)
	}
	info.role, info.channel = str("Role"), str("Channel")
	if b, err := p.StringEntryBytes("EnvelopeSHA256"); err == nil && len(b) > 0 {
		info.envelope = b
	}
	if b, err := p.StringEntryBytes("OriginalSHA256"); err == nil {
		info.original = b
	}
	if r, ok := p["Envelope"].(types.IndirectRef); ok {
		info.envRef = &r
	}
	return info, true
}

// signatures lists the signature fields that hold a signature dictionary,
// in the order of the AcroForm's field tree.
func (d *document) signatures() ([]sigField, error) {
	cat, err := d.xt.Catalog()
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", ErrMalformed)
	}
	ao, ok := cat["AcroForm"]
	if !ok {
		return nil, nil
	}
	acro, err := d.xt.DereferenceDict(ao)
	if err != nil || acro == nil {
		return nil, nil
	}
	fields, err := d.xt.DereferenceArray(acro["Fields"])
	if err != nil {
		return nil, nil
	}
	var out []sigField
	seen := map[int]bool{}
	budget := 10000
	var walk func(list types.Array, ft string, depth int) error
	walk = func(list types.Array, ft string, depth int) error {
		if depth > maxTreeDepth {
			return fmt.Errorf("form field tree too deep: %w", ErrMalformed)
		}
		for _, o := range list {
			if budget--; budget < 0 {
				return fmt.Errorf("too many form fields: %w", ErrMalformed)
			}
			if r, ok := o.(types.IndirectRef); ok {
				if seen[r.ObjectNumber.Value()] {
					continue
				}
				seen[r.ObjectNumber.Value()] = true
			}
			f, err := d.xt.DereferenceDict(o)
			if err != nil || f == nil {
				continue
			}
			fft := ft
			if n := f.NameEntry("FT"); n != nil {
				fft = *n
			}
			if fft == "Sig" {
				if vo, ok := f["V"]; ok {
					if v, err := d.xt.DereferenceDict(vo); err == nil && v != nil {
						name, _ := f.StringEntryBytes("T")
						out = append(out, sigField{name: string(name), v: v})
						continue
					}
				}
			}
			if kids, ok := f["Kids"]; ok {
				if ka, err := d.xt.DereferenceArray(kids); err == nil {
					if err := walk(ka, fft, depth+1); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if err := walk(fields, "", 0); err != nil {
		return nil, err
	}
	return out, nil
}

// checkRevision makes sure in is a revision of the plan's original.
func checkRevision(plan *Plan, in []byte) error {
	if plan == nil || plan.OriginalSize <= 0 || int64(len(in)) < plan.OriginalSize {
		return ErrWrongDocument
	}
	sum := sha256.Sum256(in[:plan.OriginalSize])
	if !bytes.Equal(sum[:], plan.OriginalSHA256) {
		return ErrWrongDocument
	}
	return nil
}

// progress returns how many Parley steps the document holds and whether it
// is sealed, checking that the steps follow the plan's order.
func (d *document) progress(plan *Plan) (steps []parleyInfo, sealed bool, err error) {
	sigs, err := d.signatures()
	if err != nil {
		return nil, false, err
	}
	for _, s := range sigs {
		p, ok := d.parley(s.v)
		if !ok {
			continue
		}
		switch p.kind {
		case "Seal":
			sealed = true
		case "Step":
			if p.step != len(steps)+1 || p.step > len(plan.Order) || plan.Order[p.step-1] != p.role {
				return nil, false, fmt.Errorf("recorded steps do not follow the plan: %w", ErrWrongDocument)
			}
			steps = append(steps, p)
		}
	}
	return steps, sealed, nil
}

// SignStep appends the next signer's step to in (the original or the
// previous step's output) as one incremental update signed with the
// tenant's seal: key and chain (leaf first). The update draws the
// appearance images into the role's signature fields, stamps the text
// values into the page content, embeds the envelope and carries a PAdES
// signature whose byte range covers the whole revision, so the envelope
// and its SHA-256 (in the signature dictionary) are bound to the signed
// hash. clk supplies the signing time (/M); nil means the wall clock.
func SignStep(in []byte, plan *Plan, step Step, key crypto.Signer, chain []*x509.Certificate, clk clock.Clock) ([]byte, error) {
	if _, err := checkKey(key, chain); err != nil {
		return nil, fmt.Errorf("pdf: sign step: %w", err)
	}
	if err := checkRevision(plan, in); err != nil {
		return nil, fmt.Errorf("pdf: sign step: %w", err)
	}
	doc, err := parse(in, Limits{MaxBytes: int64(len(in)) + 1})
	if err != nil {
		return nil, fmt.Errorf("pdf: sign step: %w", err)
	}
	steps, sealed, err := doc.progress(plan)
	if err != nil {
		return nil, fmt.Errorf("pdf: sign step: %w", err)
	}
	if sealed {
		return nil, fmt.Errorf("pdf: sign step: %w", ErrSealed)
	}
	n := len(steps) + 1
	if n > len(plan.Order) || plan.Order[n-1] != step.Role {
		return nil, fmt.Errorf("pdf: sign step %d: %w", n, ErrOutOfOrder)
	}
	fields, err := checkStep(plan, step)
	if err != nil {
		return nil, fmt.Errorf("pdf: sign step %d: %w", n, err)
	}
	for _, f := range fields {
		if f.Page > len(doc.pages) {
			return nil, fmt.Errorf("pdf: sign step %d: field %s: %w", n, f.ID, ErrWrongDocument)
		}
	}
	now := clock.Or(clk).Now().UTC()
	u := newUpdate(doc)

	var textOpsByPage = map[int]*strings.Builder{}
	for _, f := range fields {
		switch f.Kind {
		case KindSignature:
			img, w, h, err := u.inc.image(step.Images[f.ID])
			if err != nil {
				return nil, fmt.Errorf("pdf: sign step %d: field %s: %w", n, f.ID, err)
			}
			ap := u.inc.appearance(f.Rect, img, w, h)
			annot := types.Dict{
				"Type":    types.Name("Annot"),
				"Subtype": types.Name("Widget"),
				"Rect":    rectArray(f.Rect),
				"P":       doc.pages[f.Page-1].ref,
				"F":       types.Integer(4),
				"AP":      types.Dict{"N": ap},
			}
			if len(u.widgets) == 0 {
				u.widget(f.Page-1, annot)
				continue
			}
			// Further signature fields of the same signer: the signature
			// (one per step) lives in the first field; these show the
			// same appearance as locked stamp annotations inside the
			// signed revision (a signature field with several widgets is
			// reported unsigned by poppler).
			annot["Subtype"] = types.Name("Stamp")
			annot["F"] = types.Integer(4 | 128)
			annot["Contents"] = types.StringLiteral(fmt.Sprintf("Signature appearance, signing step %d", n))
			ref := u.inc.alloc()
			u.inc.object(ref, annot)
			u.annot(f.Page-1, ref)
		case KindText:
			v := step.Texts[f.ID]
			if v == "" {
				continue
			}
			b := textOpsByPage[f.Page-1]
			if b == nil {
				b = &strings.Builder{}
				textOpsByPage[f.Page-1] = b
			}
			b.WriteString(textOps(stampFont, f.Rect, v))
		}
	}
	pagesWithText := make([]int, 0, len(textOpsByPage))
	for p := range textOpsByPage {
		pagesWithText = append(pagesWithText, p)
	}
	sort.Ints(pagesWithText)
	for _, p := range pagesWithText {
		u.stamp(p, textOpsByPage[p].String())
	}
	if len(u.widgets) == 0 {
		u.widget(0, invisibleWidget(doc.pages[0].ref))
	}

	parley := types.Dict{
		"Kind":           types.Name("Step"),
		"Step":           types.Integer(n),
		"Role":           types.StringLiteral(step.Role),
		"Channel":        types.StringLiteral(step.Channel),
		"OriginalSHA256": types.NewHexLiteral(plan.OriginalSHA256),
	}
	if len(step.Envelope) > 0 {
		fs, sum := u.envelope(n, step.Envelope, now)
		parley["Envelope"] = fs
		parley["EnvelopeSHA256"] = types.NewHexLiteral(sum)
	}
	name := fmt.Sprintf("Parley.Step%d.%s", n, step.Role)
	out, err := u.sign(name, parley, now, key, chain)
	if err != nil {
		return nil, fmt.Errorf("pdf: sign step %d: %w", n, err)
	}
	return out, nil
}

// checkStep validates step against the plan and returns the role's fields.
func checkStep(plan *Plan, step Step) ([]Field, error) {
	if !validID(step.Channel) {
		return nil, fmt.Errorf("channel empty or malformed: %w", ErrInvalidStep)
	}
	if len(step.Envelope) > MaxEnvelope {
		return nil, fmt.Errorf("envelope larger than %d bytes: %w", MaxEnvelope, ErrInvalidStep)
	}
	fields := plan.fieldsOf(step.Role)
	byID := map[string]Field{}
	for _, f := range fields {
		byID[f.ID] = f
		if f.Kind == KindSignature && len(step.Images[f.ID]) == 0 {
			return nil, fmt.Errorf("signature field %s has no appearance image: %w", f.ID, ErrInvalidStep)
		}
	}
	for id := range step.Images {
		if f, ok := byID[id]; !ok || f.Kind != KindSignature {
			return nil, fmt.Errorf("image for a field that is not one of the signer's signature fields: %w", ErrInvalidStep)
		}
	}
	for id, v := range step.Texts {
		if f, ok := byID[id]; !ok || f.Kind != KindText {
			return nil, fmt.Errorf("value for a field that is not one of the signer's text fields: %w", ErrInvalidStep)
		}
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > MaxTextValue {
			return nil, fmt.Errorf("text field %s: value not UTF-8 or longer than %d characters: %w", id, MaxTextValue, ErrInvalidStep)
		}
	}
	return fields, nil
}

// pdfDate formats t for /M.
func pdfDate(t time.Time) string {
	return t.UTC().Format("D:20060102150405") + "+00'00'"
}

// parsePDFDate reads the forms pdfDate writes and the common variants.
func parsePDFDate(s string) (time.Time, bool) {
	s = strings.TrimPrefix(s, "D:")
	if len(s) < 14 {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102150405", s[:14])
	if err != nil {
		return time.Time{}, false
	}
	rest := s[14:]
	if len(rest) >= 3 && (rest[0] == '+' || rest[0] == '-') {
		var hh, mm int
		fmt.Sscanf(strings.ReplaceAll(rest[1:], "'", " "), "%d %d", &hh, &mm)
		off := time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute
		if rest[0] == '+' {
			t = t.Add(-off)
		} else {
			t = t.Add(off)
		}
	}
	return t.UTC(), true
}

const stampFont = "ParleyHelv"

// update collects the page and catalog changes of one incremental update.
type update struct {
	doc   *document
	inc   *increment
	pages map[int]*pageChange
	files []types.IndirectRef // file specifications to attach
	font  *types.IndirectRef
	// widgets holds the signature field's widget (exactly one); page -1
	// is the page this update adds.
	widgets []pendingWidget
	// extraAnnots are annotations for the page being added (page -1).
	extraAnnots types.Array
	// newPage, if set, is a page added by this update (written by sign
	// with extraAnnots as its /Annots).
	newPage *newPage
}

type newPage struct {
	ref  types.IndirectRef
	dict types.Dict
}

type pendingWidget struct {
	page int
	dict types.Dict
}

type pageChange struct {
	annots  types.Array
	content []types.IndirectRef
}

func newUpdate(doc *document) *update {
	return &update{doc: doc, inc: newIncrement(doc), pages: map[int]*pageChange{}}
}

func (u *update) page(i int) *pageChange {
	pc := u.pages[i]
	if pc == nil {
		pc = &pageChange{}
		u.pages[i] = pc
	}
	return pc
}

func (u *update) annot(page int, ref types.IndirectRef) {
	if page < 0 {
		u.extraAnnots = append(u.extraAnnots, ref)
		return
	}
	pc := u.page(page)
	pc.annots = append(pc.annots, ref)
}

func (u *update) fontRef() types.IndirectRef {
	if u.font == nil {
		r := u.inc.helvetica()
		u.font = &r
	}
	return *u.font
}

// stamp adds ops to a page's content, after the existing content wrapped
// in q/Q so that its graphics state cannot leak into ours.
func (u *update) stamp(page int, ops string) {
	u.fontRef()
	pre := u.inc.alloc()
	u.inc.stream(pre, types.Dict{}, []byte("q\n"))
	post := u.inc.alloc()
	u.inc.stream(post, types.Dict{"Filter": types.Name("FlateDecode")}, deflate([]byte("Q\n"+ops)))
	pc := u.page(page)
	pc.content = append(pc.content, pre, post)
}

// invisibleWidget is the widget of a signature without appearance.
func invisibleWidget(pageRef types.IndirectRef) types.Dict {
	return types.Dict{
		"Type":    types.Name("Annot"),
		"Subtype": types.Name("Widget"),
		"Rect":    types.Array{types.Integer(0), types.Integer(0), types.Integer(0), types.Integer(0)},
		"P":       pageRef,
		"F":       types.Integer(132), // Print | Locked
	}
}

// widget queues a widget annotation of the update's signature field.
func (u *update) widget(page int, d types.Dict) {
	u.widgets = append(u.widgets, pendingWidget{page: page, dict: d})
}

// envelope embeds the envelope as a file and returns its file
// specification and SHA-256.
func (u *update) envelope(step int, env []byte, now time.Time) (types.IndirectRef, []byte) {
	sum := sha256.Sum256(env)
	m := md5.Sum(env) // /CheckSum is defined as MD5 by ISO 32000
	ef := u.inc.alloc()
	u.inc.stream(ef, types.Dict{
		"Type":    types.Name("EmbeddedFile"),
		"Subtype": types.Name("application/octet-stream"),
		"Params": types.Dict{
			"Size":     types.Integer(len(env)),
			"CheckSum": types.NewHexLiteral(m[:]),
			"ModDate":  types.StringLiteral(pdfDate(now)),
		},
	}, env)
	name := fmt.Sprintf("parley-signature-dynamics-step%d.bin", step)
	fs := u.inc.alloc()
	u.inc.object(fs, types.Dict{
		"Type":           types.Name("Filespec"),
		"F":              types.StringLiteral(name),
		"UF":             types.StringLiteral(name),
		"EF":             types.Dict{"F": ef},
		"AFRelationship": types.Name("Supplement"),
		"Desc":           types.StringLiteral(fmt.Sprintf("Encrypted signature dynamics of signing step %d (SHA-256 %s)", step, hex.EncodeToString(sum[:]))),
	})
	u.files = append(u.files, fs)
	return fs, sum[:]
}

// writePages rewrites every changed page dictionary.
func (u *update) writePages() error {
	idx := make([]int, 0, len(u.pages))
	for i := range u.pages {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		pc := u.pages[i]
		pg := u.doc.pages[i]
		d := pg.dict.Clone().(types.Dict)
		if len(pc.annots) > 0 {
			var annots types.Array
			if a, ok := d["Annots"]; ok {
				existing, err := u.doc.xt.DereferenceArray(a)
				if err != nil {
					return fmt.Errorf("page %d annotations: %w", i+1, ErrMalformed)
				}
				annots = append(annots, existing...)
			}
			d["Annots"] = append(annots, pc.annots...)
		}
		if len(pc.content) > 0 {
			contents := types.Array{pc.content[0]}
			if c, ok := d["Contents"]; ok {
				switch c := c.(type) {
				case types.IndirectRef:
					o, err := u.doc.xt.Dereference(c)
					if err != nil {
						return fmt.Errorf("page %d contents: %w", i+1, ErrMalformed)
					}
					if a, ok := o.(types.Array); ok {
						contents = append(contents, a...)
					} else {
						contents = append(contents, c)
					}
				case types.Array:
					contents = append(contents, c...)
				}
			}
			for _, r := range pc.content[1:] {
				contents = append(contents, r)
			}
			d["Contents"] = contents
			// Resources: the effective (possibly inherited) dictionary,
			// copied into the page with our font added.
			res := types.Dict{}
			if pg.resources != nil {
				r, err := u.doc.xt.DereferenceDict(pg.resources)
				if err != nil {
					return fmt.Errorf("page %d resources: %w", i+1, ErrMalformed)
				}
				if r != nil {
					res = r.Clone().(types.Dict)
				}
			}
			fonts := types.Dict{}
			if fo, ok := res["Font"]; ok {
				f, err := u.doc.xt.DereferenceDict(fo)
				if err != nil {
					return fmt.Errorf("page %d fonts: %w", i+1, ErrMalformed)
				}
				if f != nil {
					fonts = f.Clone().(types.Dict)
				}
			}
			fonts[stampFont] = u.fontRef()
			res["Font"] = fonts
			d["Resources"] = res
		}
		u.inc.object(pg.ref, d)
	}
	return nil
}

// writeCatalog rewrites the catalog with the new signature field in the
// AcroForm and the embedded files in /Names /EmbeddedFiles and /AF.
func (u *update) writeCatalog(field types.IndirectRef, fileNames []string, extra func(types.Dict)) error {
	xt := u.doc.xt
	cat, err := xt.Catalog()
	if err != nil {
		return fmt.Errorf("catalog: %w", ErrMalformed)
	}
	cat = cat.Clone().(types.Dict)
	acro := types.Dict{}
	if ao, ok := cat["AcroForm"]; ok {
		a, err := xt.DereferenceDict(ao)
		if err != nil {
			return fmt.Errorf("acroform: %w", ErrMalformed)
		}
		if a != nil {
			acro = a.Clone().(types.Dict)
		}
	}
	var fields types.Array
	if fo, ok := acro["Fields"]; ok {
		f, err := xt.DereferenceArray(fo)
		if err != nil {
			return fmt.Errorf("acroform fields: %w", ErrMalformed)
		}
		fields = append(fields, f...)
	}
	acro["Fields"] = append(fields, field)
	acro["SigFlags"] = types.Integer(3) // SignaturesExist | AppendOnly
	cat["AcroForm"] = acro
	if len(u.files) > 0 {
		var af types.Array
		if ao, ok := cat["AF"]; ok {
			if a, err := xt.DereferenceArray(ao); err == nil {
				af = append(af, a...)
			}
		}
		cat["AF"] = append(af, toObjects(u.files)...)
		if err := u.addEmbeddedFiles(cat, fileNames); err != nil {
			return err
		}
	}
	if extra != nil {
		extra(cat)
	}
	u.inc.object(*xt.Root, cat)
	return nil
}

func toObjects(refs []types.IndirectRef) types.Array {
	out := make(types.Array, len(refs))
	for i, r := range refs {
		out[i] = r
	}
	return out
}

// addEmbeddedFiles adds u.files to a flat /EmbeddedFiles name tree, or
// starts one. A name tree with intermediate nodes is left alone (the files
// stay reachable through /AF and the signature dictionary).
func (u *update) addEmbeddedFiles(cat types.Dict, names []string) error {
	xt := u.doc.xt
	nd := types.Dict{}
	if no, ok := cat["Names"]; ok {
		n, err := xt.DereferenceDict(no)
		if err != nil {
			return fmt.Errorf("names: %w", ErrMalformed)
		}
		if n != nil {
			nd = n.Clone().(types.Dict)
		}
	}
	type entry struct {
		key string
		val types.Object
	}
	var entries []entry
	if eo, ok := nd["EmbeddedFiles"]; ok {
		e, err := xt.DereferenceDict(eo)
		if err != nil || e == nil {
			return nil
		}
		if _, ok := e["Kids"]; ok {
			return nil
		}
		arr, err := xt.DereferenceArray(e["Names"])
		if err != nil {
			return nil
		}
		for i := 0; i+1 < len(arr); i += 2 {
			k, err := xt.DereferenceStringOrHexLiteral(arr[i], 0, nil)
			if err != nil {
				return nil
			}
			entries = append(entries, entry{k, arr[i+1]})
		}
	}
	for i, f := range u.files {
		entries = append(entries, entry{names[i], f})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	var arr types.Array
	for _, e := range entries {
		arr = append(arr, types.StringLiteral(escapeLiteral(e.key)), e.val)
	}
	nd["EmbeddedFiles"] = types.Dict{"Names": arr}
	cat["Names"] = nd
	return nil
}

func escapeLiteral(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`, "\r", `\r`, "\n", `\n`)
	return r.Replace(s)
}

// Signature dictionary placeholders.
const (
	byteRangePlaceholder = "[0 0000000000 0000000000 0000000000]"
)

// sign writes the field, the signature dictionary, the changed pages and
// catalog, finishes the update and fills in /ByteRange and /Contents.
func (u *update) sign(name string, parley types.Dict, now time.Time, key crypto.Signer, chain []*x509.Certificate) ([]byte, error) {
	fieldRef, sigRef := u.inc.alloc(), u.inc.alloc()
	field := types.Dict{
		"FT": types.Name("Sig"),
		"T":  types.StringLiteral(name),
		"V":  sigRef,
	}
	if len(u.widgets) != 1 {
		return nil, fmt.Errorf("internal: %d widgets for one signature field", len(u.widgets))
	}
	// Field and widget merged in one dictionary, the layout every
	// validator reads.
	for k, v := range u.widgets[0].dict {
		field[k] = v
	}
	u.annot(u.widgets[0].page, fieldRef)
	u.inc.object(fieldRef, field)
	if u.newPage != nil {
		u.newPage.dict["Annots"] = u.extraAnnots
		u.inc.object(u.newPage.ref, u.newPage.dict)
	}
	var fileNames []string
	for i := range u.files {
		fileNames = append(fileNames, fmt.Sprintf("%s.dynamics%d.bin", name, i+1))
	}
	if err := u.writePages(); err != nil {
		return nil, err
	}
	if err := u.writeCatalog(fieldRef, fileNames, nil); err != nil {
		return nil, err
	}
	hexLen := 2 * cmsSize(chain)
	body := fmt.Sprintf("<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /M %s /Prop_Build << /App << /Name /Parley >> /Filter << /Name /Adobe.PPKLite >> >> /Parley %s /ByteRange %s /Contents <%s> >>",
		types.StringLiteral(pdfDate(now)).PDFString(), parley.PDFString(), byteRangePlaceholder, strings.Repeat("0", hexLen))
	at := u.inc.raw(sigRef, body)
	brAt := int64(len(u.inc.base) + at + strings.Index(body, byteRangePlaceholder))
	cStart := int64(len(u.inc.base) + at + strings.LastIndex(body, "<"))
	cEnd := cStart + int64(hexLen) + 2
	out, err := u.inc.finish()
	if err != nil {
		return nil, err
	}
	total := int64(len(out))
	br := fmt.Sprintf("[0 %d %d %d]", cStart, cEnd, total-cEnd)
	if len(br) > len(byteRangePlaceholder) {
		return nil, fmt.Errorf("byte range does not fit: %w", ErrTooLarge)
	}
	copy(out[brAt:], br+strings.Repeat(" ", len(byteRangePlaceholder)-len(br)))
	h := sha256.New()
	h.Write(out[:cStart])
	h.Write(out[cEnd:])
	cms, err := signCMS(h.Sum(nil), key, chain)
	if err != nil {
		return nil, err
	}
	enc := hex.EncodeToString(cms)
	if len(enc) > hexLen {
		return nil, fmt.Errorf("signature larger than its placeholder: %w", ErrKey)
	}
	copy(out[cStart+1:], enc)
	return out, nil
}
