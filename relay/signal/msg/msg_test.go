package msg

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	ok := []string{
		`{"type":"hello","token":"pmp_x","since":4}`,
		`{"type":"offer","sdp":"v=0"}`,
		`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"candidate"}`,
		`{"type":"media","media":{"audio":true,"video":false,"screen_stream":"abc"}}`,
		`{"type":"chat","text":"Zeile 1\nZeile 2","nonce":"n"}`,
		`{"type":"ping"}`, `{"type":"leave"}`,
		`{"type":"board","board":{"kind":"undo"}}`,
		`{"type":"hello","token":"pmp_x","board_since":3,"board_epoch":"r1.0"}`,
		`{"type":"record","action":"request"}`, `{"type":"record","action":"stop"}`, `{"type":"record","action":"accept"}`,
		`{"type":"record","action":"refuse"}`, `{"type":"record","action":"withdraw"}`,
	}
	for _, s := range ok {
		if _, err := Decode([]byte(s)); err != nil {
			t.Errorf("Decode(%s): %v", s, err)
		}
	}
	bad := []string{
		``, `null`, `[]`, `{}`, `{"type":""}`, `{"type":"welcome"}`, `{"type":"roster"}`,
		`{"type":"ping","extra":1}`, `{"type":"ping"} {"type":"ping"}`,
		`{"type":"offer"}`, `{"type":"offer","sdp":"` + strings.Repeat("a", MaxSDPBytes+1) + `"}`,
		`{"type":"chat","text":"   "}`, `{"type":"chat","text":"a\u0007b"}`,
		`{"type":"chat","text":"` + strings.Repeat("ü", MaxChatRunes+1) + `"}`,
		`{"type":"chat","text":"x","nonce":"` + strings.Repeat("n", MaxNonce+1) + `"}`,
		`{"type":"media"}`, `{"type":"media","media":{"screen_stream":"` + strings.Repeat("s", MaxStreamID+1) + `"}}`,
		`{"type":"candidate","candidate":{"candidate":"` + strings.Repeat("c", MaxCandidate+1) + `"}}`,
		"{\"type\":\"chat\",\"text\":\"\xff\"}",
		`{"type":"hello","token":"` + strings.Repeat("t", 300) + `"}`,
		`{"type":"board"}`, `{"type":"board","board":null}`, `{"type":"board","board":[1]}`, `{"type":"board","board":"x"}`,
		`{"type":"board_state","board":{}}`,
		`{"type":"record"}`, `{"type":"record","action":"start"}`, `{"type":"record","action":"ACCEPT"}`,
		`{"type":"recording","recording":{"phase":"recording"}}`,
		`{"type":"hello","token":"pmp_x","board_epoch":"` + strings.Repeat("e", MaxNonce+1) + `"}`,
	}
	for _, s := range bad {
		if _, err := Decode([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%.60s…) = %v, want ErrInvalid", s, err)
		}
	}
	if _, err := Decode([]byte(`{"type":"ping","pad":"` + strings.Repeat("p", MaxMessageBytes) + `"}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized message: %v", err)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	in := Message{Type: TypeChat, Text: "Grüße", Nonce: "n1"}
	b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(b)
	if err != nil || out.Text != in.Text || out.Nonce != in.Nonce {
		t.Fatalf("round trip: %+v %v", out, err)
	}
}

// FuzzDecode: any input decodes to a valid client message or fails with
// ErrInvalid; a decoded message encodes and decodes to itself.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"type":"hello","token":"pmp_x"}`, `{"type":"chat","text":"hi","nonce":"1"}`,
		`{"type":"candidate","candidate":{"candidate":"c","sdpMLineIndex":0}}`, `{"type":"media","media":{"audio":true}}`, `{`,
		`{"type":"board","board":{"kind":"pointer","page":1,"points":[0.5,0.5]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		if m2.Type != m.Type || m2.Text != m.Text || m2.SDP != m.SDP || compact(m2.Board) != compact(m.Board) {
			t.Fatalf("round trip changed the message: %+v vs %+v", m, m2)
		}
	})
}

func compact(b []byte) string {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return string(b)
	}
	return out.String()
}
