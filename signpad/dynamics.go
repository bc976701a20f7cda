package signpad

import (
	"math"
	"time"
)

// Motion is the derived dynamics at one sample, computed from its
// neighbours in the same stroke.
type Motion struct {
	// T is the sample's timestamp in microseconds.
	T int64
	// Vx and Vy are the velocity components (length units per second).
	Vx, Vy float64
	// Speed is the magnitude of the velocity.
	Speed float64
	// Direction is the direction of movement in radians, atan2(dy, dx),
	// with y growing downwards.
	Direction float64
	// Accel is the rate of change of Speed (length units per second²).
	Accel float64
}

// Pause is a stretch of time without writing: the pen lifted between
// strokes, or resting on the surface without moving.
type Pause struct {
	// Start is when the pause began, in microseconds.
	Start int64
	// Duration is how long it lasted.
	Duration time.Duration
	// PenUp is true for a pause between strokes, false for a resting pen.
	PenUp bool
}

// Features summarises a signature's dynamics.
type Features struct {
	// Duration is the time from first to last sample.
	Duration time.Duration
	// PenDown is the total time the pen touched the surface.
	PenDown time.Duration
	// Strokes is the number of pen-down runs.
	Strokes int
	// Gaps is the number of reporting gaps (lost reports).
	Gaps int
	// Pauses lists pen-up pauses and resting-pen pauses of at least
	// MinPause.
	Pauses []Pause
	// PathLength is the length of the pen-down path.
	PathLength float64
	// MeanSpeed is PathLength divided by PenDown.
	MeanSpeed float64
	// MaxSpeed is the highest pen-down speed.
	MaxSpeed float64
	// MeanAbsAccel is the mean magnitude of the pen-down acceleration.
	MeanAbsAccel float64
	// Unit is "mm" when the device's resolution is known, "unit" (device
	// units) otherwise; speeds are per second in that unit.
	Unit string
}

// MinPause is the shortest stretch counted as a pause.
const MinPause = 50 * time.Millisecond

// restSpeed is the speed in mm/s below which a touching pen counts as resting.
const restSpeed = 2.0

// scale returns the factors that turn device units into the Features unit.
func (d Device) scale() (sx, sy float64, unit string) {
	if d.X.Res > 0 && d.Y.Res > 0 {
		return 1 / float64(d.X.Res), 1 / float64(d.Y.Res), "mm"
	}
	return 1, 1, "unit"
}

// Motions derives velocity, direction and acceleration for every sample by
// central differences inside each stroke; hover samples and the first and
// last sample of a stroke use one-sided differences. Samples at the same
// timestamp as their neighbour get the neighbour's motion.
func (s Signature) Motions() []Motion {
	sx, sy, _ := s.Device.scale()
	out := make([]Motion, len(s.Samples))
	for i, p := range s.Samples {
		out[i].T = p.T
		lo, hi := i, i
		if i > 0 && s.Samples[i-1].Down == p.Down && !p.Gap {
			lo = i - 1
		}
		if i+1 < len(s.Samples) && s.Samples[i+1].Down == p.Down && !s.Samples[i+1].Gap {
			hi = i + 1
		}
		a, b := s.Samples[lo], s.Samples[hi]
		dt := float64(b.T-a.T) / 1e6
		if dt <= 0 {
			if i > 0 {
				out[i] = out[i-1]
				out[i].T = p.T
			}
			continue
		}
		vx := float64(b.X-a.X) * sx / dt
		vy := float64(b.Y-a.Y) * sy / dt
		out[i].Vx, out[i].Vy = vx, vy
		out[i].Speed = math.Hypot(vx, vy)
		out[i].Direction = math.Atan2(vy, vx)
	}
	for i := range out {
		lo, hi := max(i-1, 0), min(i+1, len(out)-1)
		dt := float64(out[hi].T-out[lo].T) / 1e6
		if dt > 0 {
			out[i].Accel = (out[hi].Speed - out[lo].Speed) / dt
		}
	}
	return out
}

// Features computes the summary dynamics of the signature.
func (s Signature) Features() Features {
	sx, sy, unit := s.Device.scale()
	f := Features{Duration: s.Duration(), Unit: unit}
	ranges := s.strokeRanges()
	f.Strokes = len(ranges)
	for _, p := range s.Samples {
		if p.Gap {
			f.Gaps++
		}
	}
	motions := s.Motions()
	var accelSum float64
	var accelN int
	var lastEnd int64 = -1
	for _, r := range ranges {
		idx := r[0]
		st := Stroke{Samples: s.Samples[r[0]:r[1]]}
		first := st.Samples[0]
		if lastEnd >= 0 && time.Duration(first.T-lastEnd)*time.Microsecond >= MinPause {
			f.Pauses = append(f.Pauses, Pause{Start: lastEnd, Duration: time.Duration(first.T-lastEnd) * time.Microsecond, PenUp: true})
		}
		lastEnd = st.Samples[len(st.Samples)-1].T
		f.PenDown += st.Duration()
		restStart := int64(-1)
		for j, p := range st.Samples {
			m := motions[idx+j]
			if j > 0 {
				q := st.Samples[j-1]
				f.PathLength += math.Hypot(float64(p.X-q.X)*sx, float64(p.Y-q.Y)*sy)
			}
			f.MaxSpeed = math.Max(f.MaxSpeed, m.Speed)
			accelSum += math.Abs(m.Accel)
			accelN++
			threshold := restSpeed
			if unit != "mm" {
				threshold = 0
			}
			resting := m.Speed <= threshold
			switch {
			case resting && restStart < 0:
				restStart = p.T
			case !resting && restStart >= 0:
				if d := time.Duration(p.T-restStart) * time.Microsecond; d >= MinPause {
					f.Pauses = append(f.Pauses, Pause{Start: restStart, Duration: d})
				}
				restStart = -1
			}
		}
		if restStart >= 0 {
			if d := time.Duration(lastEnd-restStart) * time.Microsecond; d >= MinPause {
				f.Pauses = append(f.Pauses, Pause{Start: restStart, Duration: d})
			}
		}
	}
	if f.PenDown > 0 {
		f.MeanSpeed = f.PathLength / f.PenDown.Seconds()
	}
	if accelN > 0 {
		f.MeanAbsAccel = accelSum / float64(accelN)
	}
	return f
}
