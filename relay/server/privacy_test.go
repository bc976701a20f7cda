package server

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/privacy"
	"parley/relay/signal/msg"
	"parley/relay/store"
)

// samplePDF is a tiny file for the meeting's file exchange.
const samplePDF = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n% Gehaltsnachweis-Inhalt-4711\n%%EOF\n"

// TestExportAndErasureCoverEveryClassThroughTheRelay books a video
// appointment on the public page, lets the customer join its meeting,
// chat and send a file, then exports the customer (everything is in the
// ZIP and the hashes verify) and erases them (nothing of them is served
// or stored afterwards, the advisor's other data stays).
func TestExportAndErasureCoverEveryClassThroughTheRelay(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	box := &mailbox{}
	s, api := startBookingRelay(t, clk, box)
	ctx := context.Background()
	admin := api.login()
	adv := advisorWithMail(t, api, admin)

	if st := api.call("PUT", "/api/v1/booking/availability", adv, map[string]any{"time_zone": "Europe/Berlin",
		"weekly": []map[string]any{{"weekday": 1, "start": "09:00", "end": "17:00"}, {"weekday": 2, "start": "09:00", "end": "17:00"}}}, nil); st != http.StatusNoContent {
		t.Fatalf("availability: %d", st)
	}
	var typ struct{ ID string }
	if st := api.call("POST", "/api/v1/booking/types", adv, map[string]any{"name": "Depotberatung", "kind": "video", "duration_min": 30}, &typ); st != http.StatusCreated {
		t.Fatalf("type: %d", st)
	}
	var page struct {
		PageID string `json:"page_id"`
	}
	if st := api.call("POST", "/api/v1/booking/page", adv, nil, &page); st != http.StatusOK {
		t.Fatalf("page: %d", st)
	}
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if st := api.call("POST", "/api/v1/pages/"+page.PageID+"/bookings", "", map[string]any{"type": typ.ID, "start": start,
		"first_name": "Paula", "last_name": "Privatkundin", "email": "paula@kunde.test", "text": "Depotuebertrag von der Hausbank", "lang": "de"}, nil); st != http.StatusCreated {
		t.Fatalf("book: %d", st)
	}
	var joinURL string
	for _, m := range box.await(t, s, 2) {
		if strings.Contains(m.To, "paula@kunde.test") {
			joinURL = joinLink.FindString(m.Text)
		}
	}
	var list struct {
		Bookings []struct {
			ID         string `json:"id"`
			CustomerID string `json:"customer_id"`
			MeetingID  string `json:"meeting_id"`
		}
	}
	from, to := url.QueryEscape(clk.Now().Format(time.RFC3339)), url.QueryEscape(clk.Now().Add(7*24*time.Hour).Format(time.RFC3339))
	if st := api.call("GET", "/api/v1/bookings?from="+from+"&to="+to, adv, nil, &list); st != http.StatusOK || len(list.Bookings) != 1 {
		t.Fatalf("bookings: %d %+v", st, list)
	}
	bk := list.Bookings[0]
	if bk.MeetingID == "" || bk.CustomerID == "" || joinURL == "" {
		t.Fatalf("booking %+v, join %q", bk, joinURL)
	}
	// Another customer of the advisor, who must survive the erasure.
	var other struct{ ID string }
	if st := api.call("POST", "/api/v1/customers", adv, map[string]string{"first_name": "Otto", "last_name": "Anders", "email": "otto@kunde.test"}, &other); st != http.StatusCreated {
		t.Fatalf("other customer: %d", st)
	}
	// The customer joins the meeting, chats and sends a file (the next
	// day: the staff sign in again).
	clk.Set(start.Add(-5 * time.Minute))
	admin = api.login()
	var login struct{ Token string }
	if st := api.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "erika", "password": advisorPassword}, &login); st != http.StatusOK {
		t.Fatalf("login: %d", st)
	}
	adv = login.Token
	var joined struct {
		ParticipantID string `json:"participant_id"`
	}
	if st := api.call("POST", "/api/v1/join/"+joinURL[strings.LastIndex(joinURL, "/")+1:], "", map[string]string{"name": "Paula P."}, &joined); st != http.StatusOK && st != http.StatusCreated {
		t.Fatalf("join: %d", st)
	}
	author := chat.Author{ID: "p-paula", Name: "Paula P.", Role: msg.RoleCustomer}
	if _, _, err := s.chat.Post(ctx, bk.MeetingID, author, "Meine Depotnummer ist 123-456", "n1"); err != nil {
		t.Fatal(err)
	}
	file, err := s.chat.PutFile(ctx, bk.MeetingID, author, "Depotauszug.pdf", strings.NewReader(samplePDF))
	if err != nil {
		t.Fatal(err)
	}

	files := exportZip(t, api, admin, bk.CustomerID)
	var m privacy.Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		sum := sha256.Sum256(files[f.Path])
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: hash does not match the manifest", f.Path)
		}
	}
	if len(m.Files) != len(files)-1 {
		t.Errorf("manifest lists %d files, the ZIP has %d besides it", len(m.Files), len(files)-1)
	}
	all := ""
	for name, b := range files {
		all += "\n" + name + "\n" + string(b)
	}
	for _, want := range []string{"paula@kunde.test", "Privatkundin", bk.ID, "Depotuebertrag von der Hausbank", bk.MeetingID,
		"Meine Depotnummer ist 123-456", "Gehaltsnachweis-Inhalt-4711", "Depotauszug.pdf", "Paula P."} {
		if !strings.Contains(all, want) {
			t.Errorf("the export lacks %q", want)
		}
	}
	if strings.Contains(all, "otto@kunde.test") || strings.Contains(all, "pbk_") || strings.Contains(all, "pmj_") {
		t.Error("the export holds another customer's data or a secret link")
	}
	if _, ok := files["meetings/"+bk.MeetingID+"/files/"+file.ID+"-Depotauszug.pdf"]; !ok {
		t.Errorf("the file is not at its documented path: %v", keys(files))
	}

	var rc privacy.Receipt
	if st := api.call("POST", "/api/v1/customers/"+bk.CustomerID+"/erasure", admin, nil, &rc); st != http.StatusOK {
		t.Fatalf("erasure: %d", st)
	}
	if rc.State != privacy.StateCompleted || rc.Deleted["bookings"] != 1 || rc.Deleted["meetings"] != 1 || rc.Deleted["customer_profile"] != 1 {
		t.Fatalf("receipt %+v", rc)
	}
	for _, path := range []string{"/api/v1/customers/" + bk.CustomerID, "/api/v1/bookings/" + bk.ID} {
		if st := api.call("GET", path, adv, nil, nil); st != http.StatusNotFound {
			t.Errorf("GET %s after erasure: %d", path, st)
		}
	}
	if entries, err := s.chat.Since(ctx, bk.MeetingID, 0, 0); err != nil || len(entries) != 0 {
		t.Errorf("meeting content after erasure: %d entries, %v", len(entries), err)
	}
	var mt struct {
		CustomerID string `json:"customer_id"`
	}
	if st := api.call("GET", "/api/v1/meetings/"+bk.MeetingID, adv, nil, &mt); st != http.StatusOK || mt.CustomerID != "" {
		t.Errorf("meeting after erasure: %d %+v", st, mt)
	}
	dump := storeText(t, s)
	for _, gone := range []string{"paula@kunde.test", "Privatkundin", "Paula P.", "Depotnummer", "Gehaltsnachweis-Inhalt", bk.CustomerID} {
		// The ledger and the receipt keep the customer id on purpose; the
		// store keeps it in the erasure records only.
		if gone == bk.CustomerID {
			continue
		}
		if strings.Contains(dump, gone) {
			t.Errorf("the store still holds %q after the erasure", gone)
		}
	}
	if st := api.call("GET", "/api/v1/customers/"+other.ID, adv, nil, nil); st != http.StatusOK {
		t.Errorf("the other customer after the erasure: %d", st)
	}
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// exportZip downloads a customer's export and returns its files.
func exportZip(t *testing.T, api *testAPI, token, customerID string) map[string][]byte {
	t.Helper()
	req, _ := http.NewRequest("GET", api.s.URL()+"/api/v1/customers/"+url.PathEscape(customerID)+"/export", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := api.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d %s", res.StatusCode, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return out
}

// storeText is every key and value in the relay's store, as text.
func storeText(t *testing.T, s *Server) string {
	t.Helper()
	var b strings.Builder
	err := s.store.View(context.Background(), func(tx store.Txn) error {
		return tx.Scan(nil, func(k, v []byte) error {
			b.Write(k)
			b.WriteByte('=')
			b.Write(v)
			b.WriteByte('\n')
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
