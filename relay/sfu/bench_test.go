package sfu

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"parley/relay/sfu/packetcache"
)

// countingWriter is the webrtc.TrackLocalWriter of a fake subscriber
// connection: it counts what the local track would hand to the SRTP
// session instead of encrypting and sending it.
type countingWriter struct {
	packets atomic.Int64
	bytes   atomic.Int64
}

func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n := h.MarshalSize() + len(payload)
	w.packets.Add(1)
	w.bytes.Add(int64(n))
	return n, nil
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.packets.Add(1)
	w.bytes.Add(int64(len(b)))
	return len(b), nil
}

// fakeTrackLocalContext is what a PeerConnection passes to
// TrackLocal.Bind after negotiation, with a counting write stream.
type fakeTrackLocalContext struct {
	id     string
	ssrc   webrtc.SSRC
	codecs []webrtc.RTPCodecParameters
	w      webrtc.TrackLocalWriter
}

func (c *fakeTrackLocalContext) CodecParameters() []webrtc.RTPCodecParameters { return c.codecs }
func (c *fakeTrackLocalContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter {
	return nil
}
func (c *fakeTrackLocalContext) SSRC() webrtc.SSRC                       { return c.ssrc }
func (c *fakeTrackLocalContext) SSRCRetransmission() webrtc.SSRC         { return 0 }
func (c *fakeTrackLocalContext) SSRCForwardErrorCorrection() webrtc.SSRC { return 0 }
func (c *fakeTrackLocalContext) WriteStream() webrtc.TrackLocalWriter    { return c.w }
func (c *fakeTrackLocalContext) ID() string                              { return c.id }
func (c *fakeTrackLocalContext) RTCPReader() interceptor.RTCPReader      { return nil }

var vp8Codec = webrtc.RTPCodecParameters{
	RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	PayloadType:        96,
}

// benchPublishedPacket is a marshalled 1200-byte VP8 packet as a publisher
// sends it, with a transport-wide sequence number header extension (which
// the forwarder strips).
func benchPublishedPacket(b *testing.B) []byte {
	b.Helper()
	p := rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			PayloadType:    96,
			SequenceNumber: 0,
			Timestamp:      90000,
			SSRC:           0x1234,
		},
	}
	if err := p.SetExtension(3, []byte{0, 1}); err != nil {
		b.Fatal(err)
	}
	p.Payload = make([]byte, 1200-p.Header.MarshalSize())
	raw, err := p.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkFanout measures the forwarder's per-packet path from one
// published track to N subscribers: layer.forward (unmarshal, store in the
// packet cache, strip header extensions, rewrite sequence number and
// timestamp per subscriber, and WriteRTP on each subscriber's
// *webrtc.TrackLocalStaticRTP), with the tracks bound (as a PeerConnection
// would bind them) to a fake TrackLocalContext whose writer counts packets
// instead of encrypting and sending them. SRTP, interceptors and the network
// are not included; layer.run, which reads from a *webrtc.TrackRemote (it
// cannot be made without a PeerConnection), calls the same forward.
//
// One op is one published packet, delivered to every subscriber.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 2, 5, 10, 25, 50} {
		b.Run("subs="+strconv.Itoa(n), func(b *testing.B) {
			f := newForwarder(nil, "video", "pub", vp8Codec.RTPCodecCapability, time.Now, nil)
			l := f.addLayer("", 0x1234)
			writers := make([]*countingWriter, n)
			for i := range writers {
				track, err := webrtc.NewTrackLocalStaticRTP(vp8Codec.RTPCodecCapability, "video", "pub")
				if err != nil {
					b.Fatal(err)
				}
				writers[i] = &countingWriter{}
				ctx := &fakeTrackLocalContext{
					id:     fmt.Sprintf("sub%d", i),
					ssrc:   webrtc.SSRC(1000 + i),
					codecs: []webrtc.RTPCodecParameters{vp8Codec},
					w:      writers[i],
				}
				if _, err := track.Bind(ctx); err != nil {
					b.Fatal(err)
				}
				f.addSubscriber(&subscriber{track: track})
			}

			raw := benchPublishedPacket(b)
			buf := make([]byte, packetcache.MaxPacketSize)
			var pkt rtp.Packet
			var seq uint16
			b.ReportAllocs()
			b.SetBytes(int64(len(raw))) // published bytes per op
			for b.Loop() {
				// What f.remote.Read(buf) returns.
				n := copy(buf, raw)
				buf[2], buf[3] = byte(seq>>8), byte(seq)
				seq++

				l.forward(buf[:n], &pkt)
			}
			b.StopTimer()

			for i, w := range writers {
				if got := w.packets.Load(); got != int64(b.N) {
					b.Fatalf("subscriber %d got %d packets, want %d", i, got, b.N)
				}
			}
			if d := b.Elapsed(); d > 0 {
				delivered := float64(b.N) * float64(n)
				b.ReportMetric(delivered/d.Seconds(), "delivered_pkts/s")
				b.ReportMetric(float64(d.Nanoseconds())/delivered, "ns/delivered_pkt")
			}
		})
	}
}
