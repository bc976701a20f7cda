//go:build !race

package whiteboard

// floodOps is how many shapes TestMillionShapes sends.
const floodOps = 1_000_000
