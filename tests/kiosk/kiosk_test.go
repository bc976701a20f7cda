package kiosk_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"parley/relay/pdfrender"
	"parley/relay/pdfrender/pdfrendertest"
	"parley/relay/server"
	"parley/signpad/envelope"
	"parley/signpad/evdev"
	"parley/tests/internal/desktop"
	"parley/tests/internal/testenv"
	"parley/tests/internal/xvfb"
)

const (
	adminPassword   = "Wolke-Sieben-Anker-42"
	advisorPassword = "Kiosk-Beratung-2026!"
	kioskPIN        = "24681357"
	docTitle        = "Depotvertrag Kiosk"
	screenW         = 1280
	screenH         = 800
	// stepTimeout only stops a hung test; nothing asserts on durations.
	stepTimeout = 90 * time.Second
)

func requireXvfb(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("Xvfb is missing in CI: packaging/deps.sh --test installs it")
		}
		t.Skip("Xvfb not installed")
	}
}

// relayWithQueuedDocument starts a relay with a trustee key, an advisor,
// a sent one-page process for one customer, a kiosk and the process
// queued at it. It returns the relay, the advisor's API, the process id,
// the kiosk token and the pickup code.
func relayWithQueuedDocument(t *testing.T, dir string) (*server.Server, *testenv.API, string, string, string) {
	// Compile PDFium into the shared cache first (no deadline; minutes
	// under the race detector when cold) so the relay's renderer, which
	// uses that cache, renders the kiosk's page at once.
	pdfrendertest.New(t, pdfrender.Options{})
	s := testenv.StartRelayServer(t, server.Options{DataDir: dir, TenantSlug: "bank", TenantName: "Musterbank Filiale Mitte", AdminPassword: adminPassword})
	api := &testenv.API{Base: s.URL(), HTTP: testenv.RelayClient(t, dir)}
	admin, _ := api.Login(t, "bank", "admin", adminPassword)
	admin.Must(t, http.MethodPost, "/api/v1/users", map[string]string{"username": "kioskberaterin", "display_name": "Erika Beraterin",
		"email": "erika@bank.test", "password": advisorPassword, "role": "advisor"}, http.StatusCreated, nil)
	adv, login := api.Login(t, "bank", "kioskberaterin", advisorPassword)
	if login.User.MustChangePassword {
		adv.Must(t, http.MethodPost, "/api/v1/me/password", map[string]string{"current_password": advisorPassword,
			"new_password": advisorPassword + "x"}, http.StatusNoContent, nil)
		adv, _ = api.Login(t, "bank", "kioskberaterin", advisorPassword+"x")
	}
	trustee, err := envelope.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := envelope.MarshalPublicKeyPEM(trustee.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if st, body := raw(t, admin, http.MethodPut, "/api/v1/signing/trustee-key", "application/x-pem-file", pub); st != http.StatusOK {
		t.Fatalf("trustee key: %d %s", st, body)
	}
	var cust struct{ ID string }
	adv.Must(t, http.MethodPost, "/api/v1/customers", map[string]string{"first_name": "Kai", "last_name": "Kioskkunde",
		"email": "kai@example.org", "mobile": "+4917012349876"}, http.StatusCreated, &cust)
	st, body := raw(t, adv, http.MethodPost, "/api/v1/signing/processes?lang=de&title="+url.QueryEscape(docTitle), "application/pdf", samplePDF())
	var created struct {
		Process struct{ ID string } `json:"process"`
	}
	if st != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.Process.ID == "" {
		t.Fatalf("create: %d %s", st, body)
	}
	id := created.Process.ID
	adv.Must(t, http.MethodPut, "/api/v1/signing/processes/"+id+"/fields", map[string]any{
		"signers": []map[string]string{{"role": "customer1", "customer_id": cust.ID}},
		"fields": []map[string]any{{"id": "sig-c1", "page": 1, "kind": "signature", "signer": "customer1",
			"rect": map[string]float64{"LLX": 300, "LLY": 100, "URX": 540, "URY": 170}}},
	}, http.StatusOK, nil)
	adv.Must(t, http.MethodPost, "/api/v1/signing/processes/"+id+"/send", nil, http.StatusOK, nil)
	var made struct {
		Kiosk struct{ ID string } `json:"kiosk"`
		Token string              `json:"token"`
	}
	admin.Must(t, http.MethodPost, "/api/v1/kiosks", map[string]string{"name": "Filiale Mitte, Platz 2", "pin": kioskPIN}, http.StatusCreated, &made)
	var q struct {
		PickupCode string `json:"pickup_code"`
	}
	adv.Must(t, http.MethodPost, "/api/v1/signing/processes/"+id+"/kiosk", map[string]string{"kiosk_id": made.Kiosk.ID}, http.StatusOK, &q)
	if len(q.PickupCode) != 6 || !strings.HasPrefix(made.Token, "pkd_") {
		t.Fatalf("kiosk %q, pickup code %q", made.Token, q.PickupCode)
	}
	return s, adv, id, made.Token, q.PickupCode
}

// TestKioskSignsWithReplayedPen: the kiosk app under Xvfb opens the queued
// document with its pickup code, takes a signature from a replayed evdev
// pen stream, and the process completes on the relay; afterwards the
// kiosk's data folder holds nothing of the session.
func TestKioskSignsWithReplayedPen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cgo desktop app")
	}
	requireXvfb(t)
	dir := t.TempDir()
	s, adv, processID, token, code := relayWithQueuedDocument(t, filepath.Join(dir, "relay"))

	bin, err := desktop.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	x, err := xvfb.Start(screenW, screenH)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	in := newInput(t, x.Display)

	// The pen: a named pipe the kiosk reads, described by pen.evdev.json.
	home := filepath.Join(dir, "home")
	penDir := filepath.Join(dir, "pen")
	if err := os.MkdirAll(penDir, 0o700); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(penDir, "pen.evdev")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	desc, _ := json.Marshal(tablet)
	if err := os.WriteFile(fifo+".json", desc, 0o600); err != nil {
		t.Fatal(err)
	}

	app := launch(t, bin, dir, home, x.Display, s.URL(), s.Fingerprint(), token, fifo)
	defer app.stop()

	app.waitScreen(t, "attract", 1)
	save(t, x, "kiosk-attract.png")
	// "Sign a document" fills the left half of the lower half.
	in.click(t, screenW/4, screenH*3/4)
	app.waitScreen(t, "code", 1)
	in.typeText(t, code+"\r")
	app.waitScreen(t, "sign", 1)
	// The page as the relay renders it (contract A), with the signer's
	// field marked.
	if app.waitAny(t, `"msg":"kiosk: page shown","page":1`, `"msg":"kiosk: no page image"`) != 0 {
		for _, l := range strings.Split(app.logs(), "\n") {
			if strings.Contains(l, "no page image") {
				t.Errorf("the kiosk could not show the rendered page: %s", l)
			}
		}
	}

	// The customer writes: the stream goes through the pipe.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(penStream()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	time.Sleep(time.Second) // let the ink reach the screen for the picture
	save(t, x, "kiosk-sign.png")
	in.typeText(t, "\r") // Confirm
	app.waitLog(t, `"msg":"kiosk: signature submitted"`)
	app.waitScreen(t, "thanks", 1)

	// The relay has the signature: the process is completed.
	var got struct {
		Process struct {
			Status  string `json:"status"`
			Signers []struct {
				Role    string `json:"role"`
				Channel string `json:"channel"`
			} `json:"signers"`
		} `json:"process"`
	}
	adv.Must(t, http.MethodGet, "/api/v1/signing/processes/"+processID, nil, http.StatusOK, &got)
	if got.Process.Status != "completed" {
		t.Fatalf("process status %q after the kiosk signed", got.Process.Status)
	}

	// The thank-you screen gives way to the attract screen by itself,
	// after the session was wiped.
	app.waitScreen(t, "attract", 2)
	if exited, err := app.exited(); exited {
		t.Fatalf("the kiosk exited: %v\n%s", err, app.logs())
	}
	// Nothing of the session on disk: no file under the kiosk's home
	// (preferences, key, session folder, caches) holds the pickup code,
	// the document's title or id, or a signer token; the session folder
	// is empty.
	needles := []string{code, docTitle, processID, "psg_", "pss_", "SDI\x00020"}
	err = filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s holds %q after the session", p, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	left, err := os.ReadDir(filepath.Join(home, "kiosk", "session"))
	if err != nil || len(left) != 0 {
		t.Errorf("the session folder holds %v (%v)", left, err)
	}
	// The pairing stays, the token encrypted.
	prefs, _ := os.ReadFile(filepath.Join(home, ".config", "fyne", "eu.parley.app", "preferences.json"))
	if !bytes.Contains(prefs, []byte("kiosk.token")) || bytes.Contains(prefs, []byte(token)) {
		t.Errorf("preferences without the encrypted pairing, or with the token in clear:\n%s", prefs)
	}
}

// tablet is the replayed pen's description (a Wacom-like tablet).
var tablet = evdev.Info{Name: "Replayed Pen Tablet", Vendor: 0x056a, Product: 0x0374,
	Abs: map[uint16]evdev.AbsInfo{
		evdev.AbsX: {Maximum: 15200, Resolution: 100}, evdev.AbsY: {Maximum: 9500, Resolution: 100},
		evdev.AbsPressure: {Maximum: 4095},
	},
	Keys: map[uint16]bool{evdev.BtnToolPen: true, evdev.BtnTouch: true}}

// penStream synthesises 2 s of pen reports at 200 Hz: approach, two
// strokes with a lift between them, leaving range.
func penStream() []byte {
	var b []byte
	t := int64(1_700_000_000_000_000)
	ev := func(typ, code uint16, v int32) {
		b = evdev.AppendEvent(b, evdev.Event{Time: t, Type: typ, Code: code, Value: v})
	}
	ev(evdev.EvKey, evdev.BtnToolPen, 1)
	down := false
	for i := range 400 {
		ph := float64(i) / 400
		want := (i >= 10 && i < 190) || (i >= 210 && i < 390)
		ev(evdev.EvAbs, evdev.AbsX, int32(2000+11000*ph))
		ev(evdev.EvAbs, evdev.AbsY, int32(4700+1800*math.Sin(ph*19)))
		p := int32(0)
		if want {
			p = int32(900 + 1800*math.Abs(math.Sin(ph*7)))
		}
		ev(evdev.EvAbs, evdev.AbsPressure, p)
		if want != down {
			v := int32(0)
			if want {
				v = 1
			}
			ev(evdev.EvKey, evdev.BtnTouch, v)
			down = want
		}
		ev(evdev.EvSyn, evdev.SynReport, 0)
		t += 5000
	}
	ev(evdev.EvKey, evdev.BtnToolPen, 0)
	ev(evdev.EvSyn, evdev.SynReport, 0)
	return b
}

// kioskApp is the launched kiosk.
type kioskApp struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func launch(t *testing.T, bin, dir, home, display, relayURL, fingerprint, token, pen string) *kioskApp {
	t.Helper()
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "kiosk.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--kiosk", "--relay", relayURL)
	cmd.Env = []string{
		"DISPLAY=" + display,
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"PARLEY_KIOSK_DIR=" + filepath.Join(home, "kiosk"),
		"PARLEY_RELAY_FINGERPRINT=" + fingerprint,
		"PARLEY_KIOSK_TOKEN=" + token,
		"PARLEY_KIOSK_PEN=" + pen,
		"PARLEY_SYNTHETIC_MEDIA=1",
		"PATH=" + os.Getenv("PATH"),
		"LIBGL_ALWAYS_SOFTWARE=1",
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &kioskApp{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		a.err = cmd.Wait()
		logf.Close()
		close(a.done)
	}()
	return a
}

func (a *kioskApp) logs() string {
	b, _ := os.ReadFile(a.log)
	return string(b)
}

func (a *kioskApp) exited() (bool, error) {
	select {
	case <-a.done:
		return true, a.err
	default:
		return false, nil
	}
}

func (a *kioskApp) stop() {
	_ = a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// waitLog waits until the kiosk's log holds s.
func (a *kioskApp) waitLog(t *testing.T, s string) {
	t.Helper()
	a.waitCount(t, s, 1)
}

func (a *kioskApp) waitCount(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for strings.Count(a.logs(), s) < n {
		if exited, err := a.exited(); exited {
			t.Fatalf("the kiosk exited (%v) waiting for %s:\n%s", err, s, a.logs())
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s", s, a.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAny waits until the log holds one of ss and returns its index.
func (a *kioskApp) waitAny(t *testing.T, ss ...string) int {
	t.Helper()
	deadline := time.Now().Add(2 * stepTimeout)
	for {
		logs := a.logs()
		for i, s := range ss {
			if strings.Contains(logs, s) {
				return i
			}
		}
		if exited, err := a.exited(); exited {
			t.Fatalf("the kiosk exited (%v) waiting for %q:\n%s", err, ss, logs)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q:\n%s", ss, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitScreen waits until the kiosk has shown screen name n times.
func (a *kioskApp) waitScreen(t *testing.T, name string, n int) {
	t.Helper()
	a.waitCount(t, `"msg":"kiosk: screen","screen":"`+name+`"`, n)
	time.Sleep(500 * time.Millisecond) // the frame is drawn after the log line
}

// input sends pointer and key events through XTEST.
type input struct {
	c    *xgb.Conn
	root xproto.Window
	keys map[xproto.Keysym]xproto.Keycode
}

func newInput(t *testing.T, display string) *input {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := xtest.Init(c); err != nil {
		t.Fatalf("XTEST: %v", err)
	}
	setup := xproto.Setup(c)
	in := &input{c: c, root: setup.DefaultScreen(c).Root, keys: map[xproto.Keysym]xproto.Keycode{}}
	n := byte(setup.MaxKeycode - setup.MinKeycode + 1)
	km, err := xproto.GetKeyboardMapping(c, setup.MinKeycode, n).Reply()
	if err != nil {
		t.Fatal(err)
	}
	per := int(km.KeysymsPerKeycode)
	for i := range int(n) {
		for j := range per {
			sym := km.Keysyms[i*per+j]
			if _, ok := in.keys[sym]; !ok && sym != 0 {
				in.keys[sym] = xproto.Keycode(int(setup.MinKeycode) + i)
			}
		}
	}
	return in
}

func (in *input) fake(t *testing.T, typ byte, detail byte, x, y int16) {
	t.Helper()
	if err := xtest.FakeInputChecked(in.c, typ, detail, 0, in.root, x, y, 0).Check(); err != nil {
		t.Fatalf("XTEST FakeInput: %v", err)
	}
	time.Sleep(30 * time.Millisecond)
}

// click moves the pointer to (x, y) and clicks the left button.
func (in *input) click(t *testing.T, x, y int) {
	t.Helper()
	in.fake(t, xproto.MotionNotify, 0, int16(x), int16(y))
	in.fake(t, xproto.ButtonPress, 1, 0, 0)
	in.fake(t, xproto.ButtonRelease, 1, 0, 0)
}

// typeText types digits and "\r" (Return).
func (in *input) typeText(t *testing.T, s string) {
	t.Helper()
	for _, r := range s {
		sym := xproto.Keysym(r)
		if r == '\r' {
			sym = 0xff0d // XK_Return
		}
		code, ok := in.keys[sym]
		if !ok {
			t.Fatalf("no key for %q", r)
		}
		in.fake(t, xproto.KeyPress, byte(code), 0, 0)
		in.fake(t, xproto.KeyRelease, byte(code), 0, 0)
	}
}

// save keeps a screenshot in tests/artifacts/ (git-ignored) for people to
// look at.
func save(t *testing.T, x *xvfb.Server, name string) {
	img, err := x.Screenshot()
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	root, err := desktop.ModuleRoot()
	if err != nil {
		return
	}
	out := filepath.Join(root, "tests", "artifacts")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return
	}
	f, err := os.Create(filepath.Join(out, name))
	if err != nil {
		return
	}
	defer f.Close()
	var m image.Image = img
	if err := png.Encode(f, m); err != nil {
		t.Logf("saving %s: %v", name, err)
	}
}

func raw(t *testing.T, a *testenv.API, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.Base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+a.Token)
	res, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// samplePDF is a one-page PDF with a classic xref table.
func samplePDF() []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [4 0 R] /Count 1 /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> >>")
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	obj("<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>")
	content := "BT /F1 24 Tf 72 760 Td (Depotvertrag) Tj ET"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}
