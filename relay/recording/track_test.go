package recording

import (
	"os"
	"testing"
)

func newWriter(t *testing.T, f *fixture, info TrackInfo, name string) (*TrackWriter, *int) {
	t.Helper()
	dir := t.TempDir()
	keyframes := 0
	w, err := NewTrackWriter(info, TrackOptions{Dir: dir, Name: name, MeetingID: "m", Key: testKey, Clock: f.clk,
		RequestKeyframe: func() { keyframes++ }})
	if err != nil {
		t.Fatal(err)
	}
	return w, &keyframes
}

func TestTrackWriterVideoGrowsFromKeyframe(t *testing.T) {
	f := newFixture(t)
	w, keyframes := newWriter(t, f, TrackInfo{ParticipantID: "p1", TrackID: "cam", MimeType: "video/vp8", SSRC: 11}, "v")
	v := newVideo(11, 3000, 30)
	v.frame = 1 // start between keyframes: the first 29 frames are interframes
	feed(t, w, v, 29)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.WebMPath()); !os.IsNotExist(err) {
		t.Fatalf("file exists before the first keyframe: %v", err)
	}
	if *keyframes != 1 {
		t.Fatalf("keyframe requests = %d, want 1", *keyframes)
	}
	feed(t, w, v, 40) // keyframe at frame 31, then 39 more
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	d, complete := parseWebM(t, w.WebMPath())
	if complete {
		t.Fatal("file complete before Close")
	}
	first := len(d.blocks())
	if first == 0 || first > 40 {
		t.Fatalf("blocks after 40 frames = %d", first)
	}
	if b := d.blocks()[0]; !b.Keyframe {
		t.Fatal("first block is not a keyframe")
	}
	if got := d.Segment.Tracks.TrackEntry[0].CodecID; got != "V_VP8" {
		t.Fatalf("codec %q", got)
	}
	feed(t, w, v, 60)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	d2, _ := parseWebM(t, w.WebMPath())
	if second := len(d2.blocks()); second <= first {
		t.Fatalf("blocks did not grow: %d then %d", first, second)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d3, complete := parseWebM(t, w.WebMPath())
	if !complete {
		t.Fatal("file incomplete after Close")
	}
	// The sample builder releases a frame when the next one starts: all
	// but the last one are in the file.
	if got := len(d3.blocks()); got != 99 {
		t.Fatalf("blocks after close = %d, want 99", got)
	}
	m := readMeta(t, w.MetaPath())
	if m.Width != 640 || m.Height != 480 || m.Frames != 99 || m.Started.IsZero() || m.Ended.IsZero() || m.Kind != "video" {
		t.Fatalf("sidecar %+v", m)
	}
	// 30 fps: timecodes advance by 33 ms.
	var tc []int64
	for _, c := range d3.Segment.Cluster {
		for _, b := range c.SimpleBlock {
			tc = append(tc, int64(c.Timecode)+int64(b.Timecode))
		}
	}
	if tc[0] != 0 || tc[1] != 33 || tc[98] != 98*3000/90 {
		t.Fatalf("timecodes %v", tc[:3])
	}
}

func TestTrackWriterOpus(t *testing.T) {
	f := newFixture(t)
	w, _ := newWriter(t, f, TrackInfo{ParticipantID: "p1", MimeType: "audio/OPUS", SSRC: 5}, "a")
	a := newAudio(5)
	feed(t, w, a, 50)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	d, _ := parseWebM(t, w.WebMPath())
	n := len(d.blocks())
	if n < 40 {
		t.Fatalf("blocks = %d", n)
	}
	feed(t, w, a, 50)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d, complete := parseWebM(t, w.WebMPath())
	if !complete || len(d.blocks()) <= n || d.Segment.Tracks.TrackEntry[0].CodecID != "A_OPUS" {
		t.Fatalf("complete=%v blocks=%d", complete, len(d.blocks()))
	}
}

func TestTrackWriterFollowsOneSSRC(t *testing.T) {
	f := newFixture(t)
	w, _ := newWriter(t, f, TrackInfo{ParticipantID: "p1", MimeType: MimeOpus}, "a")
	feed(t, w, newAudio(77), 20)
	feed(t, w, newAudio(78), 20) // another stream: ignored
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m := w.Meta(); m.SSRC != 77 || m.Frames < 15 || m.Frames > 20 {
		t.Fatalf("ssrc %d, frames %d", m.SSRC, m.Frames)
	}
}
