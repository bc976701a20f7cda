// Package packetcache keeps the most recent RTP packets of one published
// track, indexed by sequence number, so that NACKs from any number of
// subscribers are answered from a single cache per publisher (as in Galène)
// instead of a retransmission buffer per subscriber.
package packetcache

import "sync"

// MaxPacketSize is the largest packet the cache stores; longer packets are
// dropped by Store.
const MaxPacketSize = 1500

type entry struct {
	seq    uint16
	length uint16
	valid  bool
	buf    [MaxPacketSize]byte
}

// Cache holds the last Size packets by sequence number. Its slots are
// allocated once, so storing a packet never allocates. It is safe for
// concurrent use.
type Cache struct {
	mu      sync.Mutex
	mask    uint16
	entries []entry
}

// New returns a cache with room for size packets, rounded up to a power of
// two between 1 and 65536 so that sequence-number wraparound maps every
// sequence number to a stable slot.
func New(size int) *Cache {
	n := 1
	for n < size && n < 65536 {
		n <<= 1
	}
	return &Cache{mask: uint16(n - 1), entries: make([]entry, n)}
}

// Size is the number of packets the cache can hold.
func (c *Cache) Size() int { return len(c.entries) }

// Store copies pkt, the marshalled RTP packet with sequence number seq, into
// the cache, evicting the packet that held the same slot. A packet older
// than the one already in its slot (a late arrival from more than Size
// packets ago) is not stored. It reports whether the packet was stored.
func (c *Cache) Store(seq uint16, pkt []byte) bool {
	if len(pkt) > MaxPacketSize || len(pkt) == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &c.entries[seq&c.mask]
	if e.valid && e.seq != seq && int16(seq-e.seq) < 0 {
		return false
	}
	e.seq = seq
	e.length = uint16(copy(e.buf[:], pkt))
	e.valid = true
	return true
}

// Get copies the packet with sequence number seq into buf and returns its
// length, or 0 when the packet is not (or no longer) in the cache or buf is
// too small.
func (c *Cache) Get(seq uint16, buf []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &c.entries[seq&c.mask]
	if !e.valid || e.seq != seq || len(buf) < int(e.length) {
		return 0
	}
	return copy(buf, e.buf[:e.length])
}
