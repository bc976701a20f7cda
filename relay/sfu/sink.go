package sfu

import (
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"parley/relay/sfu/packetcache"
)

// Sink takes a copy of every RTP packet of one published track, for
// example to record it (*recording.Track implements it). WriteRTP is called
// on the forwarder's goroutine for each packet as it arrives (sequence
// number, timestamp and SSRC as the publisher sent them, header extensions
// stripped): it must not block and must not keep p. Close is called once
// when the track is unpublished or the room's sinks are replaced.
type Sink interface {
	WriteRTP(p *rtp.Packet) error
	Close() error
}

// SenderReportSink is a Sink that also takes the publisher's RTCP sender
// reports of the encoding it receives (*recording.Track implements it):
// SenderReport is called on the layer's RTCP goroutine with each report's
// NTP and RTP time, so that recorded tracks can be aligned by the sender's
// clock. It must not block.
type SenderReportSink interface {
	Sink
	SenderReport(ntpTime uint64, rtpTime uint32)
}

// PublishedTrack describes a published track to a SinkFunc.
type PublishedTrack struct {
	// PeerID is the publisher's peer id in the room.
	PeerID string
	// TrackID and StreamID are the track's ids as forwarded (a screen
	// share's stream id ends in msg.ScreenSuffix).
	TrackID, StreamID string
	// Codec is the track's codec.
	Codec webrtc.RTPCodecCapability
	// SSRC is the one encoding the sink receives (a simulcast track's
	// first layer).
	SSRC uint32
	// RequestKeyframe asks the publisher for a keyframe of that encoding
	// (a PLI, throttled like the subscribers' requests).
	RequestKeyframe func()
}

// SinkFunc returns the sink of a published track, or nil to leave the
// track out. It is called without the SFU's locks held.
type SinkFunc func(PublishedTrack) Sink

// sinkBox is a forwarder's sink and the layer that feeds it.
type sinkBox struct {
	sink Sink
	ssrc uint32
}

// SetSinks attaches fn to the room: it is called for every track
// published in the room now and later, and the sink it returns receives
// the track's packets until the track ends. Calling SetSinks again (nil
// detaches) closes the sinks given out before.
func (r *Room) SetSinks(fn SinkFunc) {
	r.mu.Lock()
	r.sinks = fn
	fs := append([]*forwarder(nil), r.forwarders...)
	r.mu.Unlock()
	for _, f := range fs {
		f.attachSink(fn)
	}
}

// sinkFunc is the room's current SinkFunc.
func (r *Room) sinkFunc() SinkFunc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sinks
}

// attachSink replaces f's sink with one from fn (none when fn is nil or
// returns nil), closing the old one.
func (f *forwarder) attachSink(fn SinkFunc) {
	var box *sinkBox
	if fn != nil {
		layers := *f.layers.Load()
		if len(layers) > 0 {
			l := layers[0]
			pt := PublishedTrack{TrackID: f.trackID, StreamID: f.streamID, Codec: f.codec, SSRC: l.ssrc,
				RequestKeyframe: func() { f.requestKeyframe(l) }}
			if f.pub != nil {
				pt.PeerID = f.pub.id
			}
			if s := fn(pt); s != nil {
				box = &sinkBox{sink: s, ssrc: l.ssrc}
			}
		}
	}
	f.closeSink(f.sink.Swap(box))
}

// detachSink closes f's sink, if any (the track ended).
func (f *forwarder) detachSink() { f.closeSink(f.sink.Swap(nil)) }

func (f *forwarder) closeSink(b *sinkBox) {
	if b != nil {
		_ = b.sink.Close()
	}
}

// readRTCP reads the publisher's RTCP for layer l (its receiver's reports
// for the layer's rid) until the receiver stops, and passes the layer's
// sender reports to a SenderReportSink. Reading also lets the receive-side
// interceptors see the reports.
func (l *layer) readRTCP(recv *webrtc.RTPReceiver, rid string) {
	buf := make([]byte, packetcache.MaxPacketSize)
	for {
		n, _, err := recv.ReadSimulcast(buf, rid)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == l.ssrc {
				l.toSinkSR(sr)
			}
		}
	}
}

// toSinkSR hands a sender report of layer l to the track's sink, if it
// takes them.
func (l *layer) toSinkSR(sr *rtcp.SenderReport) {
	if b := l.f.sink.Load(); b != nil && b.ssrc == l.ssrc {
		if s, ok := b.sink.(SenderReportSink); ok {
			s.SenderReport(sr.NTPTime, sr.RTPTime)
		}
	}
}

// toSink hands a packet of layer l to the track's sink: one atomic load
// when there is none.
func (l *layer) toSink(p *rtp.Packet) {
	if b := l.f.sink.Load(); b != nil && b.ssrc == l.ssrc {
		_ = b.sink.WriteRTP(p)
	}
}
