// Package xvfb starts a private X server (Xvfb) for tests and benchmarks
// and reads what is on its screen through the X protocol, so a test can
// look at a real window the way a person would.
package xvfb

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

func init() { xgb.Logger = log.New(io.Discard, "", 0) }

// Server is a running Xvfb.
type Server struct {
	// Display is the DISPLAY value for clients, e.g. ":93".
	Display string
	cmd     *exec.Cmd
	conn    *xgb.Conn
	root    xproto.Window
	w, h    int
}

// Start launches Xvfb on a free display with one width×height×24 screen,
// no TCP listener, and connects to it.
func Start(width, height int) (*Server, error) {
	bin, err := exec.LookPath("Xvfb")
	if err != nil {
		return nil, fmt.Errorf("xvfb: Xvfb is not installed (apt-get install xvfb): %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command(bin, "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", width, height), "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("xvfb: start: %w", err)
	}
	w.Close()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	var num string
	select {
	case num = <-lines:
	case <-time.After(20 * time.Second):
	}
	if _, err := strconv.Atoi(num); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("xvfb: did not report a display number (got %q)", num)
	}
	s := &Server{Display: ":" + num, cmd: cmd, w: width, h: height}
	s.conn, err = xgb.NewConnDisplay(s.Display)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("xvfb: connect to %s: %w", s.Display, err)
	}
	s.root = xproto.Setup(s.conn).DefaultScreen(s.conn).Root
	return s, nil
}

// Close stops the X server.
func (s *Server) Close() {
	if s.conn != nil {
		s.conn.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// Screenshot returns the whole screen.
func (s *Server) Screenshot() (*image.RGBA, error) {
	reply, err := xproto.GetImage(s.conn, xproto.ImageFormatZPixmap, xproto.Drawable(s.root),
		0, 0, uint16(s.w), uint16(s.h), 0xffffffff).Reply()
	if err != nil {
		return nil, fmt.Errorf("xvfb: GetImage: %w", err)
	}
	if len(reply.Data) < s.w*s.h*4 {
		return nil, errors.New("xvfb: short image (expected 32 bits per pixel)")
	}
	img := image.NewRGBA(image.Rect(0, 0, s.w, s.h))
	for i := 0; i < s.w*s.h; i++ {
		b, g, r := reply.Data[4*i], reply.Data[4*i+1], reply.Data[4*i+2]
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = r, g, b, 0xff
	}
	return img, nil
}

// WindowNames returns the names (WM_NAME) of the top-level windows and
// their direct children, where window managers-less clients put them.
func (s *Server) WindowNames() ([]string, error) {
	tree, err := xproto.QueryTree(s.conn, s.root).Reply()
	if err != nil {
		return nil, fmt.Errorf("xvfb: QueryTree: %w", err)
	}
	var names []string
	for _, w := range tree.Children {
		prop, err := xproto.GetProperty(s.conn, false, w, xproto.AtomWmName, xproto.GetPropertyTypeAny, 0, 256).Reply()
		if err == nil && prop != nil && len(prop.Value) > 0 {
			names = append(names, string(prop.Value))
		}
	}
	return names, nil
}

// Stats summarises an image: how many distinct colours it has and which
// share of its pixels differ from the most common colour.
type Stats struct {
	Colors       int
	NonDominant  float64
	DominantRGBA color.RGBA
}

// Measure computes Stats for img.
func Measure(img *image.RGBA) Stats {
	counts := map[uint32]int{}
	n := img.Rect.Dx() * img.Rect.Dy()
	for i := 0; i < n; i++ {
		p := img.Pix[4*i : 4*i+3]
		counts[uint32(p[0])<<16|uint32(p[1])<<8|uint32(p[2])]++
	}
	var dom uint32
	best := -1
	for c, k := range counts {
		if k > best {
			dom, best = c, k
		}
	}
	return Stats{
		Colors:       len(counts),
		NonDominant:  1 - float64(best)/float64(n),
		DominantRGBA: color.RGBA{uint8(dom >> 16), uint8(dom >> 8), uint8(dom), 0xff},
	}
}

// Drawn reports whether a screenshot shows a rendered UI rather than an
// empty screen or a blank window: many colours (text is anti-aliased) and a
// visible share of pixels off the background.
func (st Stats) Drawn() bool { return st.Colors >= 16 && st.NonDominant >= 0.005 }
