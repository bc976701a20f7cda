package recording

import (
	"encoding/json"
	"os"
	"testing"

	"parley/relay/ids"
)

type meetingRig struct {
	f       *fixture
	id      string
	rec     *Recorder
	video   *Track
	audio   *Track
	v, a    *synth
	changes []Indicator
}

func newMeetingRig(t *testing.T) *meetingRig {
	t.Helper()
	must := mustT(t)
	r := &meetingRig{f: newFixture(t), id: ids.New()}
	var err error
	r.rec, err = r.f.s.NewRecorder(ctx, "tenant1", r.id, RecorderOptions{OnChange: func(in Indicator) { r.changes = append(r.changes, in) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.rec.Close() })
	must(r.rec.Join("adv", RoleAdvisor))
	must(r.rec.Join("cust1", RoleCustomer))
	r.video, err = r.rec.AddTrack(TrackInfo{ParticipantID: "cust1", TrackID: "cam", MimeType: MimeVP8, SSRC: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.audio, err = r.rec.AddTrack(TrackInfo{ParticipantID: "cust1", TrackID: "mic", MimeType: MimeOpus, SSRC: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.v, r.a = newVideo(1, 2000, 15), newAudio(2)
	return r
}

// step feeds a second of media (30 video frames, 50 audio packets) and
// waits until it is written.
func (r *meetingRig) step(t *testing.T) {
	t.Helper()
	feed(t, r.video, r.v, 30)
	feed(t, r.audio, r.a, 50)
	for _, tr := range []*Track{r.video, r.audio} {
		if err := tr.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// counts returns the SimpleBlocks per WebM file of the meeting.
func (r *meetingRig) counts(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range webmFiles(t, r.f.s, r.id) {
		d, _ := parseWebM(t, p)
		out[p] = len(d.blocks())
	}
	return out
}

func TestRefusedConsentWritesNoMedia(t *testing.T) {
	must := mustT(t)
	r := newMeetingRig(t)
	r.step(t) // before any request
	must(r.rec.Request("adv"))
	r.step(t) // pending: not accepted yet
	must(r.rec.Refuse("cust1"))
	r.step(t)
	if err := r.rec.Close(); err != nil {
		t.Fatal(err)
	}
	if files := mediaFiles(t, r.f.s, r.id); len(files) != 0 {
		t.Fatalf("media files after refusal: %v", files)
	}
	var rec Record
	b, _ := readSealed(t, r.f.s.Dir(r.id)+"/consent.json"+SealedExt)
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Entries); n < 2 || rec.Entries[n-2].Action != ActionRefuse || rec.Entries[n-2].ParticipantID != "cust1" {
		t.Fatalf("consent record %+v", rec.Entries)
	}
	if len(r.changes) == 0 || r.changes[len(r.changes)-1].Phase != PhaseOff {
		t.Fatalf("broadcasts %+v", r.changes)
	}
}

func TestAcceptedConsentWritesGrowingWebM(t *testing.T) {
	must := mustT(t)
	r := newMeetingRig(t)
	must(r.rec.Request("adv"))
	if in := must(r.rec.Accept("cust1")); !in.Recording {
		t.Fatalf("%+v", in)
	}
	if !r.changes[len(r.changes)-1].Recording {
		t.Fatal("recording state not broadcast")
	}
	r.step(t)
	c1 := r.counts(t)
	if len(c1) != 2 {
		t.Fatalf("webm files %v", c1)
	}
	r.step(t)
	c2 := r.counts(t)
	for p, n := range c1 {
		if n == 0 || c2[p] <= n {
			t.Fatalf("%s: %d then %d blocks", p, n, c2[p])
		}
	}
	if err := r.rec.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range webmFiles(t, r.f.s, r.id) {
		if _, complete := parseWebM(t, p); !complete {
			t.Fatalf("%s incomplete after Close", p)
		}
	}
}

func TestWithdrawalStopsWriting(t *testing.T) {
	must := mustT(t)
	r := newMeetingRig(t)
	must(r.rec.Request("adv"))
	must(r.rec.Accept("cust1"))
	r.step(t)
	r.step(t)
	must(r.rec.Withdraw("cust1"))
	before := r.counts(t)
	sizes := map[string]int64{}
	for p := range before {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		sizes[p] = st.Size()
	}
	r.step(t)
	r.step(t)
	after := r.counts(t)
	if len(after) != len(before) {
		t.Fatalf("files %d then %d", len(before), len(after))
	}
	for p, n := range before {
		st, _ := os.Stat(p)
		if after[p] != n || st.Size() != sizes[p] {
			t.Fatalf("%s grew after withdrawal: %d→%d blocks, %d→%d bytes", p, n, after[p], sizes[p], st.Size())
		}
		if _, complete := parseWebM(t, p); !complete {
			t.Fatalf("%s not closed at withdrawal", p)
		}
	}
}

func TestLateJoinerPausesRecording(t *testing.T) {
	must := mustT(t)
	r := newMeetingRig(t)
	must(r.rec.Request("adv"))
	must(r.rec.Accept("cust1"))
	r.step(t)
	if in := must(r.rec.Join("cust2", RoleCustomer)); in.Phase != PhasePaused {
		t.Fatalf("%+v", in)
	}
	before := r.counts(t)
	r.step(t)
	if after := r.counts(t); len(after) != len(before) {
		t.Fatalf("files changed while paused")
	} else {
		for p, n := range before {
			if after[p] != n {
				t.Fatalf("%s grew while paused: %d→%d", p, n, after[p])
			}
		}
	}
	must(r.rec.Accept("cust2"))
	r.step(t)
	r.step(t)
	after := r.counts(t)
	for p, n := range before {
		if after[p] <= n {
			t.Fatalf("%s did not resume: %d→%d", p, n, after[p])
		}
	}
	if err := r.rec.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range r.video.Files() {
		m := readMeta(t, r.f.s.Dir(r.id)+"/media/"+name+".json"+SealedExt)
		if len(m.Pauses) != 1 || m.Pauses[0].To.IsZero() {
			t.Fatalf("pauses %+v", m.Pauses)
		}
	}
}
