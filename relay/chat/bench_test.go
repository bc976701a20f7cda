package chat

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkBadgerPutFile stores and reads back an 8 MiB PDF on the
// encrypted store (32 chunk transactions, each synced).
func BenchmarkBadgerPutFile(b *testing.B) {
	db, err := openBadgerB(b)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e := newEnv(b, db, Options{MaxMeetingBytes: 1 << 40})
	body := append([]byte(pdfBytes), bytes.Repeat([]byte("0123456789abcdef"), (8<<20)/16)...)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		en, err := e.svc.PutFile(e.ctx, meetingA, customer, "a.pdf", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, rc, err := e.svc.OpenFile(e.ctx, meetingA, en.ID)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(len(body)) {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkBadgerPost posts chat messages one after another.
func BenchmarkBadgerPost(b *testing.B) {
	db, err := openBadgerB(b)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e := newEnv(b, db, Options{})
	for b.Loop() {
		if _, _, err := e.svc.Post(e.ctx, meetingA, customer, "Guten Tag, ich habe eine Frage zum Vertrag.", ""); err != nil {
			b.Fatal(err)
		}
	}
}
