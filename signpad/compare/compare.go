// Package compare measures how far a signature's dynamics lie from a
// signer's reference signatures with dynamic time warping (DTW) over
// normalised x, y, pressure and speed. The result flags a signature for a
// human examiner; it is never an automatic verdict on who signed.
package compare

import (
	"errors"
	"fmt"
	"math"

	"parley/signpad"
)

// Options tune the comparison; the zero value uses the defaults.
type Options struct {
	// MaxPoints resamples each signature's pen-down samples to at most
	// this many points (default 400), bounding the O(n·m) cost.
	MaxPoints int
	// Band is the Sakoe–Chiba band as a fraction of the longer sequence
	// (default 0.25); 1 means unconstrained.
	Band float64
	// K sets the threshold from the references' own spread: mean + K ×
	// standard deviation of their pairwise distances (default 3).
	K float64
	// Threshold is used when fewer than two references are given
	// (default 0.6).
	Threshold float64
}

func (o Options) withDefaults() Options {
	if o.MaxPoints <= 0 {
		o.MaxPoints = 400
	}
	if o.Band <= 0 || o.Band > 1 {
		o.Band = 0.25
	}
	if o.K <= 0 {
		o.K = 3
	}
	if o.Threshold <= 0 {
		o.Threshold = 0.6
	}
	return o
}

// ErrTooShort means a signature has too few pen-down samples to compare.
var ErrTooShort = errors.New("compare: too few pen-down samples")

// Result is the outcome of comparing a signature with references.
type Result struct {
	// Distances holds the DTW distance to each reference, in order.
	Distances []float64
	// Mean is the mean of Distances.
	Mean float64
	// Threshold is the distance above which the signature is flagged.
	Threshold float64
	// Flag is true when Mean exceeds Threshold: the signature should be
	// looked at by a human examiner. It is not a verdict.
	Flag bool
}

type seq struct {
	dim int
	v   [][4]float64
}

// features turns the pen-down samples into normalised feature vectors:
// x and y centred and scaled by the path's spread (keeping the aspect
// ratio), pressure and speed standardised; pressure is dropped when
// usePressure is false.
func features(sig signpad.Signature, maxPoints int, usePressure bool) (seq, error) {
	if err := sig.Validate(); err != nil {
		return seq{}, fmt.Errorf("compare: %w", err)
	}
	motions := sig.Motions()
	var idx []int
	for i, s := range sig.Samples {
		if s.Down {
			idx = append(idx, i)
		}
	}
	if len(idx) < 4 {
		return seq{}, ErrTooShort
	}
	if len(idx) > maxPoints {
		r := make([]int, maxPoints)
		for k := range r {
			r[k] = idx[k*(len(idx)-1)/(maxPoints-1)]
		}
		idx = r
	}
	n := len(idx)
	raw := make([][4]float64, n)
	for k, i := range idx {
		s := sig.Samples[i]
		raw[k] = [4]float64{float64(s.X), float64(s.Y), motions[i].Speed, float64(s.Pressure)}
	}
	// x, y: common scale so that the shape is kept.
	var mx, my float64
	for _, p := range raw {
		mx += p[0]
		my += p[1]
	}
	mx, my = mx/float64(n), my/float64(n)
	var spread float64
	for _, p := range raw {
		spread += (p[0]-mx)*(p[0]-mx) + (p[1]-my)*(p[1]-my)
	}
	spread = math.Sqrt(spread / float64(n))
	if spread == 0 {
		spread = 1
	}
	standardise := func(j int) {
		var m, v float64
		for _, p := range raw {
			m += p[j]
		}
		m /= float64(n)
		for _, p := range raw {
			v += (p[j] - m) * (p[j] - m)
		}
		sd := math.Sqrt(v / float64(n))
		if sd == 0 {
			sd = 1
		}
		for k := range raw {
			raw[k][j] = (raw[k][j] - m) / sd
		}
	}
	for k := range raw {
		raw[k][0] = (raw[k][0] - mx) / spread
		raw[k][1] = (raw[k][1] - my) / spread
	}
	standardise(2)
	dim := 3
	if usePressure {
		standardise(3)
		dim = 4
	}
	return seq{dim: dim, v: raw}, nil
}

// dtw returns the DTW cost of aligning a and b inside a band, divided by
// the length of both sequences.
func dtw(a, b seq, band float64) float64 {
	n, m := len(a.v), len(b.v)
	w := max(int(band*float64(max(n, m))), abs(n-m)+1)
	inf := math.Inf(1)
	prev := make([]float64, m+1)
	cur := make([]float64, m+1)
	for j := range prev {
		prev[j] = inf
	}
	prev[0] = 0
	dim := min(a.dim, b.dim)
	for i := 1; i <= n; i++ {
		for j := range cur {
			cur[j] = inf
		}
		// the band follows the diagonal of the n × m grid
		c := i * m / n
		lo, hi := max(1, c-w), min(m, c+w)
		for j := lo; j <= hi; j++ {
			var d float64
			for k := range dim {
				x := a.v[i-1][k] - b.v[j-1][k]
				d += x * x
			}
			d = math.Sqrt(d)
			cur[j] = d + min(prev[j], prev[j-1], cur[j-1])
		}
		prev, cur = cur, prev
	}
	return prev[m] / float64(n+m)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func pressureBoth(a, b signpad.Signature) bool {
	return a.Device.Caps.Has(signpad.CapPressure) && b.Device.Caps.Has(signpad.CapPressure)
}

// Distance is the DTW distance between two signatures' normalised
// dynamics; 0 means identical, larger means more different. Pressure is
// used only when both devices measure it.
func Distance(a, b signpad.Signature, opt Options) (float64, error) {
	opt = opt.withDefaults()
	p := pressureBoth(a, b)
	fa, err := features(a, opt.MaxPoints, p)
	if err != nil {
		return 0, err
	}
	fb, err := features(b, opt.MaxPoints, p)
	if err != nil {
		return 0, err
	}
	return dtw(fa, fb, opt.Band), nil
}

// Compare measures sig against the references and flags it when its mean
// distance exceeds what the references show among themselves (or
// Options.Threshold with fewer than two references).
func Compare(sig signpad.Signature, refs []signpad.Signature, opt Options) (Result, error) {
	opt = opt.withDefaults()
	if len(refs) == 0 {
		return Result{}, errors.New("compare: no reference signature")
	}
	var res Result
	for i, r := range refs {
		d, err := Distance(sig, r, opt)
		if err != nil {
			return Result{}, fmt.Errorf("compare: reference %d: %w", i, err)
		}
		res.Distances = append(res.Distances, d)
		res.Mean += d
	}
	res.Mean /= float64(len(refs))
	res.Threshold = opt.Threshold
	if len(refs) >= 2 {
		var ds []float64
		for i := range refs {
			for j := i + 1; j < len(refs); j++ {
				d, err := Distance(refs[i], refs[j], opt)
				if err != nil {
					return Result{}, fmt.Errorf("compare: references %d and %d: %w", i, j, err)
				}
				ds = append(ds, d)
			}
		}
		var m, v float64
		for _, d := range ds {
			m += d
		}
		m /= float64(len(ds))
		for _, d := range ds {
			v += (d - m) * (d - m)
		}
		sd := math.Sqrt(v / float64(len(ds)))
		// A floor on the spread keeps near-identical references from
		// flagging every natural variation.
		res.Threshold = m + opt.K*max(sd, 0.25*m, 0.02)
	}
	res.Flag = res.Mean > res.Threshold
	return res, nil
}
