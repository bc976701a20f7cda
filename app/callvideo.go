package app

import (
	"context"
	"image"
	"image/color"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// frameEvery is how often the call view looks for new video frames
// (30 Hz: every source's frames are shown at up to 30 fps).
const frameEvery = time.Second / 30

// Colours of the call's stage: a calm dark slate that lets faces and
// shared screens stand out in light and dark themes alike.
var (
	stageColor    = color.NRGBA{R: 0x1c, G: 0x22, B: 0x2a, A: 0xff}
	tileColor     = color.NRGBA{R: 0x2a, G: 0x32, B: 0x3c, A: 0xff}
	avatarColor   = color.NRGBA{R: 0x3d, G: 0x5a, B: 0x80, A: 0xff}
	stageText     = color.NRGBA{R: 0xe8, G: 0xec, B: 0xf0, A: 0xff}
	stageTextSoft = color.NRGBA{R: 0xa8, G: 0xb3, B: 0xbf, A: 0xff}
)

// videoTile shows one participant's camera or screen share, or their
// initials while there is no picture, with their name underneath.
type videoTile struct {
	key    string
	screen bool
	// track is the id of the remote track shown, "" for none (UI thread
	// only).
	track string
	// frames counts the frames drawn (UI thread only).
	frames int

	img    *canvas.Image
	avatar *fyne.Container
	letter *canvas.Text
	name   *canvas.Text
	muted  *widget.Icon
	obj    fyne.CanvasObject
}

// newVideoTile builds an empty tile for name.
func newVideoTile(key, name string, screen bool) *videoTile {
	t := &videoTile{key: key, screen: screen}
	bg := canvas.NewRectangle(tileColor)
	bg.CornerRadius = 8
	t.img = canvas.NewImageFromImage(nil)
	t.img.FillMode = canvas.ImageFillContain
	t.img.ScaleMode = canvas.ImageScaleFastest
	t.img.Hide()
	circle := canvas.NewCircle(avatarColor)
	t.letter = canvas.NewText("", stageText)
	t.letter.TextSize = 26
	t.letter.TextStyle = fyne.TextStyle{Bold: true}
	t.letter.Alignment = fyne.TextAlignCenter
	t.avatar = container.NewCenter(container.NewStack(withSize(72, 72, circle), container.NewCenter(t.letter)))
	t.name = canvas.NewText("", stageText)
	t.name.TextSize = theme.TextSize()
	t.muted = widget.NewIcon(theme.NewColoredResource(iconMicOff, theme.ColorNameError))
	t.muted.Hide()
	label := container.NewHBox(t.muted, t.name)
	t.obj = container.NewBorder(nil, container.NewPadded(label), nil, nil, container.NewStack(bg, t.avatar, t.img))
	t.setName(name)
	return t
}

// setName shows the participant's name and initials.
func (t *videoTile) setName(name string) {
	t.name.Text = name
	t.letter.Text = initials(name)
	t.name.Refresh()
	t.letter.Refresh()
}

// setMuted shows or hides the muted-microphone mark.
func (t *videoTile) setMuted(muted bool) {
	if muted {
		t.muted.Show()
	} else {
		t.muted.Hide()
	}
}

// show draws a new frame (UI thread).
func (t *videoTile) show(img image.Image) {
	t.img.Image = img
	t.img.Show()
	t.avatar.Hide()
	t.img.Refresh()
	t.frames++
}

// blank goes back to the initials (UI thread).
func (t *videoTile) blank() {
	t.img.Image = nil
	t.img.Hide()
	t.avatar.Show()
}

// initials are up to two capital letters of name, e.g. "MK".
func initials(name string) string {
	var b strings.Builder
	for _, w := range strings.Fields(name) {
		r := []rune(w)[0]
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
		if b.Len() >= 2 {
			break
		}
	}
	if b.Len() == 0 {
		return "?"
	}
	return b.String()
}

// withSize gives o a minimum size.
func withSize(w, h float32, o fyne.CanvasObject) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(w, h))
	return container.NewStack(r, o)
}

// videoRenderer moves frames from video sources to tiles: a goroutine
// looks at every source at each tick and hands the tiles whose frame
// changed to the UI thread in one batch, never more than one batch at a
// time, so a slow UI drops frames instead of queueing them.
type videoRenderer struct {
	do func(func())

	mu      sync.Mutex
	sources map[*videoTile]tileSource // guarded by mu

	// pending is set while a batch waits for the UI thread.
	pending atomic.Bool
	// done is closed when the goroutine returns.
	done chan struct{}
}

// tileSource is a tile's source and its generation, which grows with
// every change of source so that frame numbers of an earlier source are
// not mistaken for the current one's.
type tileSource struct {
	src VideoSource
	gen uint64
}

// frameUpdate is a new frame for a tile.
type frameUpdate struct {
	tile *videoTile
	gen  uint64
	img  image.Image
}

func newVideoRenderer(do func(func())) *videoRenderer {
	return &videoRenderer{do: do, sources: map[*videoTile]tileSource{}, done: make(chan struct{})}
}

// set gives t a source, or none (nil); t shows its initials until the
// source's first frame.
func (r *videoRenderer) set(t *videoTile, src VideoSource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.sources[t]
	if src == nil {
		delete(r.sources, t)
	} else {
		r.sources[t] = tileSource{src: src, gen: old.gen + 1}
	}
}

// current reports whether gen is still t's source generation.
func (r *videoRenderer) current(t *videoTile, gen uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sources[t]
	return ok && s.gen == gen
}

// run looks for new frames at every tick until ctx is done, then calls
// stop and closes r.done.
func (r *videoRenderer) run(ctx context.Context, ticks <-chan time.Time, stop func()) {
	defer close(r.done)
	defer stop()
	type seen struct{ gen, n uint64 }
	last := map[*videoTile]seen{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
		if r.pending.Load() {
			continue
		}
		r.mu.Lock()
		var batch []frameUpdate
		for t, s := range r.sources {
			img, n := s.src.Latest()
			if img == nil || last[t] == (seen{s.gen, n}) {
				continue
			}
			last[t] = seen{s.gen, n}
			batch = append(batch, frameUpdate{tile: t, gen: s.gen, img: img})
		}
		for t := range last {
			if _, ok := r.sources[t]; !ok {
				delete(last, t)
			}
		}
		r.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		r.pending.Store(true)
		r.do(func() {
			defer r.pending.Store(false)
			if ctx.Err() != nil {
				return
			}
			for _, u := range batch {
				if r.current(u.tile, u.gen) {
					u.tile.show(u.img)
				}
			}
		})
	}
}

// realTicks is a ticker at frameEvery.
func realTicks() (<-chan time.Time, func()) {
	t := time.NewTicker(frameEvery)
	return t.C, t.Stop
}

// tileLayout arranges video tiles on the stage: a screen share large with
// the cameras in a column beside it, otherwise the cameras in the grid
// that gives each the largest 16:9 picture.
type tileLayout struct {
	// big reports whether o is a screen share's tile.
	big func(o fyne.CanvasObject) bool
}

// tileLabel is the height of the name under a tile.
func tileLabel() float32 { return theme.TextSize() + 4*theme.Padding() }

// MinSize implements fyne.Layout.
func (l tileLayout) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(160, 90+tileLabel()) }

// Layout implements fyne.Layout.
func (l tileLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	var big fyne.CanvasObject
	var small []fyne.CanvasObject
	for _, o := range objects {
		if !o.Visible() {
			continue
		}
		if big == nil && l.big(o) {
			big = o
		} else {
			small = append(small, o)
		}
	}
	gap := theme.Padding() * 2
	area := fyne.NewPos(0, 0)
	if big != nil {
		w := size.Width
		if len(small) > 0 {
			w = size.Width * 0.76
		}
		fit(big, area, fyne.NewSize(w, size.Height))
		if len(small) == 0 {
			return
		}
		area = fyne.NewPos(w+gap, 0)
		col := fyne.NewSize(size.Width-w-gap, size.Height)
		h := min(col.Height/float32(len(small)), col.Width*9/16+tileLabel())
		for i, o := range small {
			fit(o, fyne.NewPos(area.X, float32(i)*h), fyne.NewSize(col.Width, h-gap/2))
		}
		return
	}
	n := len(small)
	if n == 0 {
		return
	}
	best, bestW := 1, float32(0)
	for cols := 1; cols <= n; cols++ {
		rows := (n + cols - 1) / cols
		cw := (size.Width - gap*float32(cols-1)) / float32(cols)
		ch := (size.Height-gap*float32(rows-1))/float32(rows) - tileLabel()
		if w := min(cw, ch*16/9); w > bestW {
			best, bestW = cols, w
		}
	}
	rows := (n + best - 1) / best
	cw := (size.Width - gap*float32(best-1)) / float32(best)
	ch := (size.Height - gap*float32(rows-1)) / float32(rows)
	for i, o := range small {
		r, c := i/best, i%best
		fit(o, fyne.NewPos(float32(c)*(cw+gap), float32(r)*(ch+gap)), fyne.NewSize(cw, ch))
	}
}

// fit places a tile in the cell at pos with a 16:9 picture as large as
// the cell allows, centred.
func fit(o fyne.CanvasObject, pos fyne.Position, cell fyne.Size) {
	w := min(cell.Width, (cell.Height-tileLabel())*16/9)
	w = max(w, 0)
	h := w*9/16 + tileLabel()
	o.Resize(fyne.NewSize(w, h))
	o.Move(fyne.NewPos(pos.X+(cell.Width-w)/2, pos.Y+(cell.Height-h)/2))
}

var _ fyne.Layout = tileLayout{}

// spacer is a flexible gap in boxes.
func spacer() fyne.CanvasObject { return layout.NewSpacer() }
