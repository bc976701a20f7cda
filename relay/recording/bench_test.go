package recording

import (
	"context"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// gop is two seconds of 30 fps VP8 (a keyframe, then interframes of
// 3000 bytes: three packets each) to be replayed with shifted sequence
// numbers and timestamps.
func gop() []*rtp.Packet {
	v := newVideo(9, 3000, 60)
	var out []*rtp.Packet
	for range 60 {
		out = append(out, v.next()...)
	}
	return out
}

// replay writes b.N packets of the gop into sink.
func replay(b *testing.B, sink Sink) {
	pkts := gop()
	seq0, ts0 := pkts[0].SequenceNumber, pkts[0].Timestamp
	base := make([][2]uint32, len(pkts))
	for i, p := range pkts {
		base[i] = [2]uint32{uint32(p.SequenceNumber - seq0), p.Timestamp - ts0}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		round, k := i/len(pkts), i%len(pkts)
		p := pkts[k]
		p.SequenceNumber = seq0 + uint16(base[k][0]) + uint16(round*len(pkts))
		p.Timestamp = ts0 + base[k][1] + uint32(round*60*3000)
		if err := sink.WriteRTP(p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

type noopSink struct{}

func (noopSink) WriteRTP(*rtp.Packet) error { return nil }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }

// BenchmarkTrackWriter measures what recording costs per packet of a
// video track: a no-op sink (the SFU without recording) against the
// writer with its muxer only, and with sealing to a file on disk.
func BenchmarkTrackWriter(b *testing.B) {
	info := TrackInfo{ParticipantID: "p", MimeType: MimeVP8, SSRC: 9}
	b.Run("noop-sink", func(b *testing.B) { replay(b, noopSink{}) })
	b.Run("muxer-only", func(b *testing.B) {
		w, err := NewTrackWriter(info, TrackOptions{Dir: b.TempDir(), Name: "v", sink: discard{}})
		if err != nil {
			b.Fatal(err)
		}
		replay(b, w)
		w.Close()
	})
	b.Run("sealed-file", func(b *testing.B) {
		w, err := NewTrackWriter(info, TrackOptions{Dir: b.TempDir(), Name: "v", Key: testKey})
		if err != nil {
			b.Fatal(err)
		}
		replay(b, w)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("track-not-recording", func(b *testing.B) {
		f := newFixture(b)
		rec, err := f.s.NewRecorder(context.Background(), "t", "0123456789abcdef0123456789abcdef", RecorderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer rec.Close()
		tr, err := rec.AddTrack(info, nil)
		if err != nil {
			b.Fatal(err)
		}
		replay(b, tr)
	})
}

// blockReader yields n bytes copied from a fixed block (cheap synthetic
// media).
type blockReader struct {
	n, read int64
	block   []byte
}

func (r *blockReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), r.n-r.read)], r.block)
	r.read += int64(k)
	return k, nil
}

func (r *blockReader) Close() error { return nil }

func synthItem(name string, size int64, block []byte) Item {
	return Item{Name: name, Size: size, Open: func(context.Context) (io.ReadCloser, error) {
		return &blockReader{n: size, block: block}, nil
	}}
}

// BenchmarkArchiveOneHour builds the archive of a one-hour meeting with
// an advisor and a customer: two video tracks at 500 kbit/s and two Opus
// tracks at 32 kbit/s (≈ 480 MB), 600 chat lines, five 1 MB files, ten
// whiteboard images and two signed PDFs, to io.Discard.
func BenchmarkArchiveOneHour(b *testing.B) {
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i * 7)
	}
	src := &fakeSource{meta: []byte(`{"meeting_id":"m"}`), consent: []byte(`{"entries":[]}`)}
	const hour = 3600
	for i := range 2 {
		n := strconv.Itoa(i)
		src.media = append(src.media,
			synthItem("v"+n+".webm", hour*500_000/8, block), synthItem("v"+n+".json", 600, block),
			synthItem("a"+n+".webm", hour*32_000/8, block), synthItem("a"+n+".json", 600, block))
		src.signatures = append(src.signatures, synthItem("signed"+n+".pdf", 500_000, block))
	}
	for i := range 5 {
		src.files = append(src.files, synthItem("file"+strconv.Itoa(i)+".pdf", 1<<20, block))
	}
	for i := range 10 {
		src.whiteboard = append(src.whiteboard, synthItem("board"+strconv.Itoa(i)+".png", 200_000, block))
	}
	for i := range 600 {
		src.chat = append(src.chat, ChatLine{At: time.Unix(int64(i), 0), AuthorID: "p", AuthorRole: "customer", Text: "Eine Nachricht im Chat, nicht zu lang."})
	}
	var total int64
	b.ResetTimer()
	for range b.N {
		if err := WriteArchive(context.Background(), io.Discard, src, func(done, t int64) { total = t }); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(total)
}
