// Command inklatency measures pen-to-ink latency of the desktop signature
// pad (signpad/fynepad) in a real Fyne window (GL driver, Mesa's software
// renderer) under a private Xvfb.
//
// What is measured, per pointer event: from just before the XTest
// request that injects a pointer motion (with the button held) is sent to
// the X server, to the first moment the ink of that motion's segment end
// is visible in the X server's screen contents (GetImage of a small
// region around the new point, polled every 250 µs). Without a compositor
// the window's buffer swap writes straight into the screen, so "visible
// through GetImage" is the frame presented. The figure includes X event
// delivery to GLFW, Fyne's event dispatch to the widget, the raster
// update, the canvas refresh, the next frame's paint and texture upload,
// and the swap; it excludes the real input device and the display's own
// scan-out (about half a refresh interval on a real monitor). Polling
// adds up to 0.25 ms plus one GetImage round trip.
//
// Events are injected one at a time (the next one after the previous
// became visible, and at least 8 ms later, as a 125 Hz mouse would), on
// fresh pixels each time (a zig-zag path). Run:
//
//	go run ./tests/bench/inklatency [-n 300]
//
// It exits 0 with a note when Xvfb is not installed.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"parley/signpad/fynepad"
	"parley/tests/internal/stats"
	"parley/tests/internal/xvfb"
)

const title = "parley-inklatency"

func main() {
	n := flag.Int("n", 300, "pointer events to measure")
	flag.Parse()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		fmt.Println("inklatency: skipped, Xvfb is not installed (apt-get install xvfb)")
		return
	}
	x, err := xvfb.Start(1024, 600)
	if err != nil {
		log.Fatal(err)
	}
	defer x.Close()
	// Only this process's window goes to the private server.
	os.Setenv("DISPLAY", x.Display)

	a := fyneapp.NewWithID("eu.parley.inklatency")
	w := a.NewWindow(title)
	pad := fynepad.New(nil)
	padToClear = pad
	w.SetPadded(false)
	w.SetContent(pad)
	w.Resize(fyne.NewSize(900, 300))
	result := make(chan []time.Duration, 1)
	go func() {
		lat, err := measure(x.Display, *n)
		if err != nil {
			log.Print(err)
		}
		result <- lat
		fyne.Do(a.Quit)
	}()
	w.ShowAndRun()
	lat := <-result
	if len(lat) == 0 {
		os.Exit(1)
	}
	s := stats.Summarise(lat)
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	p95 := sorted[max(0, int(0.95*float64(len(sorted))+0.999999)-1)]
	fmt.Printf("inklatency %s: pointer event → ink on screen: %s p95=%v\n", time.Now().UTC().Format(time.DateOnly), s, p95.Round(10*time.Microsecond))
}

// measure injects n pointer motions with the button held and returns the
// latency of each.
func measure(display string, n int) ([]time.Duration, error) {
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := xtest.Init(conn); err != nil {
		return nil, fmt.Errorf("XTEST: %w", err)
	}
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	ox, oy, err := waitForWindow(conn, root)
	if err != nil {
		return nil, err
	}
	// Let the first frames settle.
	time.Sleep(500 * time.Millisecond)
	input := func(typ, detail byte, x, y int) error {
		return xtest.FakeInputChecked(conn, typ, detail, 0, root, int16(ox+x), int16(oy+y), 0).Check()
	}
	var lat []time.Duration
	// Strokes run left to right along rows 40..250 px (the baseline is
	// at 225: rows skip it), 12 px apart, with a small zig-zag.
	row, x := 40, 30
	if err := input(xproto.MotionNotify, 0, x, row); err != nil {
		return nil, err
	}
	if err := input(xproto.ButtonPress, 1, x, row); err != nil {
		return nil, err
	}
	for len(lat) < n {
		x += 9
		y := row + (len(lat)%2)*4
		if x > 860 {
			if err := input(xproto.ButtonRelease, 1, x-9, row); err != nil {
				return nil, err
			}
			row += 14
			if row >= 215 && row < 235 {
				row = 240
			}
			if row > 280 {
				row = 40
				// The pad is full of ink: start over on a clean pad.
				clearPad()
				time.Sleep(100 * time.Millisecond)
			}
			x = 30
			if err := input(xproto.MotionNotify, 0, x, row); err != nil {
				return nil, err
			}
			if err := input(xproto.ButtonPress, 1, x, row); err != nil {
				return nil, err
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		start := time.Now()
		if err := input(xproto.MotionNotify, 0, x, y); err != nil {
			return nil, err
		}
		seen, err := waitInk(conn, root, ox+x, oy+y, start.Add(2*time.Second))
		if err != nil {
			return nil, err
		}
		if !seen {
			return lat, fmt.Errorf("no ink at %d,%d after 2 s", x, y)
		}
		lat = append(lat, time.Since(start))
		if d := 8*time.Millisecond - time.Since(start); d > 0 {
			time.Sleep(d)
		}
	}
	_ = input(xproto.ButtonRelease, 1, x, row)
	return lat, nil
}

// padToClear is the pad in main's window; clearPad clears it on the UI
// thread.
var padToClear *fynepad.Pad

func clearPad() {
	if p := padToClear; p != nil {
		fyne.DoAndWait(p.Clear)
	}
}

// waitForWindow waits for the window titled title to be mapped and
// returns its position on the screen.
func waitForWindow(conn *xgb.Conn, root xproto.Window) (int, int, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		tree, err := xproto.QueryTree(conn, root).Reply()
		if err != nil {
			return 0, 0, err
		}
		for _, win := range tree.Children {
			prop, err := xproto.GetProperty(conn, false, win, xproto.AtomWmName, xproto.GetPropertyTypeAny, 0, 256).Reply()
			if err != nil || prop == nil || string(prop.Value) != title {
				continue
			}
			attr, err := xproto.GetWindowAttributes(conn, win).Reply()
			if err != nil || attr.MapState != xproto.MapStateViewable {
				continue
			}
			tr, err := xproto.TranslateCoordinates(conn, win, root, 0, 0).Reply()
			if err != nil {
				return 0, 0, err
			}
			return int(tr.DstX), int(tr.DstY), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, 0, fmt.Errorf("window %q did not appear", title)
}

// waitInk polls a 5×5 region around (x, y) until an ink pixel (dark blue
// on the white pad) shows, or the deadline passes.
func waitInk(conn *xgb.Conn, root xproto.Window, x, y int, deadline time.Time) (bool, error) {
	for time.Now().Before(deadline) {
		img, err := xproto.GetImage(conn, xproto.ImageFormatZPixmap, xproto.Drawable(root),
			int16(x-2), int16(y-2), 5, 5, 0xffffffff).Reply()
		if err != nil {
			return false, err
		}
		for i := 0; i+3 < len(img.Data); i += 4 {
			b, g, r := int(img.Data[i]), int(img.Data[i+1]), int(img.Data[i+2])
			if b-r > 40 && g < 200 {
				return true, nil
			}
		}
		time.Sleep(250 * time.Microsecond)
	}
	return false, nil
}
