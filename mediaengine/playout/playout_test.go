package playout_test

import (
	"testing"
	"time"

	"github.com/gen2brain/malgo"

	"parley/mediaengine/playout"
)

// The null device consumes audio in real time: what is written drains.
func TestNullDevicePlaysStreams(t *testing.T) {
	p, err := playout.New(playout.Options{Backends: []malgo.Backend{playout.NullBackend}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := p.NewStream()
	s.Write(make([]int16, playout.SampleRate/10))
	deadline := time.Now().Add(5 * time.Second)
	for s.Buffered() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d samples still buffered after 5 s", s.Buffered())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Backlog is capped rather than growing the delay.
	s.Close()
	s.Write(make([]int16, playout.SampleRate))
	if got := s.Buffered(); got > playout.SampleRate/4 {
		t.Fatalf("%d samples buffered, want at most 250 ms", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
