package ical_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"parley/relay/ical"
)

var fuzzSeeds = []string{
	"", "plain", `<script>alert(1)</script>`, "a,b;c\\d:e\"f", "line1\nline2\r\nline3\rline4",
	"🙂🙂🙂", strings.Repeat("é", 200), strings.Repeat("x", 74) + "🙂", "\x00\x01\x7f\t", "\xff\xfe bad utf8",
	"\\n literal", " leading and trailing ", "\\", "\\\\,", "CN=\"x\";ROLE=CHAIR:mailto:evil@x",
}

// FuzzEscape writes arbitrary text into every TEXT property and the
// names; both parsers must accept the output and read back CleanText (or
// CleanParam for the names).
func FuzzEscape(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := sample()
		ev := &c.Events[0]
		ev.Summary, ev.Description, ev.Location = s, s+"\n"+s, "Ort: "+s
		ev.Organizer.Name, ev.Attendees[0].Name = s, "A "+s
		b := c.Bytes()
		if b == nil {
			t.Fatalf("valid calendar refused: %v", c.Validate())
		}
		checkLines(t, b)
		p := both(t, b)
		clean := ical.CleanText(s)
		if p.summary != clean || p.description != ical.CleanText(s+"\n"+s) || p.location != "Ort: "+clean {
			t.Fatalf("text changed: %q -> %+v", s, p)
		}
		wantCN := ical.CleanParam(s)
		if strings.TrimSpace(wantCN) == "" {
			wantCN = ""
		}
		if p.orgCN != wantCN || p.attCN != ical.CleanParam("A "+s) {
			t.Fatalf("names changed: %q -> %q, %q", s, p.orgCN, p.attCN)
		}
		if p.orgAddr != "mailto:max@bank.example" || p.uid != "3f2a9c@parley.example" {
			t.Fatalf("structure changed by %q: %+v", s, p)
		}
	})
}

// FuzzWrite writes arbitrary uids, names, addresses, sequences and times:
// either the calendar is refused with ErrInvalid, or both parsers accept it
// and agree with what was written.
func FuzzWrite(f *testing.F) {
	f.Add("uid@x", "Summary", "Name", "a@example.org", 1, int64(1774773000), int64(3600))
	f.Add("u,i;d\\", "<b>", "\"q\"", "a\r\n@x", -1, int64(-1e12), int64(-5))
	f.Add("🙂", strings.Repeat("s", 300), "N;:", "ü@bücher.example", 7, int64(253402300799), int64(0))
	f.Fuzz(func(t *testing.T, uid, summary, name, email string, seq int, start, dur int64) {
		st := time.Unix(start, 0)
		c := ical.Calendar{Method: ical.MethodCancel, Events: []ical.Event{{
			UID: uid, Sequence: seq, Summary: summary, Start: st, End: st.Add(time.Duration(dur) * time.Second),
			Stamp: stamp, Organizer: ical.Person{Name: name, Email: "o@example.org"},
			Attendees: []ical.Person{{Name: name, Email: email}},
		}}}
		b := c.Bytes()
		if err := c.Validate(); err != nil {
			if !errors.Is(err, ical.ErrInvalid) || b != nil {
				t.Fatalf("refused calendar: err %v, %d bytes", err, len(b))
			}
			return
		}
		checkLines(t, b)
		p := both(t, b)
		if p.uid != ical.CleanText(uid) || p.summary != ical.CleanText(summary) || p.attAddr != "mailto:"+email ||
			!p.start.Equal(st) || p.status != ical.StatusCancelled || p.method != ical.MethodCancel {
			t.Fatalf("read back %+v", p)
		}
	})
}
