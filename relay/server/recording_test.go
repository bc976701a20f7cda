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
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/recording"
	"parley/relay/retention"
	"parley/relay/signal/msg"
	"parley/relay/whiteboard"
)

// recordSome runs the consent flow on the meeting's recorder (an advisor
// and a customer who accepts) and records two seconds of a synthetic VP8
// track.
func recordSome(t *testing.T, s *Server, meetingID string) {
	t.Helper()
	rec := recordFrames(t, s, meetingID)
	if _, err := rec.Stop("adv"); err != nil {
		t.Fatal(err)
	}
}

// recordFrames is recordSome without the stop: the track's file stays
// open, what was written is sealed to disk.
func recordFrames(t *testing.T, s *Server, meetingID string) *recording.Recorder {
	t.Helper()
	rec, err := s.recordings.Recorder(context.Background(), meetingID, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() (recording.Indicator, error){
		func() (recording.Indicator, error) { return rec.Join("adv", recording.RoleAdvisor) },
		func() (recording.Indicator, error) { return rec.Join("cust", recording.RoleCustomer) },
		func() (recording.Indicator, error) { return rec.Request("adv") },
		func() (recording.Indicator, error) { return rec.Accept("cust") },
	} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := rec.AddTrack(recording.TrackInfo{ParticipantID: "cust", TrackID: "v", StreamID: "s", MimeType: recording.MimeVP8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pk := rtp.NewPacketizer(1200, 96, 7, &codecs.VP8Payloader{}, rtp.NewRandomSequencer(), 90000)
	for i := range 60 {
		frame := make([]byte, 400)
		tag := uint32(len(frame)-10)<<5 | 1<<4
		if i != 0 {
			tag |= 1
		} else {
			copy(frame[3:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
		}
		frame[0], frame[1], frame[2] = byte(tag), byte(tag>>8), byte(tag>>16)
		for _, p := range pk.Packetize(frame, 3000) {
			if err := tr.WriteRTP(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tr.Flush(); err != nil {
		t.Fatal(err)
	}
	return rec
}

// archive downloads a meeting's archive and returns its status, entries
// and announced length.
func archive(t *testing.T, api *testAPI, token, meetingID string) (int, map[string][]byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", api.s.URL()+"/api/v1/meetings/"+meetingID+"/archive", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := api.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, nil
	}
	if n, _ := strconv.Atoi(res.Header.Get("Content-Length")); n != len(b) || n == 0 {
		t.Fatalf("Content-Length %q, body %d bytes", res.Header.Get("Content-Length"), len(b))
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
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
	var man recording.ArchiveManifest
	if err := json.Unmarshal(out["manifest.json"], &man); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if len(man.Entries) != len(out)-1 {
		t.Errorf("manifest lists %d entries, the ZIP has %d besides it", len(man.Entries), len(out)-1)
	}
	for _, e := range man.Entries {
		sum := sha256.Sum256(out[e.Name])
		if hex.EncodeToString(sum[:]) != e.SHA256 || int64(len(out[e.Name])) != e.Size {
			t.Errorf("%s does not match the manifest", e.Name)
		}
	}
	return res.StatusCode, out
}

// TestRecordingThroughRelay: what was recorded, with the meeting's chat,
// files, whiteboard and metadata sealed in at its end, is downloadable by
// the advisor as one archive; a meeting without media has none; the sweep
// deletes the archive 180 days after the meeting unless a hold on its
// customer keeps it; erasing the customer deletes it.
func TestRecordingThroughRelay(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	s, api := startClockedRelay(t, clk)
	admin := api.login()
	newMeeting := func(customerID string) string {
		var created struct{ Meeting struct{ ID string } }
		body := map[string]string{}
		if customerID != "" {
			body["customer_id"] = customerID
		}
		if st := api.call("POST", "/api/v1/meetings", admin, body, &created); st != http.StatusCreated {
			t.Fatalf("create meeting: %d", st)
		}
		return created.Meeting.ID
	}
	var cust struct{ ID string }
	if st := api.call("POST", "/api/v1/customers", admin, map[string]string{"first_name": "Rita", "last_name": "Rekord", "email": "rita@kunde.test"}, &cust); st != http.StatusCreated {
		t.Fatalf("customer: %d", st)
	}
	id := newMeeting(cust.ID)
	if st, _ := archive(t, api, admin, id); st != http.StatusNotFound {
		t.Fatalf("archive before anything was recorded: %d", st)
	}

	author := chat.Author{ID: "cust", Name: "Rita R.", Role: msg.RoleCustomer}
	if _, _, err := s.chat.Post(ctx, id, author, "Bitte das Protokoll aufheben", "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.chat.PutFile(ctx, id, author, "Vollmacht.pdf", strings.NewReader(samplePDF)); err != nil {
		t.Fatal(err)
	}
	b, err := s.whiteboard.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Apply(ctx, whiteboard.Actor{ID: "adv", Role: msg.RoleAdvisor}, whiteboard.Op{ID: ids.New(), Kind: whiteboard.KindStroke, Page: 1,
		Tool: whiteboard.ToolPen, Color: "#1f6feb", Width: 0.01, Points: []float64{0.1, 0.1, 0.5, 0.5, 0.9, 0.2}}); err != nil {
		t.Fatal(err)
	}
	recordSome(t, s, id)

	// A second meeting asked but never recorded: no archive.
	empty := newMeeting("")
	rec, err := s.recordings.Recorder(ctx, empty, true)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = rec.Join("adv", recording.RoleAdvisor)
	if _, err := rec.Request("adv"); err != nil {
		t.Fatal(err)
	}

	for _, m := range []string{id, empty} {
		if st := api.call("POST", "/api/v1/meetings/"+m+"/end", admin, nil, nil); st != http.StatusNoContent && st != http.StatusOK {
			t.Fatalf("end: %d", st)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.recordings.mu.Lock()
		n := len(s.recordings.live)
		s.recordings.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the recordings were not finished after the meetings ended")
		}
		time.Sleep(20 * time.Millisecond)
	}

	st, files := archive(t, api, admin, id)
	if st != http.StatusOK {
		t.Fatalf("archive: %d", st)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	has := func(prefix, suffix string) bool {
		for _, n := range names {
			if strings.HasPrefix(n, prefix) && strings.HasSuffix(n, suffix) {
				return true
			}
		}
		return false
	}
	for _, want := range [][2]string{{"media/", ".webm"}, {"media/", ".json"}, {"files/Vollmacht", ".pdf"}, {"whiteboard/", ".png"},
		{"chat/transcript", ".txt"}, {"metadata", ".json"}, {"consent", ".json"}} {
		if !has(want[0], want[1]) {
			t.Errorf("the archive lacks %s…%s: %v", want[0], want[1], names)
		}
	}
	if !strings.Contains(string(files["chat/transcript.txt"]), "Bitte das Protokoll aufheben") {
		t.Errorf("transcript: %q", files["chat/transcript.txt"])
	}
	if st, _ := archive(t, api, admin, empty); st != http.StatusNotFound {
		t.Errorf("archive of a meeting without media: %d", st)
	}

	// Retention: kept 1 s before the 180 days, and by a hold on the
	// customer; deleted after.
	ended := clk.Now()
	clk.Set(ended.Add(180*24*time.Hour - time.Second))
	admin = api.login()
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := archive(t, api, admin, id); st != http.StatusOK {
		t.Fatalf("archive a second before its deadline: %d", st)
	}
	tenant, actor := s.Bootstrap().Tenant.ID, retention.Actor{UserID: s.Bootstrap().Admin.ID, Admin: true}
	hold, err := s.retention.PlaceHold(ctx, tenant, actor, retention.SubjectCustomer, cust.ID, "Pruefung")
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(ended.Add(181 * 24 * time.Hour))
	admin = api.login()
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := archive(t, api, admin, id); st != http.StatusOK {
		t.Fatalf("held archive after its deadline: %d", st)
	}
	if err := s.retention.ReleaseHold(ctx, tenant, actor, hold.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := archive(t, api, admin, id); st != http.StatusNotFound {
		t.Fatalf("archive after its deadline, hold released: %d", st)
	}
	if _, err := os.Stat(s.recordings.store.Dir(id)); !os.IsNotExist(err) {
		t.Fatalf("recording folder after the sweep: %v", err)
	}
}

// TestRecordingErasedWithCustomer: erasing a customer deletes the
// recordings of the meetings linked to them, and only those.
func TestRecordingErasedWithCustomer(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	s, api := startClockedRelay(t, clk)
	admin := api.login()
	var custs [2]string
	for i, name := range []string{"Rita", "Otto"} {
		var c struct{ ID string }
		if st := api.call("POST", "/api/v1/customers", admin, map[string]string{"first_name": name, "last_name": "Kunde", "email": strings.ToLower(name) + "@kunde.test"}, &c); st != http.StatusCreated {
			t.Fatalf("customer: %d", st)
		}
		custs[i] = c.ID
	}
	var ids [2]string
	for i, c := range custs {
		var created struct{ Meeting struct{ ID string } }
		if st := api.call("POST", "/api/v1/meetings", admin, map[string]string{"customer_id": c}, &created); st != http.StatusCreated {
			t.Fatalf("meeting: %d", st)
		}
		ids[i] = created.Meeting.ID
		recordSome(t, s, ids[i])
	}
	if st := api.call("POST", "/api/v1/customers/"+custs[0]+"/erasure", admin, nil, nil); st != http.StatusOK {
		t.Fatalf("erasure: %d", st)
	}
	if _, err := os.Stat(s.recordings.store.Dir(ids[0])); !os.IsNotExist(err) {
		t.Errorf("the erased customer's recording folder: %v", err)
	}
	if st, _ := archive(t, api, admin, ids[0]); st != http.StatusNotFound {
		t.Errorf("archive after erasure: %d", st)
	}
	if _, err := os.Stat(s.recordings.store.Dir(ids[1])); err != nil {
		t.Errorf("the other customer's recording: %v", err)
	}
}
