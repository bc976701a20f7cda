package browser_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"parley/signpad"
	"parley/signpad/browser"
)

var received = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

const penDoc = `{"v":1,"pointerType":"pen","pointerId":3,"field":{"width":600,"height":200},"events":[
 {"type":"move","t":1000.0,"x":10,"y":20,"pressure":0,"tiltX":5,"tiltY":-5},
 {"type":"down","t":1004.25,"x":10.5,"y":20.25,"pressure":0.5,"tiltX":10,"tiltY":-12},
 {"type":"move","t":1012.5,"x":14,"y":22,"pressure":0.6,"tiltX":11,"tiltY":-12,"coalesced":[
   {"t":1008.0,"x":12,"y":21,"pressure":0.55,"tiltX":10,"tiltY":-12},
   {"t":1012.5,"x":14,"y":22,"pressure":0.6,"tiltX":11,"tiltY":-12}]},
 {"type":"up","t":1016.0,"x":15,"y":22,"pressure":0}
]}`

func TestDecodePen(t *testing.T) {
	sig, err := browser.Decode(strings.NewReader(penDoc), received)
	if err != nil {
		t.Fatal(err)
	}
	want := []signpad.Sample{
		{T: 0, X: 1000, Y: 2000, TiltX: 5, TiltY: -5},
		{T: 4250, X: 1050, Y: 2025, Pressure: 32768, TiltX: 10, TiltY: -12, Down: true},
		{T: 8000, X: 1200, Y: 2100, Pressure: 36044, TiltX: 10, TiltY: -12, Down: true},
		{T: 12500, X: 1400, Y: 2200, Pressure: 39321, TiltX: 11, TiltY: -12, Down: true},
		{T: 16000, X: 1500, Y: 2200},
	}
	if fmt.Sprint(sig.Samples) != fmt.Sprint(want) {
		t.Fatalf("samples\n got %+v\nwant %+v", sig.Samples, want)
	}
	if !sig.Device.Caps.Has(signpad.CapPressure|signpad.CapTilt) || sig.Device.X.Max != 60000 || sig.Device.Source != "browser" {
		t.Errorf("device %+v", sig.Device)
	}
	if !sig.Start.Equal(received) {
		t.Errorf("start %v", sig.Start)
	}
}

func TestMouseHasNoPressure(t *testing.T) {
	doc := `{"v":1,"pointerType":"mouse","pointerId":1,"field":{"width":100,"height":100},"events":[
	 {"type":"down","t":1,"x":1,"y":1,"pressure":0.5},{"type":"move","t":2,"x":2,"y":2,"pressure":0.5},{"type":"up","t":3,"x":3,"y":3}]}`
	sig, err := browser.Decode(strings.NewReader(doc), received)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Device.Caps.Has(signpad.CapPressure) || sig.Samples[1].Pressure != 0 {
		t.Errorf("a mouse's fixed 0.5 pressure was taken as measured: %+v", sig.Samples[1])
	}
}

func TestStrictValidation(t *testing.T) {
	repl := func(old, new string) string {
		if !strings.Contains(penDoc, old) {
			panic(old)
		}
		return strings.Replace(penDoc, old, new, 1)
	}
	cases := map[string]struct {
		doc  string
		want error
	}{
		"unknown field":       {repl(`"pointerId":3`, `"pointerId":3,"secret":1`), browser.ErrInvalid},
		"version":             {repl(`"v":1`, `"v":2`), browser.ErrInvalid},
		"pointer type":        {repl(`"pen"`, `"stylus"`), browser.ErrInvalid},
		"time backwards":      {repl(`"t":1008.0`, `"t":1003.0`), signpad.ErrTimeBackwards},
		"negative time":       {repl(`"t":1000.0`, `"t":-1`), browser.ErrInvalid},
		"pressure above 1":    {repl(`"pressure":0.55`, `"pressure":1.5`), browser.ErrInvalid},
		"tilt beyond 90":      {repl(`"tiltX":10,"tiltY":-12}`, `"tiltX":91,"tiltY":-12}`), browser.ErrInvalid},
		"outside the field":   {repl(`"x":14,"y":22,"pressure":0.6,"tiltX":11,"tiltY":-12}]`, `"x":900,"y":22,"pressure":0.6,"tiltX":11,"tiltY":-12}]`), browser.ErrInvalid},
		"coalesced mismatch":  {repl(`{"t":1012.5,"x":14,"y":22,"pressure":0.6,"tiltX":11,"tiltY":-12}]`, `{"t":1012.5,"x":13,"y":22,"pressure":0.6,"tiltX":11,"tiltY":-12}]`), browser.ErrInvalid},
		"double down":         {repl(`"type":"up"`, `"type":"down"`), browser.ErrInvalid},
		"unknown type":        {repl(`"type":"up"`, `"type":"cancel"`), browser.ErrInvalid},
		"trailing data":       {penDoc + `{}`, browser.ErrInvalid},
		"field too big":       {repl(`"width":600`, `"width":1e9`), browser.ErrInvalid},
		"string for a number": {repl(`"x":10,`, `"x":"10",`), browser.ErrInvalid},
		"no events":           {`{"v":1,"pointerType":"pen","pointerId":1,"field":{"width":10,"height":10},"events":[]}`, browser.ErrInvalid},
		"never down":          {`{"v":1,"pointerType":"pen","pointerId":1,"field":{"width":10,"height":10},"events":[{"type":"move","t":1,"x":1,"y":1}]}`, signpad.ErrEmpty},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := browser.Decode(strings.NewReader(c.doc), received); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// flood streams a document with ten million points.
type flood struct {
	head bool
	n    int
}

func (f *flood) Read(p []byte) (int, error) {
	if !f.head {
		f.head = true
		return copy(p, `{"v":1,"pointerType":"pen","pointerId":1,"field":{"width":10,"height":10},"events":[{"type":"down","t":0,"x":1,"y":1}`), nil
	}
	if f.n >= 10_000_000 {
		return 0, io.EOF
	}
	f.n++
	return copy(p, fmt.Sprintf(`,{"type":"move","t":%d,"x":1,"y":1}`, f.n)), nil
}

func TestTenMillionPointsAreRefused(t *testing.T) {
	src := &flood{}
	_, err := browser.Decode(src, received)
	if !errors.Is(err, browser.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	if src.n >= 10_000_000 {
		t.Error("the whole flood was read")
	}
}

func TestTooManyPointsWithinTheSizeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and parses a 7 MB document")
	}
	var b strings.Builder
	b.WriteString(`{"v":1,"pointerType":"pen","pointerId":1,"field":{"width":10,"height":10},"events":[{"type":"down","t":0,"x":1,"y":1}`)
	for i := range signpad.MaxSamples {
		fmt.Fprintf(&b, `,{"type":"move","t":%d,"x":1,"y":1}`, i/1000)
	}
	b.WriteString(`]}`)
	if b.Len() > browser.MaxBody {
		t.Skipf("document of %d bytes exceeds the body limit", b.Len())
	}
	_, err := browser.Decode(strings.NewReader(b.String()), received)
	if !errors.Is(err, signpad.ErrTooManySamples) {
		t.Fatalf("err = %v, want ErrTooManySamples", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(penDoc))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, err := browser.Decode(strings.NewReader(string(data)), received)
		if err != nil {
			return
		}
		if err := sig.Validate(); err != nil {
			t.Fatalf("accepted an invalid signature: %v", err)
		}
	})
}
