package packetcache

import (
	"bytes"
	"testing"
)

func pkt(seq uint16) []byte {
	return []byte{0x80, 96, byte(seq >> 8), byte(seq), 1, 2, 3}
}

func TestStoreGet(t *testing.T) {
	c := New(500)
	if c.Size() != 512 {
		t.Fatalf("size %d, want 512", c.Size())
	}
	buf := make([]byte, MaxPacketSize)
	if n := c.Get(7, buf); n != 0 {
		t.Fatalf("empty cache returned %d bytes", n)
	}
	for s := uint16(0); s < 10; s++ {
		c.Store(s, pkt(s))
	}
	for s := uint16(0); s < 10; s++ {
		n := c.Get(s, buf)
		if !bytes.Equal(buf[:n], pkt(s)) {
			t.Fatalf("seq %d: got %x", s, buf[:n])
		}
	}
	if n := c.Get(10, buf); n != 0 {
		t.Fatalf("never stored seq 10 returned %d bytes", n)
	}
	if n := c.Get(3, make([]byte, 2)); n != 0 {
		t.Fatalf("short buffer returned %d bytes", n)
	}
}

func TestWraparound(t *testing.T) {
	c := New(512)
	buf := make([]byte, MaxPacketSize)
	for i := 0; i < 20; i++ {
		s := uint16(65530 + i) // 65530..65535, 0..13
		if !c.Store(s, pkt(s)) {
			t.Fatalf("seq %d not stored", s)
		}
	}
	for i := 0; i < 20; i++ {
		s := uint16(65530 + i)
		n := c.Get(s, buf)
		if !bytes.Equal(buf[:n], pkt(s)) {
			t.Fatalf("seq %d after wraparound: got %x", s, buf[:n])
		}
	}
}

func TestEviction(t *testing.T) {
	c := New(512)
	buf := make([]byte, MaxPacketSize)
	for s := 0; s < 600; s++ {
		c.Store(uint16(s), pkt(uint16(s)))
	}
	for s := 0; s < 600; s++ {
		n := c.Get(uint16(s), buf)
		if s < 600-512 && n != 0 {
			t.Fatalf("seq %d should have been evicted", s)
		}
		if s >= 600-512 && !bytes.Equal(buf[:n], pkt(uint16(s))) {
			t.Fatalf("seq %d missing", s)
		}
	}
	// A late packet from before the window must not evict a newer one.
	if c.Store(5, pkt(5)) {
		t.Fatal("stale seq 5 evicted seq 517")
	}
	if n := c.Get(517, buf); !bytes.Equal(buf[:n], pkt(517)) {
		t.Fatal("seq 517 lost to a stale packet")
	}
	if c.Store(1, make([]byte, MaxPacketSize+1)) {
		t.Fatal("oversized packet stored")
	}
}
