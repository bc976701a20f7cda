package api

import (
	"encoding/base64"
	"errors"
	"testing"

	"parley/relay/signing"
)

// FuzzSignerSubmission feeds the signer submission decoder (browser and
// kiosk forms): it never panics, and what it accepts holds exactly one of
// a pointer document and an ISO record, the latter with a checked device.
func FuzzSignerSubmission(f *testing.F) {
	rec := base64.StdEncoding.EncodeToString([]byte("SDI\x00020\x00\x00\x00\x00\x10"))
	for _, s := range []string{
		`{"pointer":{"v":1}}`,
		`{"texts":{"a":"b"},"iso19794":"` + rec + `","device":"evdev: Wacom"}`,
		`{"iso19794":"!!","device":"evdev: x"}`,
		`{"iso19794":"` + rec + `","pointer":{}}`,
		`{"device":"evdev: x"}`,
		`{"iso19794":"` + rec + `","device":"\u0000"}`,
		`{}`, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sub, err := decodeSignerSubmission(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 {
				t.Fatalf("error %v is not a client error", err)
			}
			return
		}
		if (len(sub.Pointer) == 0) == (len(sub.ISO19794) == 0) {
			t.Fatalf("accepted %q with pointer %d bytes and record %d bytes", body, len(sub.Pointer), len(sub.ISO19794))
		}
		if len(sub.ISO19794) > 0 && signing.CheckDevice(sub.Device) != nil {
			t.Fatalf("accepted device %q", sub.Device)
		}
	})
}
