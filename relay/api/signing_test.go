package api

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"parley/relay/signing"
	"parley/relay/signing/pdf"
)

// FuzzDecodeSubmission: the submission decoder never panics, refuses
// what is not one JSON object with a pointer, and keeps the pointer's
// bytes for signpad/browser's strict decoder.
func FuzzDecodeSubmission(f *testing.F) {
	for _, s := range []string{
		`{"texts":{"ort":"Kiel"},"pointer":{"v":1,"pointerType":"pen","pointerId":1,"field":{"width":10,"height":10},"events":[]}}`,
		`{"pointer":null}`, `{}`, `{"pointer":{}} {}`, `{"pointer":{},"extra":1}`, `[]`, ``, "\xff", `{"texts":{"a":1},"pointer":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sub, err := decodeSubmission(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if len(sub.Pointer) == 0 || string(sub.Pointer) == "null" {
			t.Fatalf("accepted without a pointer: %q", body)
		}
	})
}

// TestSigningErrors: every domain error the routes can meet maps to a
// client error with its own code, never to 500.
func TestSigningErrors(t *testing.T) {
	cases := map[error]string{
		signing.ErrNotFound: "not_found", signing.ErrForbidden: "forbidden", pdf.ErrNotPDF: "not_pdf",
		pdf.ErrEncrypted: "pdf_encrypted", pdf.ErrTooLarge: "pdf_too_large", pdf.ErrTooManyPages: "pdf_too_many_pages",
		pdf.ErrMalformed: "pdf_malformed", pdf.ErrInvalidField: "invalid_input", signing.ErrNotYourTurn: "not_your_turn",
		signing.ErrExpired: "link_expired", signing.ErrCodeRequired: "code_required", signing.ErrWrongCode: "wrong_code",
		signing.ErrCodeExpired: "code_expired", signing.ErrNoTrusteeKey: "trustee_key_missing", signing.ErrContactMissing: "contact_missing",
		signing.ErrState: "invalid_state", signing.ErrConflict: "conflict", &signing.WaitError{Wait: 1500 * time.Millisecond}: "throttled",
		&signing.WaitError{}: "code_limit", &signing.InputError{Field: "title", Msg: "x"}: "invalid_input",
	}
	for in, code := range cases {
		e := toError(signingError(in))
		if e.Code != code || e.Status < 400 || e.Status >= 500 {
			t.Errorf("%v: %d %s, want %s", in, e.Status, e.Code, code)
		}
	}
	if e := toError(signingError(&signing.WaitError{Wait: 1500 * time.Millisecond})); e.RetryAfter != 2 {
		t.Errorf("Retry-After %d, want 2", e.RetryAfter)
	}
}
