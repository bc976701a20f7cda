package pdfrender

// CacheStats returns the number of cached entries and their bytes.
func CacheStats(r *Renderer) (int, int64) { return r.cache.stats() }
