package recording

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"parley/relay/clock"
	"parley/relay/store"
)

var testKey = bytes.Repeat([]byte{7}, 32)

// vp8Frame builds a VP8 frame with a valid frame tag (RFC 6386, 9.1):
// keyframes carry the start code and a 640x480 size.
func vp8Frame(key bool, n int, fill byte) []byte {
	size := max(n, 16)
	b := make([]byte, size)
	first := uint32(size - 10)
	tag := first<<5 | 1<<4 // show_frame, version 0
	if !key {
		tag |= 1
	}
	b[0], b[1], b[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if key {
		b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
		binary.LittleEndian.PutUint16(b[6:], 640)
		binary.LittleEndian.PutUint16(b[8:], 480)
	}
	for i := 10; i < size; i++ {
		b[i] = fill
	}
	return b
}

// synth generates the RTP of a VP8 (30 fps, a keyframe every kfEvery
// frames, frames of frameSize bytes split at 1200 bytes) or an Opus track
// (20 ms packets).
type synth struct {
	video     bool
	pk        rtp.Packetizer
	frame     int
	kfEvery   int
	frameSize int
	ssrc      uint32
}

func newVideo(ssrc uint32, frameSize, kfEvery int) *synth {
	return &synth{video: true, ssrc: ssrc, frameSize: frameSize, kfEvery: kfEvery,
		pk: rtp.NewPacketizer(1200, 96, ssrc, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)}
}

func newAudio(ssrc uint32) *synth {
	return &synth{ssrc: ssrc, pk: rtp.NewPacketizer(1200, 111, ssrc, &codecs.OpusPayloader{}, rtp.NewRandomSequencer(), 48000)}
}

// next returns the packets of the next frame.
func (s *synth) next() []*rtp.Packet {
	s.frame++
	if s.video {
		key := s.kfEvery > 0 && (s.frame-1)%s.kfEvery == 0
		return s.pk.Packetize(vp8Frame(key, s.frameSize, byte(s.frame)), 3000)
	}
	payload := make([]byte, 80)
	payload[0] = 0xfc // TOC: CELT FB 20 ms, one frame
	payload[1] = byte(s.frame)
	return s.pk.Packetize(payload, 960)
}

// feed writes frames frames of s into sink.
func feed(t testing.TB, sink Sink, s *synth, frames int) {
	t.Helper()
	for range frames {
		for _, p := range s.next() {
			if err := sink.WriteRTP(p); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// webmDoc is the part of a WebM file the tests look at.
type webmDoc struct {
	Header struct {
		DocType string `ebml:"EBMLDocType"`
	} `ebml:"EBML"`
	Segment struct {
		Tracks struct {
			TrackEntry []struct {
				TrackNumber uint64 `ebml:"TrackNumber"`
				CodecID     string `ebml:"CodecID"`
			} `ebml:"TrackEntry"`
		} `ebml:"Tracks"`
		Cluster []struct {
			Timecode    uint64       `ebml:"Timecode"`
			SimpleBlock []ebml.Block `ebml:"SimpleBlock"`
		} `ebml:"Cluster"`
	} `ebml:"Segment"`
}

// blocks returns the SimpleBlocks of a WebM document in order.
func (d *webmDoc) blocks() []ebml.Block {
	var out []ebml.Block
	for _, c := range d.Segment.Cluster {
		out = append(out, c.SimpleBlock...)
	}
	return out
}

// readSealed decrypts a sealed file; complete reports whether it ended
// with its final chunk.
func readSealed(t testing.TB, path string) (data []byte, complete bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := OpenSealed(f, testKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if errors.Is(err, ErrIncomplete) {
		return b, false
	}
	if err != nil {
		t.Fatalf("reading %s: %v", filepath.Base(path), err)
	}
	return b, true
}

// parseWebM parses a (possibly still growing) sealed WebM file with
// ebml-go's reader.
func parseWebM(t testing.TB, path string) (*webmDoc, bool) {
	t.Helper()
	b, complete := readSealed(t, path)
	var d webmDoc
	if err := ebml.Unmarshal(bytes.NewReader(b), &d, ebml.WithIgnoreUnknown(true)); err != nil {
		t.Fatalf("parsing %s (%d bytes): %v", filepath.Base(path), len(b), err)
	}
	if d.Header.DocType != "webm" {
		t.Fatalf("doc type %q", d.Header.DocType)
	}
	return &d, complete
}

func readMeta(t testing.TB, path string) TrackMeta {
	t.Helper()
	b, complete := readSealed(t, path)
	if !complete {
		t.Fatal("sidecar incomplete")
	}
	var m TrackMeta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// mediaFiles lists the sealed files in a meeting's media folder.
func mediaFiles(t testing.TB, s *Store, meetingID string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(s.Dir(meetingID), mediaDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func webmFiles(t testing.TB, s *Store, meetingID string) []string {
	t.Helper()
	var out []string
	for _, n := range mediaFiles(t, s, meetingID) {
		if strings.HasSuffix(n, ".webm"+SealedExt) {
			out = append(out, filepath.Join(s.Dir(meetingID), mediaDir, n))
		}
	}
	return out
}

type fixture struct {
	s   *Store
	kv  *store.Memory
	clk *clock.Fake
	dir string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	kv := &store.Memory{}
	dir := t.TempDir()
	s, err := NewStore(Options{Dir: filepath.Join(dir, "recordings"), Key: testKey, KV: kv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, kv: kv, clk: clk, dir: dir}
}

var ctx = context.Background()
