package api

import (
	"errors"
	"mime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"parley/relay/chat"
	"parley/relay/retention"
)

func seedBodies(f *testing.F) {
	for _, s := range []string{
		`{"tenant":"sparkasse","username":"admin","password":"secret-secret"}`,
		`{"current_password":"a","new_password":"b"}`,
		`{"username":"erika","display_name":"Erika","email":"e@example.org","password":"x","role":"advisor"}`,
		`{"username":`, `[]`, `null`, `{}`, `{"a":1} {}`, "\xff", `{"tenant":"` + strings.Repeat("x", 100) + `"}`,
	} {
		f.Add([]byte(s))
	}
}

func checkDecodeErr(t *testing.T, err error) {
	var e *Error
	if err != nil && (!errors.As(err, &e) || e.Status != 400) {
		t.Fatalf("decoder returned %v, want a 400 *Error", err)
	}
}

func FuzzDecodeLogin(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeLogin(b)
		checkDecodeErr(t, err)
		if err == nil && (req.Tenant == "" || req.Username == "" || req.Password == "" || len(req.Password) > 1024) {
			t.Fatalf("accepted invalid login %+v", req)
		}
	})
}

func FuzzDecodePassword(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodePassword(b)
		checkDecodeErr(t, err)
		if err == nil && (req.Current == "" || req.New == "") {
			t.Fatalf("accepted invalid password change %+v", req)
		}
	})
}

func FuzzDecodeCreateUser(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeCreateUser(b)
		checkDecodeErr(t, err)
		if err == nil && (req.Username == "" || req.Password == "" || (req.Role != "advisor" && req.Role != "admin")) {
			t.Fatalf("accepted invalid user %+v", req)
		}
	})
}

func FuzzDecodeUpdateUser(f *testing.F) {
	seedBodies(f)
	f.Add([]byte(`{"disabled":true}`))
	f.Add([]byte(`{"disabled":"yes"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeUpdateUser(b)
		checkDecodeErr(t, err)
		if err == nil && req.Disabled == nil {
			t.Fatal("accepted an update that changes nothing")
		}
	})
}

func FuzzDecodeNewMeeting(f *testing.F) {
	seedBodies(f)
	f.Add([]byte(`{"type":"booked","scheduled_start":"2026-12-01T10:00:00Z","title":"x"}`))
	f.Add([]byte(`{"type":"instant"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeNewMeeting(b)
		checkDecodeErr(t, err)
		if err == nil && ((req.Type == "booked") != (req.ScheduledStart != nil) || (req.Type != "booked" && req.Type != "instant")) {
			t.Fatalf("accepted inconsistent meeting %+v", req)
		}
	})
}

func FuzzDecodeJoin(f *testing.F) {
	seedBodies(f)
	f.Add([]byte(`{"name":"Klara Fischer","phone":"+49 170 1234567"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeJoin(b)
		checkDecodeErr(t, err)
		if err == nil && (req.Name == "" || len(req.Name) > 400) {
			t.Fatalf("accepted join %+v", req)
		}
	})
}

// FuzzContentDisposition checks that every sanitised file name makes a
// header that is plain ASCII, cannot be split, and parses back to the name.
func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{"Vertrag.pdf", `a"b\c.txt`, "Kontoauszug März 100%.pdf", "日本語.docx", "x;filename=evil.exe", "a\r\nSet-Cookie: x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		name, err := chat.SanitizeName(in)
		if err != nil {
			return
		}
		h := contentDisposition(name)
		for i := 0; i < len(h); i++ {
			if h[i] < 0x20 || h[i] > 0x7e {
				t.Fatalf("header %q has byte %#x", h, h[i])
			}
		}
		disp, params, err := mime.ParseMediaType(h)
		if err != nil || disp != "attachment" || params["filename"] != name {
			t.Fatalf("header %q parses to %q %q, %v; want %q", h, disp, params, err, name)
		}
	})
}

// FuzzParseSince checks the timeline's since parameter.
func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"", "0", "17", "-1", "18446744073709551616", "1e3", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := parseSince(in)
		checkDecodeErr(t, err)
		if err != nil {
			return
		}
		canon := strings.TrimLeft(in, "0")
		if canon == "" {
			canon = "0"
		}
		if strconv.FormatUint(n, 10) != canon {
			t.Fatalf("parseSince(%q) = %d", in, n)
		}
	})
}

func seedRetentionBodies(f *testing.F) {
	seedBodies(f)
	for _, s := range []string{
		`{"period_hours":72}`, `{"period_hours":720,"reason":"Revision"}`, `{"period_hours":-1}`, `{"period_hours":0}`,
		`{"period_hours":87601}`, `{"period_hours":1e30}`, `{"period_hours":1.5}`, `{"period_hours":"72"}`, `{"reason":"x"}`,
		`{"subject_kind":"meeting","subject_id":"m_1","reason":"Beschwerde"}`, `{"subject_kind":"tenant","subject_id":"x","reason":"y"}`,
	} {
		f.Add([]byte(s))
	}
}

func FuzzDecodeOverride(f *testing.F) {
	seedRetentionBodies(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeOverride(b)
		checkDecodeErr(t, err)
		if err == nil && (req.PeriodHours == nil || *req.PeriodHours < 1 || *req.PeriodHours > maxPeriodHours || utf8.RuneCountInString(req.Reason) > 500) {
			t.Fatalf("accepted invalid override %+v", req)
		}
	})
}

func FuzzDecodeReason(f *testing.F) {
	seedRetentionBodies(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeReason(b)
		checkDecodeErr(t, err)
		if err == nil && utf8.RuneCountInString(req.Reason) > 500 {
			t.Fatalf("accepted a reason of %d characters", utf8.RuneCountInString(req.Reason))
		}
	})
}

func FuzzDecodeHold(f *testing.F) {
	seedRetentionBodies(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeHold(b)
		checkDecodeErr(t, err)
		if err == nil && (!retention.SubjectKind(req.SubjectKind).Valid() || req.SubjectID == "" || len(req.SubjectID) > 128 ||
			strings.TrimSpace(req.Reason) == "" || utf8.RuneCountInString(req.Reason) > 500) {
			t.Fatalf("accepted invalid hold %+v", req)
		}
	})
}
