package app

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// portrait draws a stand-in for a camera picture: a wall in soft light
// and a person's head and shoulders.
func portrait(w, h int, wall, suit, skin color.NRGBA) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	fw, fh := float64(w), float64(h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// Wall: lighter towards the upper left.
			l := 1.1 - 0.35*(float64(x)/fw+float64(y)/fh)/2
			c := color.NRGBA{R: shade(wall.R, l), G: shade(wall.G, l), B: shade(wall.B, l), A: 255}
			dx, dy := float64(x)-fw/2, float64(y)-fh*0.42
			if (dx*dx)/(fh*fh*0.018)+(dy*dy)/(fh*fh*0.03) <= 1 { // head
				c = skin
			}
			sx, sy := float64(x)-fw/2, float64(y)-fh*1.02
			if (sx*sx)/(fh*fh*0.2)+(sy*sy)/(fh*fh*0.16) <= 1 { // shoulders
				c = suit
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func shade(v uint8, l float64) uint8 { return uint8(min(255, float64(v)*l)) }

// variantTheme is Fyne's default theme in one variant, whatever the
// system prefers.
type variantTheme struct {
	fyne.Theme
	variant fyne.ThemeVariant
}

func (t variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.variant)
}

// TestCallScreenshot renders the call view as an advisor sees it with a
// customer in the call and saves it to tests/artifacts/desktop-call.png
// (light) and desktop-call-dark.png.
func TestCallScreenshot(t *testing.T) {
	for name, variant := range map[string]fyne.ThemeVariant{"desktop-call.png": theme.VariantLight, "desktop-call-dark.png": theme.VariantDark} {
		t.Run(name, func(t *testing.T) { callScreenshot(t, name, variant) })
	}
}

func callScreenshot(t *testing.T, name string, variant fyne.ThemeVariant) {
	f := &fakeRelay{}
	c := newCallTest(t, f)
	c.ui.app.Settings().SetTheme(variantTheme{theme.DefaultTheme(), variant})
	c.ui.Window().Resize(fyne.NewSize(1280, 800))
	at := time.Now().Add(-4 * time.Minute)

	cam := newFakeVideo(color.NRGBA{})
	wall := color.NRGBA{R: 0xc9, G: 0xc2, B: 0xb4, A: 0xff}
	cam.setImage(portrait(640, 360, wall, color.NRGBA{R: 0x3b, G: 0x4a, B: 0x5c, A: 0xff}, color.NRGBA{R: 0xe0, G: 0xb8, B: 0x98, A: 0xff}))
	c.call.local.setImage(portrait(320, 180, color.NRGBA{R: 0xb8, G: 0xc8, B: 0xd0, A: 0xff},
		color.NRGBA{R: 0x22, G: 0x2c, B: 0x3a, A: 0xff}, color.NRGBA{R: 0xd8, G: 0xa8, B: 0x88, A: 0xff}))
	c.call.emit(
		ConnectionEvent{State: CallConnected},
		RosterEvent{Participants: []CallParticipant{rosterSelf, rosterMax}},
		VideoAddedEvent{ID: "peer-1", ParticipantID: "peer-1", Source: cam},
		EntryEvent{CallEntry{ID: "e1", Seq: 1, Name: "Erika Mustermann", Mine: true, Sent: at,
			Text: "Willkommen, Herr Kunde! Ich habe den Finanzierungsvorschlag vorbereitet."}},
		EntryEvent{CallEntry{ID: "e2", Seq: 2, Name: "Max Kunde", Sent: at.Add(time.Minute), Text: "Guten Tag, danke! Ich sehe Sie gut."}},
		EntryEvent{CallEntry{ID: "e3", Seq: 3, Name: "Erika Mustermann", Mine: true, Sent: at.Add(2 * time.Minute),
			FileName: "Finanzierungsvorschlag.pdf", FileSize: 248_000}},
		WaitingEvent{Guests: []Guest{{ID: "p2", Name: "Ida Gast", State: GuestWaiting, Joined: time.Now()}}},
	)
	c.eventually("the call", func() bool { return len(c.view.entries) == 3 && c.view.tiles["peer-1"] != nil })
	c.settle()
	c.tick()
	max := c.view.tiles["peer-1"]
	if max.frames == 0 || c.view.self.frames == 0 {
		t.Fatalf("frames drawn: customer %d, own preview %d", max.frames, c.view.self.frames)
	}

	img := c.ui.Window().Canvas().Capture()
	// The customer's picture is in the capture: the wall's colour at the
	// upper left of the tile.
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(max.img)
	sc := c.ui.Window().Canvas().Scale()
	size := max.img.Size()
	px := img.At(int((pos.X+size.Width*0.25)*sc), int((pos.Y+size.Height*0.2)*sc))
	if r, g, b, _ := px.RGBA(); r>>8 < 0xa0 || g>>8 < 0xa0 || b>>8 < 0x90 {
		t.Errorf("the customer's video is not in the rendered window: pixel %v", px)
	}

	saveArtifact(t, name, img)
}

// TestCallScreenshotAlone renders the call before anyone was admitted,
// with the advisor muted and the camera off and the waiting room open, to
// tests/artifacts/desktop-call-alone.png.
func TestCallScreenshotAlone(t *testing.T) {
	c := newCallTest(t, &fakeRelay{})
	c.ui.app.Settings().SetTheme(variantTheme{theme.DefaultTheme(), theme.VariantLight})
	c.ui.Window().Resize(fyne.NewSize(1280, 800))
	c.call.emit(ConnectionEvent{State: CallConnected},
		RosterEvent{Participants: []CallParticipant{rosterSelf}},
		LocalMediaEvent{Muted: true, Camera: false},
		WaitingEvent{Guests: []Guest{{ID: "p1", Name: "Max Kunde", State: GuestWaiting, Joined: time.Now()}}})
	c.eventually("the muted state", func() bool { return c.button("Unmute") != nil && c.button("Start camera") != nil })
	c.settle()
	if !c.view.placeholder.Visible() || !c.view.self.avatar.Visible() || c.view.self.letter.Text != "EM" {
		t.Errorf("placeholder %v, own initials %v %q", c.view.placeholder.Visible(), c.view.self.avatar.Visible(), c.view.self.letter.Text)
	}
	c.tap("Open waiting room")
	if c.button("Admit") == nil {
		t.Errorf("the waiting room is not shown; texts: %q", c.texts())
	}
	saveArtifact(t, "desktop-call-alone.png", c.ui.Window().Canvas().Capture())
}

// saveArtifact writes img to tests/artifacts/name (git-ignored).
func saveArtifact(t *testing.T, name string, img image.Image) {
	t.Helper()
	dir := filepath.Join("..", "tests", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := png.Encode(out, img); err != nil {
		t.Fatal(err)
	}
}

// TestMeetingsScreenshot renders the Meetings page with an open meeting
// whose link is unknown and earlier meetings, to
// tests/artifacts/desktop-meetings.png.
func TestMeetingsScreenshot(t *testing.T) {
	now := time.Now()
	f := &fakeRelay{list: []MeetingInfo{
		{ID: "m9", Title: "Baufinanzierung", Status: MeetingOpen, Created: now.Add(-20 * time.Minute), LinkExpiresAt: now.Add(20 * time.Hour)},
		{ID: "m8", Title: "Altersvorsorge", Status: MeetingOpen, Created: now.Add(-3 * time.Hour), LinkExpiresAt: now.Add(19 * time.Hour)},
		{ID: "m7", Title: "", Status: MeetingEnded, Created: now.Add(-26 * time.Hour), Ended: now.Add(-25 * time.Hour)},
	}}
	f.addGuest("m9", Guest{ID: "p1", Name: "Max Kunde", Phone: "+49 30 1234567", Joined: now.Add(-time.Minute)})
	h := newHarness(t, f, Options{DefaultAddr: testAddr, Calls: &fakeStarter{}})
	h.ui.app.Settings().SetTheme(variantTheme{theme.DefaultTheme(), theme.VariantLight})
	h.ui.Window().Resize(fyne.NewSize(1280, 800))
	h.signIn("acme", "erika", "pw")
	p := h.waitWorkspace().meet
	h.eventually("the meeting with its guest", func() bool { return p.current != nil && h.shows("Max Kunde") })
	if h.button("Join call") == nil || h.button("Copy link") != nil {
		t.Errorf("texts: %q", h.texts())
	}
	saveArtifact(t, "desktop-meetings.png", h.ui.Window().Canvas().Capture())
}
