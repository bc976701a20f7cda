package link

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseBaseURL(t *testing.T) {
	good := []struct{ in, origin, pinKey, serverName string }{
		{"https://relay.example.org", "https://relay.example.org", "relay.example.org:443", "relay.example.org"},
		{"https://Relay.Example.ORG:8443/", "https://relay.example.org:8443", "relay.example.org:8443", "relay.example.org"},
		{" https://127.0.0.1:4433 ", "https://127.0.0.1:4433", "127.0.0.1:4433", "127.0.0.1"},
		{"https://[::1]:4433", "https://[::1]:4433", "[::1]:4433", "::1"},
		{"https://[::1]", "https://[::1]", "[::1]:443", "::1"},
		{"https://bücher.example", "https://xn--bcher-kva.example", "xn--bcher-kva.example:443", "xn--bcher-kva.example"},
	}
	for _, tc := range good {
		u, err := parseBaseURL(tc.in)
		if err != nil {
			t.Errorf("parseBaseURL(%q): %v", tc.in, err)
			continue
		}
		if u.origin != tc.origin || u.pinKey != tc.pinKey || u.hostport != tc.pinKey || u.serverName != tc.serverName {
			t.Errorf("parseBaseURL(%q) = %+v", tc.in, u)
		}
	}
	for _, in := range []string{
		"", "relay.example.org", "http://relay.example.org", "ftp://x", "https://", "https:///path",
		"https://user:pw@relay.example.org", "https://relay.example.org/api", "https://relay.example.org/?x=1",
		"https://relay.example.org/#frag", "https://relay.example.org:0", "https://relay.example.org:99999",
		"https://relay.example.org:port", "https://[fe80::1%25eth0]:443", "https://bad_host\x7f",
	} {
		if _, err := parseBaseURL(in); err == nil {
			t.Errorf("parseBaseURL(%q) accepted", in)
		} else if !strings.Contains(err.Error(), "invalid relay URL") {
			t.Errorf("parseBaseURL(%q) error %q does not wrap ErrInvalidURL", in, err)
		}
	}
}

func TestFingerprintFormat(t *testing.T) {
	cert := &x509.Certificate{Raw: []byte("not really DER, the hash does not care")}
	got := Fingerprint(cert)
	if want := independentFingerprint(cert.Raw); got != want {
		t.Errorf("Fingerprint = %q, want %q", got, want)
	}
	if len(got) != len("SHA256:")+32*3-1 || strings.ToUpper(got) != got {
		t.Errorf("Fingerprint %q has the wrong shape", got)
	}
	if Fingerprint(nil) != "" {
		t.Error("Fingerprint(nil) is not empty")
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	canon := independentFingerprint([]byte("x"))
	hexOnly := strings.ReplaceAll(strings.TrimPrefix(canon, "SHA256:"), ":", "")
	for _, in := range []string{
		canon, strings.ToLower(canon), " " + canon + "\n", strings.TrimPrefix(canon, "SHA256:"), hexOnly,
		"sha256:" + strings.ToLower(hexOnly), "SHA256:" + strings.ReplaceAll(strings.TrimPrefix(canon, "SHA256:"), ":", " "),
	} {
		got, err := NormalizeFingerprint(in)
		if err != nil || got != canon {
			t.Errorf("NormalizeFingerprint(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "SHA256:", "SHA256:AB", canon + ":00", "SHA1:" + hexOnly[:40], strings.Replace(canon, "A", "G", 1) + "G"} {
		if got, err := NormalizeFingerprint(in); err == nil {
			t.Errorf("NormalizeFingerprint(%q) = %q, want error", in, got)
		}
	}
	c := New(Options{})
	defer c.Close()
	if err := c.Trust("https://127.0.0.1:1", "not a fingerprint"); err == nil {
		t.Error("Trust accepted a malformed fingerprint")
	}
}

func TestMemoryPinsZeroValue(t *testing.T) {
	var p MemoryPins
	if _, ok := p.Pin("h:1"); ok {
		t.Error("empty store has a pin")
	}
	if err := p.SetPin("h:1", "fp"); err != nil {
		t.Fatal(err)
	}
	if fp, ok := p.Pin("h:1"); !ok || fp != "fp" {
		t.Errorf("Pin = %q, %v", fp, ok)
	}
	if err := p.SetPin("", "fp"); err == nil {
		t.Error("SetPin accepted an empty host")
	}
}

func TestTransportString(t *testing.T) {
	for tr, want := range map[Transport]string{TransportQUIC: "QUIC (HTTP/3)", TransportTCP: "TCP (HTTP/2)", "": "not connected"} {
		if tr.String() != want {
			t.Errorf("%q.String() = %q, want %q", string(tr), tr.String(), want)
		}
	}
}

// apiErrorCases feed both the table test and the fuzz corpus.
var apiErrorCases = []struct {
	status     int
	retryAfter string
	body       string
	want       APIError
	message    string
}{
	{401, "", `{"error":{"code":"invalid_credentials","message":"bad login"}}`,
		APIError{Status: 401, Code: "invalid_credentials", Message: "bad login"}, "Wrong username or password."},
	{429, "7", `{"error":{"code":"throttled","message":"slow down","retry_after_seconds":7}}`,
		APIError{Status: 429, Code: "throttled", Message: "slow down", RetryAfter: 7 * time.Second}, "Too many attempts — try again in 7 s."},
	{429, "", `{"error":{"code":"throttled","message":"slow down","retry_after_seconds":8}}`,
		APIError{Status: 429, Code: "throttled", Message: "slow down", RetryAfter: 8 * time.Second}, "Too many attempts — try again in 8 s."},
	{429, "300", `{"error":{"code":"throttled","message":"","retry_after_seconds":1}}`,
		APIError{Status: 429, Code: "throttled", RetryAfter: 300 * time.Second}, "Too many attempts — try again in 5 min."},
	{429, "", `{"error":{"code":"throttled","message":"x"}}`,
		APIError{Status: 429, Code: "throttled", Message: "x"}, "Too many attempts — try again later."},
	{429, "99999999999999999999", `{"error":{"code":"throttled","retry_after_seconds":1e300}}`,
		APIError{Status: 429, Code: "throttled", RetryAfter: 24 * time.Hour}, "Too many attempts — try again in 24 h."},
	{429, "-5", `{"error":{"code":"throttled","retry_after_seconds":-5}}`,
		APIError{Status: 429, Code: "throttled"}, "Too many attempts — try again later."},
	{422, "", `{"error":{"code":"weak_password","message":"weak","reasons":["too_short","common"]}}`,
		APIError{Status: 422, Code: "weak_password", Message: "weak", Reasons: []string{"too_short", "common"}},
		"Please choose another password: this one is too short and is too common."},
	{422, "", `{"error":{"code":"weak_password","message":"weak","reasons":["reused","too_long","contains_username"]}}`,
		APIError{Status: 422, Code: "weak_password", Message: "weak", Reasons: []string{"reused", "too_long", "contains_username"}},
		"Please choose another password: this one was used before, is too long and contains the username."},
	{422, "", `{"error":{"code":"weak_password","reasons":["martian"]}}`,
		APIError{Status: 422, Code: "weak_password", Reasons: []string{"martian"}}, "Please choose another password: this one is too weak."},
	{418, "", `{"error":{"code":"teapot","message":"I am a teapot\u0007\u202e"}}`,
		APIError{Status: 418, Code: "teapot", Message: "I am a teapot"}, "I am a teapot"},
	{502, "", `<html>bad gateway</html>`, APIError{Status: 502}, "The relay is not available right now (HTTP 502 Bad Gateway) — please try again later."},
	{400, "", `{"error":{"code":"bad_request"}} trailing`, APIError{Status: 400}, "The relay refused the request (HTTP 400 Bad Request)."},
	{404, "", `{"error":null}`, APIError{Status: 404}, "The relay refused the request (HTTP 404 Not Found)."},
	{500, "", `{"error":{"code":"internal","message":"boom"}}`,
		APIError{Status: 500, Code: "internal", Message: "boom"}, "The relay had an internal error — please try again later."},
	{403, "", `{"error":{"code":"password_change_required","message":"change it"}}`,
		APIError{Status: 403, Code: "password_change_required", Message: "change it"}, "Please change your password before you continue."},
	{301, "", ``, APIError{Status: 301}, "The relay answered with a redirect (HTTP 301), which is not followed."},
	{599, "", ``, APIError{Status: 599}, "The relay is not available right now (HTTP 599 unknown status) — please try again later."},
}

func TestParseAPIError(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range apiErrorCases {
		h := http.Header{}
		if tc.retryAfter != "" {
			h.Set("Retry-After", tc.retryAfter)
		}
		got := parseAPIError(tc.status, h, []byte(tc.body), now)
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("parseAPIError(%d, %q, %s) = %+v, want %+v", tc.status, tc.retryAfter, tc.body, *got, tc.want)
		}
		if msg := got.Error(); msg != tc.message {
			t.Errorf("%s: Error() = %q, want %q", tc.body, msg, tc.message)
		}
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		now.Add(1000 * time.Hour).Format(http.TimeFormat): 24 * time.Hour,
		"12":   12 * time.Second,
		" 3 ":  3 * time.Second,
		"soon": -1,
		"1.5":  -1,
	}
	for in, want := range cases {
		got, ok := parseRetryAfter(in, now)
		if want < 0 {
			if ok {
				t.Errorf("parseRetryAfter(%q) = %v, want not ok", in, got)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
}

func FuzzParseAPIError(f *testing.F) {
	for _, tc := range apiErrorCases {
		f.Add(tc.status, tc.retryAfter, []byte(tc.body))
	}
	f.Add(429, "Mon, 02 Jan 2006 15:04:05 GMT", []byte(`{"error":{"reasons":[1,2,3]}}`))
	f.Add(0, "", []byte(`{"error":{"message":"\ud800"}}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := parseAPIError(status, h, body, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
		if e == nil {
			t.Fatal("nil error")
		}
		if e.Status != status {
			t.Fatalf("Status = %d, want %d", e.Status, status)
		}
		if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Fatalf("RetryAfter = %v out of range", e.RetryAfter)
		}
		if len(e.Reasons) > maxReasons || utf8.RuneCountInString(e.Code) > maxCodeLen ||
			utf8.RuneCountInString(e.Message) > maxMessageLen {
			t.Fatalf("unbounded fields: %+v", e)
		}
		msg := e.Error()
		if msg == "" || !utf8.ValidString(msg) || len(msg) > 1000 {
			t.Fatalf("Error() = %q", msg)
		}
		for _, r := range msg {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("control character in %q", msg)
			}
		}
	})
}

func TestHumanWait(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "1 s", 1500 * time.Millisecond: "2 s", 119 * time.Second: "119 s", 120 * time.Second: "2 min",
		121 * time.Second: "3 min", 2 * time.Hour: "2 h", 24 * time.Hour: "24 h",
	} {
		if got := humanWait(d); got != want {
			t.Errorf("humanWait(%v) = %q, want %q", d, got, want)
		}
	}
	if secondsToDuration(math.NaN()) != 0 || secondsToDuration(math.Inf(1)) != maxRetryAfter {
		t.Error("secondsToDuration mishandles NaN or Inf")
	}
}

func TestUserMessage(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("link: GET /x: %w", err) }
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{wrap(&APIError{Status: 401, Code: CodeInvalidCredentials}), "Wrong username or password."},
		{wrap(&UntrustedCertError{Host: "h:1", FP: "SHA256:AA"}), (&UntrustedCertError{Host: "h:1", FP: "SHA256:AA"}).Error()},
		{wrap(&PinMismatchError{Host: "h:1", Pinned: "a", Got: "b"}), (&PinMismatchError{Host: "h:1", Pinned: "a", Got: "b"}).Error()},
		{fmt.Errorf("over QUIC (%w) and TCP (%w)", errors.New("x"), &APIError{Status: 503}), (&APIError{Status: 503}).Error()},
		{ErrNotLoggedIn, "Please log in first."},
		{wrap(ErrBadResponse), "The relay sent an answer that could not be understood — is this the right address?"},
		{wrap(context.DeadlineExceeded), "The relay did not answer in time — please try again."},
		{wrap(errors.New("connection refused")), "The relay cannot be reached — check the network connection and the relay address."},
	}
	for _, tc := range cases {
		if got := UserMessage(tc.err); got != tc.want {
			t.Errorf("UserMessage(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	_, err := parseBaseURL("http://x")
	if !strings.HasPrefix(UserMessage(err), "The relay address must") {
		t.Errorf("UserMessage for a bad URL = %q", UserMessage(err))
	}
}
