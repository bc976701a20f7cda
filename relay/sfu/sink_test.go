package sfu

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"parley/relay/ids"
	"parley/relay/recording"
	"parley/relay/sfu/packetcache"
	"parley/relay/store"
)

// memSink keeps what a Sink receives.
type memSink struct {
	mu     sync.Mutex
	seqs   []uint16
	ssrcs  []uint32
	exts   int
	closed int
}

func (m *memSink) WriteRTP(p *rtp.Packet) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seqs = append(m.seqs, p.SequenceNumber)
	m.ssrcs = append(m.ssrcs, p.SSRC)
	if p.Extension {
		m.exts++
	}
	return nil
}

func (m *memSink) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed++
	return nil
}

func (m *memSink) state() (seqs []uint16, ssrcs []uint32, exts, closed int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]uint16(nil), m.seqs...), append([]uint32(nil), m.ssrcs...), m.exts, m.closed
}

// publishedPacket is a marshalled VP8 packet of the given SSRC with a
// header extension, as a publisher sends it.
func publishedPacket(t testing.TB, ssrc uint32, seq uint16) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 3000 * uint32(seq), SSRC: ssrc}, Payload: []byte{0x10, 0, 0, 0}}
	if err := p.SetExtension(3, []byte{0, 1}); err != nil {
		t.Fatal(err)
	}
	raw, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRoomSinks(t *testing.T) {
	f := newForwarder(nil, "video", "pub", vp8Codec.RTPCodecCapability, time.Now, nil)
	low := f.addLayer("l", 0x1111)
	high := f.addLayer("h", 0x2222)
	room := &Room{peers: map[string]*Peer{}, forwarders: []*forwarder{f}}

	var got []PublishedTrack
	sink := &memSink{}
	room.SetSinks(func(pt PublishedTrack) Sink {
		got = append(got, pt)
		return sink
	})
	if len(got) != 1 || got[0].SSRC != 0x1111 || got[0].TrackID != "video" || got[0].StreamID != "pub" || got[0].RequestKeyframe == nil {
		t.Fatalf("SinkFunc called with %+v, want the track's first layer once", got)
	}
	var pkt rtp.Packet
	for seq := uint16(10); seq < 13; seq++ {
		low.forward(publishedPacket(t, 0x1111, seq), &pkt)
		high.forward(publishedPacket(t, 0x2222, seq+100), &pkt)
	}
	seqs, ssrcs, exts, closed := sink.state()
	if len(seqs) != 3 || seqs[0] != 10 || seqs[2] != 12 {
		t.Fatalf("sink got sequence numbers %v, want 10..12 of the first layer", seqs)
	}
	for _, s := range ssrcs {
		if s != 0x1111 {
			t.Fatalf("sink got SSRC %#x, want only the first layer's", s)
		}
	}
	if exts != 0 || closed != 0 {
		t.Fatalf("sink got %d packets with extensions, %d closes", exts, closed)
	}

	// Replacing the sinks closes the old one; nil attaches none.
	room.SetSinks(nil)
	if _, _, _, closed := sink.state(); closed != 1 {
		t.Fatalf("old sink closed %d times, want 1", closed)
	}
	low.forward(publishedPacket(t, 0x1111, 13), &pkt)
	if seqs, _, _, _ := sink.state(); len(seqs) != 3 {
		t.Fatalf("detached sink still gets packets: %v", seqs)
	}

	// A SinkFunc may leave a track out.
	room.SetSinks(func(PublishedTrack) Sink { return nil })
	low.forward(publishedPacket(t, 0x1111, 14), &pkt)

	// The track ending closes its sink.
	s2 := &memSink{}
	room.SetSinks(func(PublishedTrack) Sink { return s2 })
	low.forward(publishedPacket(t, 0x1111, 15), &pkt)
	f.detachSink()
	if seqs, _, _, closed := s2.state(); len(seqs) != 1 || closed != 1 {
		t.Fatalf("second sink: %v packets, closed %d times; want 1 and 1", seqs, closed)
	}
	if room.sinkFunc() == nil {
		t.Fatal("room forgot its SinkFunc")
	}
}

// TestRoomSinksGetPublishedTracks runs a real publisher: a track
// published after SetSinks reaches the sink with the publisher's peer id.
func TestRoomSinksGetPublishedTracks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newTestSFU(t)
	room := s.Room("meeting-sinks")
	var mu sync.Mutex
	sinks := map[string]*memSink{}
	room.SetSinks(func(pt PublishedTrack) Sink {
		mu.Lock()
		defer mu.Unlock()
		m := &memSink{}
		sinks[pt.PeerID+"/"+pt.Codec.MimeType] = m
		return m
	})
	a := newClient(ctx, t, clientAPI(t), room, "a")
	eventually(t, 10*time.Second, "packets of a's track at its sink", func() bool {
		mu.Lock()
		defer mu.Unlock()
		m := sinks["a/"+webrtc.MimeTypeVP8]
		if m == nil {
			return false
		}
		seqs, _, _, _ := m.state()
		return len(seqs) >= 10
	})
	room.Leave(a.name)
	eventually(t, 10*time.Second, "a's sink closed after a left", func() bool {
		mu.Lock()
		defer mu.Unlock()
		_, _, _, closed := sinks["a/"+webrtc.MimeTypeVP8].state()
		return closed == 1
	})
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecordingOverhead pushes the same VP8 stream (30 fps, 1 Mbit/s:
// 3 packets of ~1200 bytes per frame, a keyframe every 2 s) through the
// forwarder's per-packet path to one subscriber, first without a sink and
// then with a recording.Track that records it (depacketising, WebM muxing,
// sealing to a file; the writer's goroutine included), and reports the
// process CPU time per packet of both and their ratio. The track is
// flushed every 90 packets (one second of media, as the writer seals on
// its own), which also keeps its queue from dropping packets.
func BenchmarkRecordingOverhead(b *testing.B) {
	// One minute of video, replayed with shifted numbers.
	pk := rtp.NewPacketizer(1200, 96, 0x1234, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewFixedSequencer(1), 90000)
	var raws [][]byte
	for i := range 1800 {
		frame := make([]byte, 3400)
		tag := uint32(len(frame)-10)<<5 | 1<<4
		if i%60 != 0 {
			tag |= 1
		} else {
			copy(frame[3:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
		}
		frame[0], frame[1], frame[2] = byte(tag), byte(tag>>8), byte(tag>>16)
		for _, p := range pk.Packetize(frame, 3000) {
			raw, err := p.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			raws = append(raws, raw)
		}
	}
	newPath := func() (*forwarder, *layer) {
		f := newForwarder(nil, "video", "pub", vp8Codec.RTPCodecCapability, time.Now, nil)
		l := f.addLayer("", 0x1234)
		track, err := webrtc.NewTrackLocalStaticRTP(vp8Codec.RTPCodecCapability, "video", "pub")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := track.Bind(&fakeTrackLocalContext{id: "sub", ssrc: 1000, codecs: []webrtc.RTPCodecParameters{vp8Codec}, w: &countingWriter{}}); err != nil {
			b.Fatal(err)
		}
		f.addSubscriber(&subscriber{track: track})
		return f, l
	}
	push := func(l *layer, n int, flush func()) time.Duration {
		buf := make([]byte, packetcache.MaxPacketSize)
		var pkt rtp.Packet
		start := cpuTime(b)
		for i := range n {
			raw := raws[i%len(raws)]
			round := uint32(i / len(raws))
			k := copy(buf, raw)
			seq := uint16(i + 1)
			ts := (uint32(buf[4])<<24 | uint32(buf[5])<<16 | uint32(buf[6])<<8 | uint32(buf[7])) + round*1800*3000
			buf[2], buf[3] = byte(seq>>8), byte(seq)
			buf[4], buf[5], buf[6], buf[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
			l.forward(buf[:k], &pkt)
			if flush != nil && i%90 == 89 {
				flush()
			}
		}
		if flush != nil {
			flush()
		}
		return cpuTime(b) - start
	}

	st, err := recording.NewStore(recording.Options{Dir: filepath.Join(b.TempDir(), "recordings"), Key: bytes.Repeat([]byte{7}, 32), KV: &store.Memory{}})
	if err != nil {
		b.Fatal(err)
	}
	rec, err := st.NewRecorder(context.Background(), "tenant", ids.New(), recording.RecorderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	for _, step := range []func() (recording.Indicator, error){
		func() (recording.Indicator, error) { return rec.Join("adv", recording.RoleAdvisor) },
		func() (recording.Indicator, error) { return rec.Join("cust", recording.RoleCustomer) },
		func() (recording.Indicator, error) { return rec.Request("adv") },
		func() (recording.Indicator, error) { return rec.Accept("cust") },
	} {
		if _, err := step(); err != nil {
			b.Fatal(err)
		}
	}
	var tr *recording.Track
	fRec, lRec := newPath()
	(&Room{forwarders: []*forwarder{fRec}}).SetSinks(func(pt PublishedTrack) Sink {
		tr, err = rec.AddTrack(recording.TrackInfo{ParticipantID: "cust", TrackID: pt.TrackID, StreamID: pt.StreamID, MimeType: pt.Codec.MimeType, SSRC: pt.SSRC}, pt.RequestKeyframe)
		if err != nil {
			b.Fatal(err)
		}
		return tr
	})
	_, lOff := newPath()

	n := b.N
	b.ResetTimer()
	off := push(lOff, n, nil)
	on := push(lRec, n, func() {
		if err := tr.Flush(); err != nil {
			b.Fatal(err)
		}
	})
	if d := tr.Dropped(); d != 0 {
		b.Fatalf("the recorder dropped %d packets", d)
	}
	b.ReportMetric(float64(off.Nanoseconds())/float64(n), "cpu-ns/pkt-forward")
	b.ReportMetric(float64(on.Nanoseconds())/float64(n), "cpu-ns/pkt-recording")
	if off > 0 {
		b.ReportMetric(float64(on)/float64(off), "cpu-ratio")
	}
}
