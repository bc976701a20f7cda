package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"

	"parley/relay/auth"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/recording"
	"parley/relay/retention"
	"parley/relay/signal/msg"
)

// The kill -9 test of a recording: a child relay process records a
// meeting and kills itself with SIGKILL while the track's file is open;
// the parent starts a relay on the same data folder (a restart).

var recKillT0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func startRecKillRelay(t *testing.T, dir string, clk clock.Clock) (*Server, *testAPI) {
	t.Helper()
	s, err := Start(context.Background(), Options{DataDir: dir, Listen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: testAdminPassword, Hash: auth.TestHashParams, Clock: clk, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s, &testAPI{t: t, s: s, c: &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s)}}}
}

// TestRecordingKillHelper is the child: it records, writes the meeting's
// id and kills itself.
func TestRecordingKillHelper(t *testing.T) {
	dir := os.Getenv("RECORDING_KILL_DIR")
	if dir == "" {
		t.Skip("child process of TestRecordingSurvivesKillDashNine")
	}
	s, api := startRecKillRelay(t, dir, clock.NewFake(recKillT0))
	admin := api.login()
	var created struct{ Meeting struct{ ID string } }
	if st := api.call("POST", "/api/v1/meetings", admin, map[string]string{}, &created); st != http.StatusCreated {
		t.Fatalf("create meeting: %d", st)
	}
	id := created.Meeting.ID
	if _, _, err := s.chat.Post(context.Background(), id, chat.Author{ID: "cust", Name: "Rita R.", Role: msg.RoleCustomer}, "Vor dem Absturz", "n1"); err != nil {
		t.Fatal(err)
	}
	recordFrames(t, s, id) // sealed to disk, file still open
	if err := os.WriteFile(filepath.Join(dir, "meeting-id"), []byte(id), 0o600); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestRecordingSurvivesKillDashNine: after a relay recording a meeting is
// killed with SIGKILL and started again, the recording has an end (its
// last write, not after the restart) and is marked interrupted by a relay
// restart; what was written before the kill is in the archive and parses
// as WebM, with the chat sealed in by the first sweep; the sweep keeps it
// until 180 days after its end and deletes it then.
func TestRecordingSurvivesKillDashNine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child relay")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecordingKillHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RECORDING_KILL_DIR="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "meeting-id"))
	if err != nil {
		t.Fatalf("child wrote no meeting id: %v\n%s", err, out)
	}
	id := string(b)

	ctx := context.Background()
	restart := recKillT0.Add(time.Hour)
	clk := clock.NewFake(restart)
	s, api := startRecKillRelay(t, dir, clk)
	t.Cleanup(func() { _ = s.Close() })
	info, err := s.recordings.store.Info(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Ended.IsZero() || info.Ended.Before(recKillT0) || info.Ended.After(restart) || !info.EndedByInterruption ||
		len(info.Interrupted) != 1 || info.Interrupted[0].Reason != recording.ReasonRestart {
		t.Fatalf("after the restart: %+v", info)
	}
	// The first sweep (at start) seals the meeting's artefacts in.
	deadline := time.Now().Add(30 * time.Second)
	for {
		in, err := s.recordings.store.Info(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !in.ArtefactsDue {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("artefacts of the interrupted recording not sealed in")
		}
		time.Sleep(20 * time.Millisecond)
	}

	admin := api.login()
	st, files := archive(t, api, admin, id)
	if st != http.StatusOK {
		t.Fatalf("archive after the restart: %d", st)
	}
	var webms int
	for name, data := range files {
		if !strings.HasPrefix(name, "media/") || !strings.HasSuffix(name, ".webm") {
			continue
		}
		webms++
		var doc struct {
			Header struct {
				DocType string `ebml:"EBMLDocType"`
			} `ebml:"EBML"`
			Segment struct {
				Cluster []struct {
					SimpleBlock []ebml.Block `ebml:"SimpleBlock"`
				} `ebml:"Cluster"`
			} `ebml:"Segment"`
		}
		if err := ebml.Unmarshal(bytes.NewReader(data), &doc, ebml.WithIgnoreUnknown(true)); err != nil || doc.Header.DocType != "webm" {
			t.Fatalf("%s (%d bytes): %v, doc type %q", name, len(data), err, doc.Header.DocType)
		}
		blocks := 0
		for _, c := range doc.Segment.Cluster {
			blocks += len(c.SimpleBlock)
		}
		if blocks < 50 {
			t.Errorf("%s holds %d frames of the 60 written before the kill", name, blocks)
		}
	}
	if webms != 1 {
		t.Fatalf("%d WebM files in the archive", webms)
	}
	var md struct {
		Recording recording.RecordingNote `json:"recording"`
	}
	if err := json.Unmarshal(files["metadata.json"], &md); err != nil || len(md.Recording.Interrupted) != 1 || md.Recording.Interrupted[0].Reason != recording.ReasonRestart {
		t.Errorf("metadata.json: %v: %s", err, files["metadata.json"])
	}
	if !strings.Contains(string(files["chat/transcript.txt"]), "Vor dem Absturz") {
		t.Errorf("transcript: %q", files["chat/transcript.txt"])
	}

	due := info.Ended.Add(180 * retention.Day)
	clk.Set(due.Add(-time.Second))
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.recordings.store.Dir(id)); err != nil {
		t.Fatalf("deleted before its deadline: %v", err)
	}
	clk.Set(due)
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.recordings.store.Dir(id)); !os.IsNotExist(err) {
		t.Fatalf("recording folder at its deadline: %v", err)
	}
	if _, err := s.recordings.store.Info(ctx, id); !errors.Is(err, recording.ErrUnknownMeeting) {
		t.Errorf("index entry at its deadline: %v", err)
	}
}
