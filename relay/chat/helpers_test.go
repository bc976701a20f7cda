package chat

import (
	"archive/zip"
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/signal/msg"
	"parley/relay/store"
)

const meetingA = "0123456789abcdef0123456789abcdef"
const meetingB = "fedcba9876543210fedcba9876543210"

var (
	customer = Author{ID: "p-1", Name: "Klara Fischer", Role: msg.RoleCustomer}
	advisor  = Author{ID: "u-1", Name: "Anna Beraterin", Role: msg.RoleAdvisor}
)

// syncBuffer is a bytes.Buffer safe for concurrent writers (the logger).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	t     testing.TB
	ctx   context.Context
	clock *clock.Fake
	kv    store.KV
	svc   *Service
	logs  *syncBuffer
}

func newEnv(t testing.TB, kv store.KV, opts Options) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	if kv == nil {
		kv = &store.Memory{Clock: clk}
	}
	logs := &syncBuffer{}
	opts.Store, opts.Clock = kv, clk
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: context.Background(), clock: clk, kv: kv, svc: svc, logs: logs}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// keys counts the store's keys under prefix.
func (e *env) keys(prefix string) int {
	e.t.Helper()
	n := 0
	must(e.t, e.kv.View(e.ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(prefix), func(_, _ []byte) error { n++; return nil })
	}))
	return n
}

// assertLogsClean fails when personal data reached the logs.
func (e *env) assertLogsClean(needles ...string) {
	e.t.Helper()
	for _, n := range needles {
		if strings.Contains(e.logs.String(), n) {
			e.t.Errorf("logs contain %q", n)
		}
	}
}

func (e *env) put(meetingID, name string, body []byte) (msg.Entry, error) {
	return e.svc.PutFile(e.ctx, meetingID, customer, name, bytes.NewReader(body))
}

func (e *env) read(meetingID, fileID string) []byte {
	e.t.Helper()
	_, rc, err := e.svc.OpenFile(e.ctx, meetingID, fileID)
	must(e.t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	must(e.t, err)
	return b
}

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{200, 10, 10, 255})
	}
	return img
}

func pngBytes() []byte {
	var b bytes.Buffer
	_ = png.Encode(&b, testImage())
	return b.Bytes()
}

func jpegBytes() []byte {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, testImage(), nil)
	return b.Bytes()
}

func gifBytes() []byte {
	var b bytes.Buffer
	_ = gif.Encode(&b, testImage(), nil)
	return b.Bytes()
}

// webpBytes is a 1×1 lossless WebP.
var webpBytes = []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")

const pdfBytes = "%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

// zipOf builds a zip with the named members (the first stored, the rest
// deflated).
func zipOf(members ...[2]string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i, m := range members {
		method := zip.Deflate
		if i == 0 {
			method = zip.Store
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: m[0], Method: method})
		_, _ = w.Write([]byte(m[1]))
	}
	_ = zw.Close()
	return b.Bytes()
}

func docx() []byte {
	return zipOf([2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"_rels/.rels", "<Relationships/>"},
		[2]string{"word/document.xml", "<w:document/>"})
}

// repeatReader yields its pattern forever, counting what was read.
type repeatReader struct {
	pattern []byte
	n       int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.pattern[int(r.n+int64(i))%len(r.pattern)]
	}
	r.n += int64(len(p))
	return len(p), nil
}
