//go:build race

package whiteboard

// floodOps is how many shapes TestMillionShapes sends: the race detector
// makes each Apply about fifteen times slower, so a tenth of a million.
const floodOps = 100_000
