package whiteboard

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeOp: decoding never panics; what it accepts re-encodes to an op
// that decodes to the same thing and that a board either applies or
// refuses with one of the package's errors.
func FuzzDecodeOp(f *testing.F) {
	for _, s := range []string{
		`{"kind":"stroke","id":"0123456789abcdef0123456789abcdef","page":1,"tool":"pen","color":"#1f4e79","width":0.004,"points":[0.1,0.2,0.3,0.4],"pressure":[0.5,1]}`,
		`{"kind":"shape","id":"0123456789abcdef0123456789abcdef","page":2,"shape":"arrow","color":"#C00000","width":0.01,"points":[0,0,1,1]}`,
		`{"kind":"text","id":"0123456789abcdef0123456789abcdef","page":1,"color":"#000000","size":0.03,"points":[0.5,0.5],"text":"Zins\n3,1 %"}`,
		`{"kind":"erase","ids":["0123456789abcdef0123456789abcdef"]}`,
		`{"kind":"clear","page":1}`,
		`{"kind":"undo"}`, `{"kind":"redo"}`,
		`{"kind":"pointer","doc":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","page":3,"points":[0.5,0.5]}`,
		`{"kind":"background","doc":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","page":2}`,
		`{"kind":"stroke","points":[1e400]}`,
		`{"kind":"undo","seq":4}`,
		`{"kind":"undo"} {}`,
		`{"kind":"stroke","id":"0123456789abcdef0123456789abcdef","page":1,"tool":"pen","color":"#000000","width":0.004,"points":[NaN,0]}`,
		`{"kind":"text","text":"\u202e"}`,
		`{"kind":"clear","page":-9223372036854775808}`,
		`[]`, `null`, `"\xff"`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, nil, Options{})
	b := e.open(meetingA)
	f.Fuzz(func(t *testing.T, data []byte) {
		op, err := DecodeOp(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrBadPage) {
				t.Fatalf("error %v is not a sentinel", err)
			}
			return
		}
		if !utf8.ValidString(op.Text) || len(op.Points)%2 != 0 || op.Seq != 0 {
			t.Fatalf("accepted %+v", op)
		}
		raw, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeOp(raw)
		if err != nil || !strings.EqualFold(jsonOf(t, again), string(raw)) {
			t.Fatalf("round trip: %v\n%s\n%s", err, raw, jsonOf(t, again))
		}
		a := customer
		if op.Kind == KindBackground {
			a = advisor
		}
		acc, err := b.Apply(context.Background(), a, op)
		if err == nil {
			if op.Kind != KindPointer && acc.Seq == 0 {
				t.Fatalf("accepted without a seq: %+v", acc)
			}
			return
		}
		for _, want := range append(expected, ErrDuplicateID, ErrUnknownDocument, ErrInvalid, ErrTooLarge, ErrBoardFull, ErrPageFull) {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("apply: %v", err)
	})
}
