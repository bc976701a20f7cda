package pdf

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"parley/relay/clock"
)

// Seal closes a document whose signers have all signed: one last
// incremental update appends the audit-trail page (every step's role,
// channel, time in UTC and signed digest, the original's SHA-256) and a
// final seal signature, invisible, over the whole file. The audit page
// holds only roles, channels, times, hashes and the seal certificate's
// subject: no personal data.
func Seal(in []byte, plan *Plan, key crypto.Signer, chain []*x509.Certificate, clk clock.Clock) ([]byte, error) {
	if _, err := checkKey(key, chain); err != nil {
		return nil, fmt.Errorf("pdf: seal: %w", err)
	}
	if err := checkRevision(plan, in); err != nil {
		return nil, fmt.Errorf("pdf: seal: %w", err)
	}
	doc, err := parse(in, Limits{MaxBytes: int64(len(in)) + 1})
	if err != nil {
		return nil, fmt.Errorf("pdf: seal: %w", err)
	}
	steps, sealed, err := doc.progress(plan)
	if err != nil {
		return nil, fmt.Errorf("pdf: seal: %w", err)
	}
	if sealed {
		return nil, fmt.Errorf("pdf: seal: %w", ErrSealed)
	}
	if len(steps) != len(plan.Order) {
		return nil, fmt.Errorf("pdf: seal: %d of %d steps signed: %w", len(steps), len(plan.Order), ErrIncomplete)
	}
	lines, err := doc.auditLines(plan, chain[0], clock.Or(clk).Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("pdf: seal: %w", err)
	}
	now := clock.Or(clk).Now().UTC()
	u := newUpdate(doc)
	pageRef := u.inc.alloc()
	u.widget(-1, invisibleWidget(pageRef))
	var ops strings.Builder
	ops.WriteString("BT 0 g\n")
	y := 790.0
	for i, l := range lines {
		size := 9.0
		if i == 0 {
			size = 14
		}
		fmt.Fprintf(&ops, "/F1 %s Tf 1 0 0 1 50 %s Tm %s Tj\n", num(size), num(y), pdfText(l))
		y -= size + 5
		if y < 40 {
			break
		}
	}
	ops.WriteString("ET\n")
	content := u.inc.alloc()
	u.inc.stream(content, types.Dict{"Filter": types.Name("FlateDecode")}, deflate([]byte(ops.String())))
	a4 := types.Array{types.Integer(0), types.Integer(0), types.Float(595.276), types.Float(841.89)}
	rootRef, err := doc.pagesRoot()
	if err != nil {
		return nil, fmt.Errorf("pdf: seal: %w", err)
	}
	u.newPage = &newPage{ref: pageRef, dict: types.Dict{
		"Type":      types.Name("Page"),
		"Parent":    rootRef,
		"MediaBox":  a4,
		"CropBox":   a4,
		"Rotate":    types.Integer(0),
		"Resources": types.Dict{"Font": types.Dict{"F1": u.fontRef()}},
		"Contents":  content,
	}}
	root, err := doc.xt.DereferenceDict(rootRef)
	if err != nil || root == nil {
		return nil, fmt.Errorf("pdf: seal: page tree: %w", ErrMalformed)
	}
	root = root.Clone().(types.Dict)
	kids, err := doc.xt.DereferenceArray(root["Kids"])
	if err != nil {
		return nil, fmt.Errorf("pdf: seal: page tree: %w", ErrMalformed)
	}
	root["Kids"] = append(append(types.Array{}, kids...), pageRef)
	root["Count"] = types.Integer(len(doc.pages) + 1)
	u.inc.object(rootRef, root)

	parley := types.Dict{
		"Kind":           types.Name("Seal"),
		"OriginalSHA256": types.NewHexLiteral(plan.OriginalSHA256),
	}
	out, err := u.sign("Parley.Seal", parley, now, key, chain)
	if err != nil {
		return nil, fmt.Errorf("pdf: seal: %w", err)
	}
	return out, nil
}

func (d *document) pagesRoot() (types.IndirectRef, error) {
	cat, err := d.xt.Catalog()
	if err != nil {
		return types.IndirectRef{}, fmt.Errorf("catalog: %w", ErrMalformed)
	}
	r, ok := cat["Pages"].(types.IndirectRef)
	if !ok {
		return types.IndirectRef{}, fmt.Errorf("page tree root: %w", ErrMalformed)
	}
	return r, nil
}

// auditLines renders the audit trail from the signed steps themselves.
func (d *document) auditLines(plan *Plan, seal *x509.Certificate, now time.Time) ([]string, error) {
	sigs, err := d.signatures()
	if err != nil {
		return nil, err
	}
	lines := []string{
		"Signature audit trail",
		"",
		"Original document SHA-256: " + hex.EncodeToString(plan.OriginalSHA256),
		fmt.Sprintf("Original document size: %d bytes, %d page(s)", plan.OriginalSize, len(d.pages)),
		fmt.Sprintf("Signing order: %s", strings.Join(plan.Order, ", ")),
		"",
	}
	for _, s := range sigs {
		p, ok := d.parley(s.v)
		if !ok || p.kind != "Step" {
			continue
		}
		br, _, err := byteRange(d.buf, s.v)
		if err != nil {
			return nil, fmt.Errorf("step %d: %s: %w", p.step, err.Error(), ErrMalformed)
		}
		when := "unknown"
		if m, err := s.v.StringEntryBytes("M"); err == nil {
			if t, ok := parsePDFDate(string(m)); ok {
				when = t.Format("2006-01-02 15:04:05") + " UTC"
			}
		}
		lines = append(lines,
			fmt.Sprintf("Step %d: signer role %s, channel %s, signed %s", p.step, p.role, p.channel, when),
			"    Signed revision SHA-256: "+hex.EncodeToString(rangeDigest(d.buf, br)),
		)
		if p.envelope != nil {
			lines = append(lines, "    Signature dynamics (encrypted) SHA-256: "+hex.EncodeToString(p.envelope))
		} else {
			lines = append(lines, "    Signature dynamics: none recorded")
		}
	}
	lines = append(lines, "",
		fmt.Sprintf("Sealed %s UTC with the seal certificate of %s", now.Format("2006-01-02 15:04:05"), sealName(seal)),
		"Each step and this page are covered by PAdES signatures (incremental updates).",
	)
	return lines, nil
}

func sealName(c *x509.Certificate) string {
	if len(c.Subject.Organization) > 0 {
		return c.Subject.Organization[0]
	}
	return c.Subject.CommonName
}
