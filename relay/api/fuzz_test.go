package api

import (
	"errors"
	"strings"
	"testing"
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
