package sfu

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"parley/relay/ids"
	"parley/relay/recording"
	"parley/relay/store"
)

// reportlessAPI is a pion API for a test publisher without interceptors,
// so that the only RTCP sender reports are the ones the test writes.
func reportlessAPI(t *testing.T) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	LoopbackOnly(&se)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
}

// TestSenderReportsReachRecordingSidecar publishes a VP8 track through
// the SFU into a recording and sends three RTCP sender reports (the RTP
// clock wrapping between them, 90 090 ticks per NTP second): the sealed
// sidecar keeps the first and the last and a clock fitted over all three.
// A sender report of another SSRC is not passed on.
func TestSenderReportsReachRecordingSidecar(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := recording.NewStore(recording.Options{Dir: filepath.Join(t.TempDir(), "recordings"), Key: bytes.Repeat([]byte{7}, 32), KV: &store.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	meetingID := ids.New()
	rec, err := st.NewRecorder(ctx, "tenant", meetingID, recording.RecorderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	for _, step := range []func() (recording.Indicator, error){
		func() (recording.Indicator, error) { return rec.Join("adv", recording.RoleAdvisor) },
		func() (recording.Indicator, error) { return rec.Join("a", recording.RoleCustomer) },
		func() (recording.Indicator, error) { return rec.Request("adv") },
		func() (recording.Indicator, error) { return rec.Accept("a") },
	} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}

	s := newTestSFU(t)
	room := s.Room("meeting-sr")
	var mu sync.Mutex
	var tr *recording.Track
	var ssrc uint32
	room.SetSinks(func(pt PublishedTrack) Sink {
		mu.Lock()
		defer mu.Unlock()
		tk, err := rec.AddTrack(recording.TrackInfo{ParticipantID: pt.PeerID, TrackID: pt.TrackID, StreamID: pt.StreamID, MimeType: pt.Codec.MimeType, SSRC: pt.SSRC}, pt.RequestKeyframe)
		if err != nil {
			t.Error(err)
			return nil
		}
		tr, ssrc = tk, pt.SSRC
		return tk
	})
	a := newClient(ctx, t, reportlessAPI(t), room, "a")
	eventually(t, 20*time.Second, "frames recorded", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return tr != nil && tr.Writer() != nil && tr.Writer().Frames() > 5
	})
	mu.Lock()
	track, media := tr, ssrc
	mu.Unlock()

	ntp0 := uint64(3_976_000_000) << 32 // 2025-12-29 in NTP seconds
	rtp0 := uint32(0xffff_0000)
	send := func(ssrc uint32, ntp uint64, rtpTS uint32) {
		if err := a.pc.WriteRTCP([]rtcp.Packet{&rtcp.SenderReport{SSRC: ssrc, NTPTime: ntp, RTPTime: rtpTS}}); err != nil {
			t.Fatal(err)
		}
	}
	send(media^1, ntp0-5<<32, 1) // another stream: not this track's
	for i := range uint64(3) {
		send(media, ntp0+i<<32, rtp0+uint32(i)*90090)
		// Reports arrive in order when sent apart (one SRTCP packet each).
		n := int(i + 1)
		eventually(t, 10*time.Second, "sender report reached the writer", func() bool {
			c := track.Writer().Meta().SenderClock
			return n == 1 && track.Writer().Meta().SenderReport != nil || c != nil && c.Reports == n
		})
	}
	room.Leave(a.name)
	eventually(t, 10*time.Second, "track closed", func() bool { return track.Writer() == nil })

	src, err := st.Source(ctx, meetingID)
	if err != nil {
		t.Fatal(err)
	}
	items, err := src.Media(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var meta recording.TrackMeta
	found := false
	for _, it := range items {
		if !strings.HasSuffix(it.Name, ".json") {
			continue
		}
		rc, err := it.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			t.Fatal(err)
		}
		found = true
	}
	if !found {
		t.Fatal("no sidecar in the recording")
	}
	if meta.SenderReport == nil || meta.SenderReport.NTPTime != ntp0 || meta.SenderReport.RTPTime != rtp0 {
		t.Fatalf("first sender report = %+v, want ntp %d rtp %d", meta.SenderReport, ntp0, rtp0)
	}
	if w := meta.SenderReport.Wall; !w.Equal(ntpWall(ntp0)) || !w.Equal(time.Date(2025, 12, 29, 12, 26, 40, 0, time.UTC)) {
		t.Errorf("first sender report wall = %v", meta.SenderReport.Wall)
	}
	if l := meta.LastSenderReport; l == nil || l.NTPTime != ntp0+2<<32 || l.RTPTime != rtp0+180180 {
		t.Errorf("last sender report = %+v", l)
	}
	if c := meta.SenderClock; c == nil || c.Reports != 3 || math.Abs(c.RTPPerSecond-90090) > 0.01 {
		t.Errorf("sender clock = %+v, want 3 reports at 90090/s", c)
	}
	if meta.Ended.IsZero() || meta.Frames == 0 {
		t.Errorf("sidecar not closed: %+v", meta)
	}
}

// ntpWall converts an NTP timestamp as the sidecar does.
func ntpWall(ntp uint64) time.Time {
	return time.Unix(int64(ntp>>32)-2208988800, int64(ntp&0xffffffff)*1e9>>32).UTC()
}
