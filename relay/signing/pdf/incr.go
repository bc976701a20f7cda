package pdf

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// increment builds one incremental update appended to a revision: new and
// rewritten objects, then a cross-reference section in the revision's style
// (classic table or xref stream) whose trailer points back with /Prev.
type increment struct {
	d       *document
	base    []byte
	buf     bytes.Buffer
	next    int
	offsets map[int]int64
	gens    map[int]int
}

func newIncrement(d *document) *increment {
	inc := &increment{d: d, base: d.buf, offsets: map[int]int64{}, gens: map[int]int{}}
	inc.next = *d.xt.Size
	if n := len(d.buf); n > 0 && d.buf[n-1] != '\n' && d.buf[n-1] != '\r' {
		inc.buf.WriteByte('\n')
	}
	return inc
}

// alloc reserves a new object number.
func (inc *increment) alloc() types.IndirectRef {
	n := inc.next
	inc.next++
	return *types.NewIndirectRef(n, 0)
}

func (inc *increment) pos() int64 { return int64(len(inc.base) + inc.buf.Len()) }

func (inc *increment) begin(ref types.IndirectRef) {
	nr, gen := ref.ObjectNumber.Value(), ref.GenerationNumber.Value()
	inc.offsets[nr] = inc.pos()
	inc.gens[nr] = gen
	fmt.Fprintf(&inc.buf, "%d %d obj\n", nr, gen)
}

// object writes ref as a direct object.
func (inc *increment) object(ref types.IndirectRef, o types.Object) {
	inc.begin(ref)
	inc.buf.WriteString(o.PDFString())
	inc.buf.WriteString("\nendobj\n")
}

// stream writes ref as a stream with dict (its /Length is set here).
func (inc *increment) stream(ref types.IndirectRef, dict types.Dict, data []byte) {
	dict = dict.Clone().(types.Dict)
	dict["Length"] = types.Integer(len(data))
	inc.begin(ref)
	inc.buf.WriteString(dict.PDFString())
	inc.buf.WriteString("\nstream\n")
	inc.buf.Write(data)
	inc.buf.WriteString("\nendstream\nendobj\n")
}

// raw writes ref with a preformatted body and returns the body's offset
// within the update buffer.
func (inc *increment) raw(ref types.IndirectRef, body string) int {
	inc.begin(ref)
	at := inc.buf.Len()
	inc.buf.WriteString(body)
	inc.buf.WriteString("\nendobj\n")
	return at
}

// prevXRef is the offset named by the revision's last startxref.
func prevXRef(buf []byte) (int64, error) {
	tail := buf
	if len(tail) > 2048 {
		tail = tail[len(tail)-2048:]
	}
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, fmt.Errorf("no startxref: %w", ErrMalformed)
	}
	rest := bytes.TrimLeft(tail[i+len("startxref"):], " \r\n\t\f")
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil || v <= 0 || v >= int64(len(buf)) {
		return 0, fmt.Errorf("startxref: %w", ErrMalformed)
	}
	return v, nil
}

// finish writes the cross-reference section and trailer and returns the
// complete new revision (base + update).
func (inc *increment) finish() ([]byte, error) {
	prev, err := prevXRef(inc.base)
	if err != nil {
		return nil, err
	}
	trailer := types.Dict{"Prev": types.Integer(prev), "Root": *inc.d.xt.Root}
	if inc.d.xt.Info != nil {
		trailer["Info"] = *inc.d.xt.Info
	}
	if len(inc.d.xt.ID) > 0 {
		trailer["ID"] = inc.d.xt.ID
	}
	var start int64
	if inc.d.xrefStream {
		xref := inc.alloc()
		trailer["Size"] = types.Integer(inc.next)
		start = inc.pos()
		inc.offsets[xref.ObjectNumber.Value()] = start
		inc.gens[xref.ObjectNumber.Value()] = 0
		nrs := inc.sorted()
		var index types.Array
		var data []byte
		for _, run := range runs(nrs) {
			index = append(index, types.Integer(run[0]), types.Integer(len(run)))
			for _, nr := range run {
				off := inc.offsets[nr]
				data = append(data, 1, byte(off>>24), byte(off>>16), byte(off>>8), byte(off), byte(inc.gens[nr]>>8), byte(inc.gens[nr]))
			}
		}
		trailer["Type"] = types.Name("XRef")
		trailer["W"] = types.Array{types.Integer(1), types.Integer(4), types.Integer(2)}
		trailer["Index"] = index
		if start >= 1<<32 {
			return nil, fmt.Errorf("file too large for the xref stream: %w", ErrTooLarge)
		}
		inc.stream(xref, trailer, data)
	} else {
		trailer["Size"] = types.Integer(inc.next)
		start = inc.pos()
		inc.buf.WriteString("xref\n")
		for _, run := range runs(inc.sorted()) {
			fmt.Fprintf(&inc.buf, "%d %d\n", run[0], len(run))
			for _, nr := range run {
				fmt.Fprintf(&inc.buf, "%010d %05d n\r\n", inc.offsets[nr], inc.gens[nr])
			}
		}
		inc.buf.WriteString("trailer\n")
		inc.buf.WriteString(trailer.PDFString())
		inc.buf.WriteString("\n")
	}
	fmt.Fprintf(&inc.buf, "startxref\n%d\n%%%%EOF\n", start)
	out := make([]byte, 0, len(inc.base)+inc.buf.Len())
	out = append(out, inc.base...)
	return append(out, inc.buf.Bytes()...), nil
}

func (inc *increment) sorted() []int {
	nrs := make([]int, 0, len(inc.offsets))
	for nr := range inc.offsets {
		nrs = append(nrs, nr)
	}
	sort.Ints(nrs)
	return nrs
}

// runs splits sorted object numbers into consecutive runs.
func runs(nrs []int) [][]int {
	var out [][]int
	for i, nr := range nrs {
		if i == 0 || nr != nrs[i-1]+1 {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], nr)
	}
	return out
}
