package server

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/pdfrender/pdfrendertest"
	"parley/relay/signal/msg"
	"parley/relay/whiteboard"
)

// waitFinished waits until no recorder of the relay is open.
func waitFinished(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.recordings.mu.Lock()
		n := len(s.recordings.live)
		s.recordings.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the recordings were not finished after the meetings ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestArchiveDrawsPresentedDocument: a PDF presented on the whiteboard and
// annotated comes into the archive as the page image's background — dark
// where the PDF's black band is, white below it, the red stroke over it —
// and whiteboard/documents.json lists the document with its pages.
func TestArchiveDrawsPresentedDocument(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	s, err := Start(ctx, Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: testAdminPassword, Hash: auth.TestHashParams, Clock: clk, SweepInterval: time.Hour,
		RenderCacheDir: pdfrendertest.CacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	api := &testAPI{t: t, s: s, c: &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s)}}}
	admin := api.login()
	var created struct{ Meeting struct{ ID string } }
	if st := api.call("POST", "/api/v1/meetings", admin, map[string]string{}, &created); st != http.StatusCreated {
		t.Fatalf("create meeting: %d", st)
	}
	id := created.Meeting.ID

	author := chat.Author{ID: "adv", Name: "Anna", Role: msg.RoleAdvisor}
	e, err := s.chat.PutFile(ctx, id, author, "Vertrag.pdf", bytes.NewReader(onePagePDF()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.whiteboard.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	adv := whiteboard.Actor{ID: "adv", Role: msg.RoleAdvisor}
	if _, err := b.Apply(ctx, adv, whiteboard.Op{Kind: whiteboard.KindBackground, Doc: e.ID, Page: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Apply(ctx, adv, whiteboard.Op{ID: ids.New(), Kind: whiteboard.KindStroke, Doc: e.ID, Page: 1,
		Tool: whiteboard.ToolPen, Color: "#ff0000", Width: 0.02, Points: []float64{0.2, 0.7, 0.8, 0.7}}); err != nil {
		t.Fatal(err)
	}
	recordSome(t, s, id)
	if st := api.call("POST", "/api/v1/meetings/"+id+"/end", admin, nil, nil); st != http.StatusNoContent && st != http.StatusOK {
		t.Fatalf("end: %d", st)
	}
	waitFinished(t, s)

	st, files := archive(t, api, admin, id)
	if st != http.StatusOK {
		t.Fatalf("archive: %d", st)
	}
	name := "whiteboard/document-" + e.ID + "-page-1.png"
	img, err := png.Decode(bytes.NewReader(files[name]))
	if err != nil {
		var names []string
		for n := range files {
			names = append(names, n)
		}
		t.Fatalf("%s: %v (archive: %s)", name, err, strings.Join(names, ", "))
	}
	if bd := img.Bounds(); bd.Dx() != archivePageWidth || bd.Dy() != archivePageHeight {
		t.Fatalf("page image %v", bd)
	}
	// The band is the top 100 of 842 points: the top 85 of 720 pixels.
	if r, g, bl, _ := img.At(640, 30).RGBA(); r > 0x2000 || g > 0x2000 || bl > 0x2000 {
		t.Errorf("where the PDF's band is: %04x %04x %04x, want dark", r, g, bl)
	}
	if r, g, bl, _ := img.At(640, 300).RGBA(); r < 0xf000 || g < 0xf000 || bl < 0xf000 {
		t.Errorf("the page below the band: %04x %04x %04x, want white", r, g, bl)
	}
	if r, g, bl, _ := img.At(640, 504).RGBA(); r < 0xc000 || g > 0x4000 || bl > 0x4000 {
		t.Errorf("on the stroke: %04x %04x %04x, want red", r, g, bl)
	}
	var docs []archivedDocument
	if err := json.Unmarshal(files["whiteboard/documents.json"], &docs); err != nil {
		t.Fatalf("documents.json: %v: %s", err, files["whiteboard/documents.json"])
	}
	if len(docs) != 1 || docs[0].Doc != e.ID || docs[0].File != "Vertrag.pdf" || docs[0].Pages != 1 ||
		len(docs[0].Shown) != 1 || docs[0].Shown[0] != 1 || len(docs[0].Images) != 1 || len(docs[0].Unrendered) != 0 {
		t.Errorf("documents.json = %s", files["whiteboard/documents.json"])
	}
	if _, ok := files["files/Vertrag.pdf"]; !ok {
		t.Error("the presented file is not in the archive's files")
	}
}
