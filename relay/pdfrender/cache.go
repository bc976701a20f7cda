package pdfrender

import (
	"container/list"
	"sync"
)

// cacheKey names a rendered page: page 0 holds the page count.
type cacheKey struct {
	digest [32]byte
	page   int
	width  int
}

type cacheEntry struct {
	key   cacheKey
	png   []byte
	count int
}

// entryOverhead approximates the bookkeeping bytes of one entry.
const entryOverhead = 128

// lru is a byte-bounded least-recently-used cache in memory. A nil or
// disabled lru caches nothing.
type lru struct {
	mu    sync.Mutex
	limit int64
	used  int64
	order *list.List // front: most recent
	items map[cacheKey]*list.Element
}

func newLRU(limit int64) *lru {
	return &lru{limit: limit, order: list.New(), items: map[cacheKey]*list.Element{}}
}

func (c *lru) get(k cacheKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).png, true
}

func (c *lru) count(k cacheKey) (int, bool) {
	k.page, k.width = 0, 0
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return 0, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).count, true
}

func (c *lru) putCount(k cacheKey, n int) {
	k.page, k.width = 0, 0
	c.add(&cacheEntry{key: k, count: n})
}

func (c *lru) put(k cacheKey, png []byte) {
	c.add(&cacheEntry{key: k, png: png})
}

func size(e *cacheEntry) int64 { return int64(len(e.png)) + entryOverhead }

func (c *lru) add(e *cacheEntry) {
	if c.limit <= 0 || size(e) > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.key]; ok {
		c.used -= size(el.Value.(*cacheEntry))
		el.Value = e
		c.order.MoveToFront(el)
	} else {
		c.items[e.key] = c.order.PushFront(e)
	}
	c.used += size(e)
	for c.used > c.limit {
		back := c.order.Back()
		old := back.Value.(*cacheEntry)
		c.order.Remove(back)
		delete(c.items, old.key)
		c.used -= size(old)
	}
}

// stats returns the number of entries and the bytes they account for.
func (c *lru) stats() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.used
}

func (c *lru) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	c.items = map[cacheKey]*list.Element{}
	c.used = 0
}
