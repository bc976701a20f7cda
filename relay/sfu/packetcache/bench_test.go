package packetcache

import "testing"

// benchPacket is a typical video packet: a 12-byte RTP header and payload,
// 1200 bytes in all.
func benchPacket(seq uint16) []byte {
	p := make([]byte, 1200)
	p[0], p[1] = 0x80, 96
	p[2], p[3] = byte(seq>>8), byte(seq)
	return p
}

// BenchmarkPacketCacheStore measures storing one 1200-byte packet into a
// full cache (every Store evicts the slot's previous packet). It should not
// allocate.
func BenchmarkPacketCacheStore(b *testing.B) {
	c := New(512)
	p := benchPacket(0)
	for s := 0; s < c.Size(); s++ { // fill, so the loop measures eviction
		c.Store(uint16(s), p)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	seq := uint16(c.Size())
	for b.Loop() {
		c.Store(seq, p)
		seq++
	}
}

// BenchmarkPacketCacheGet measures answering one NACKed sequence number
// from a full cache, copying the 1200-byte packet out. It should not
// allocate.
func BenchmarkPacketCacheGet(b *testing.B) {
	c := New(512)
	for s := 0; s < c.Size(); s++ {
		c.Store(uint16(s), benchPacket(uint16(s)))
	}
	buf := make([]byte, MaxPacketSize)
	b.ReportAllocs()
	b.SetBytes(1200)
	mask := uint16(c.Size() - 1)
	var seq uint16
	for b.Loop() {
		if c.Get(seq&mask, buf) != 1200 {
			b.Fatalf("seq %d: cache miss", seq&mask)
		}
		seq++
	}
}
