package signpad

import (
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"parley/relay/clock"
)

// PointerUnitsPerPx is the Recorder's device resolution: positions given
// in UI units (Fyne's device-independent pixels) are stored in hundredths.
const PointerUnitsPerPx = 100

// Recorder is the fallback capture back-end for plain pointer input (mouse,
// touch or a pen without a driver the app can read): positions only,
// timestamped on arrival from an injected clock. The app calls Down, Move
// and Up from its pointer handlers; Signature returns what was recorded.
// Errors (time going backwards, too many samples, coordinates that are
// not finite) are sticky and reported by Signature and Next.
//
// Recorder is safe for concurrent use. It implements Source: Next drains
// the samples recorded so far and returns io.EOF when none are queued.
type Recorder struct {
	// Clock timestamps the events; nil means the real clock (monotonic).
	Clock clock.Clock

	mu      sync.Mutex
	start   time.Time
	samples []Sample
	down    bool
	err     error
	next    int
}

var _ Source = (*Recorder)(nil)

// Device describes the pointer fallback: unbounded position axes in
// hundredths of a UI unit and hover points (moves with the button up).
func (r *Recorder) Device() Device {
	return Device{Source: "pointer", Name: "pointer", Caps: CapHover}
}

// Down records the pen (or button) going down at x, y.
func (r *Recorder) Down(x, y float32) { r.add(x, y, true) }

// Move records a movement to x, y: a pen-down sample while down, a hover
// point otherwise.
func (r *Recorder) Move(x, y float32) {
	r.mu.Lock()
	d := r.down
	r.mu.Unlock()
	r.add(x, y, d)
}

// Up records the pen (or button) lifting at x, y.
func (r *Recorder) Up(x, y float32) { r.add(x, y, false) }

func (r *Recorder) add(x, y float32, down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	now := clock.Or(r.Clock).Now()
	if len(r.samples) == 0 {
		r.start = now
	}
	if len(r.samples) >= MaxSamples {
		r.err = fmt.Errorf("%w: more than %d pointer events", ErrTooManySamples, MaxSamples)
		return
	}
	fx, fy := float64(x)*PointerUnitsPerPx, float64(y)*PointerUnitsPerPx
	if math.IsNaN(fx) || math.IsNaN(fy) || math.Abs(fx) > math.MaxInt32 || math.Abs(fy) > math.MaxInt32 {
		r.err = fmt.Errorf("%w: pointer position not finite or too large", ErrOutOfRange)
		return
	}
	t := now.Sub(r.start).Microseconds()
	if n := len(r.samples); n > 0 && t < r.samples[n-1].T {
		r.err = fmt.Errorf("%w: pointer event at %d µs after %d µs", ErrTimeBackwards, t, r.samples[n-1].T)
		return
	}
	if t > MaxDuration.Microseconds() {
		r.err = fmt.Errorf("%w: pointer event at %d µs", ErrTooLong, t)
		return
	}
	r.down = down
	r.samples = append(r.samples, Sample{T: t, X: int32(math.Round(fx)), Y: int32(math.Round(fy)), Down: down})
}

// Next returns the next recorded sample not yet returned, io.EOF when none
// is queued, or the recorder's sticky error.
func (r *Recorder) Next() (Sample, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return Sample{}, r.err
	}
	if r.next >= len(r.samples) {
		return Sample{}, io.EOF
	}
	r.next++
	return r.samples[r.next-1], nil
}

// Signature returns everything recorded so far as a validated signature.
func (r *Recorder) Signature() (Signature, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return Signature{}, r.err
	}
	sig := Signature{Device: r.Device(), Start: r.start.UTC(), Samples: append([]Sample(nil), r.samples...)}
	if err := sig.Validate(); err != nil {
		return Signature{}, err
	}
	return sig, nil
}

// Reset forgets everything recorded (the kiosk's "clear" button).
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples, r.down, r.err, r.next, r.start = nil, false, nil, 0, time.Time{}
}
