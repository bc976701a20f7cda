package booking_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"parley/tests/browser"
	"parley/tests/internal/testenv"
)

// The customer of the browser test. A last name with markup is refused
// (names never hold angle brackets); the one booked has characters that
// HTML must escape, and so has the message, which may hold markup.
const (
	custFirst    = "Ada"
	scriptLast   = `<script>alert("x")</script>Lovelace`
	custLast     = `Lovelace & "Byron"`
	custEmail    = "ada.lovelace@example.org"
	custText     = "Bitte auch über Förderkredite sprechen & <b>Zinsbindung</b>."
	restartEmail = "grace.hopper@example.org"
)

// manageURL finds the manage link (https://127.0.0.1:PORT/m/pbk_...) in a
// mail's text.
var manageURL = regexp.MustCompile(`https://127\.0\.0\.1:\d+/m/pbk_[A-Za-z0-9_-]+`)

// TestCustomerBooksInChromium: a customer in New York books a Berlin
// advisor through the booking page in a real Chromium, gets the
// confirmation mail with a valid iCalendar attachment, the advisor sees
// the booking, and the customer cancels through the manage link from the
// mail, which sends METHOD:CANCEL for the same UID with a raised SEQUENCE.
func TestCustomerBooksInChromium(t *testing.T) {
	testenv.Chromium(t)
	mails := startMail(t, "127.0.0.1:0")
	r := startRelay(t, mails.addr)

	ctx := browser.New(t, browser.Options{
		TrustCertFiles: []string{testenv.CertFile(r.dir)},
		Flags:          map[string]any{"lang": "en-US", "accept-lang": "en-US"},
	})
	requests := browser.RecordRequests(t, ctx)
	ny, err := time.LoadLocation(customerZone)
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation(advisorZone)
	if err != nil {
		t.Fatal(err)
	}
	setZone(t, ctx, customerZone)
	do(t, ctx, "open the booking page in New York",
		chromedp.Navigate(r.pageURL),
		chromedp.WaitVisible(`#type-list button.type-option`),
	)

	// Step 1: the advisor and the appointment type.
	if heading := text(t, ctx, "#heading"); !strings.Contains(heading, advisorDisplay) {
		t.Errorf("heading %q does not name the advisor %q", heading, advisorDisplay)
	}
	typeText := text(t, ctx, "#type-list")
	for _, want := range []string{"Erstberatung Baufinanzierung", "Video call", "30 min", "Ihr Vorhaben & Ihre Fragen"} {
		if !strings.Contains(typeText, want) {
			t.Errorf("type list %q lacks %q", typeText, want)
		}
	}
	browser.Screenshot(t, ctx, "booking-types-en.png")

	// Step 2: the slots, in the customer's zone, with the zone named.
	do(t, ctx, "pick the type",
		chromedp.Click(`#type-list button.type-option`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#slot-days button.slot`),
	)
	if zoneNote := text(t, ctx, "#zone-note"); !strings.Contains(zoneNote, "America/New York") || !strings.Contains(zoneNote, "Europe/Berlin") {
		t.Errorf("zone note %q does not name the customer's and the advisor's zones", zoneNote)
	}
	startAttr := eval[string](t, ctx, `document.querySelector('#slot-days button.slot').dataset.start`)
	start, err := time.Parse(time.RFC3339, startAttr)
	if err != nil {
		t.Fatalf("first slot's data-start %q: %v", startAttr, err)
	}
	if got, want := text(t, ctx, "#slot-days button.slot"), start.In(ny).Format("15:04"); got != want {
		t.Errorf("first slot shows %q, want %s (New York time of %s)", got, want, start.Format(time.RFC3339))
	}
	if bh := start.In(berlin).Hour(); bh < 7 || bh >= 21 {
		t.Errorf("first slot %s is outside the advisor's hours in Berlin", start.In(berlin))
	}
	browser.Screenshot(t, ctx, "booking-slots-en.png")

	// Step 3: hold, form, submit.
	do(t, ctx, "pick the first slot",
		chromedp.Click(`#slot-days button.slot`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#book-form`),
	)
	if hold := text(t, ctx, "#hold-note"); !regexp.MustCompile(`held for you until \d\d:\d\d`).MatchString(hold) {
		t.Errorf("hold note %q does not say until when the time is held", hold)
	}
	// An empty submit marks the required fields and sends nothing.
	do(t, ctx, "submit the empty form",
		chromedp.Click(`#submit`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#first-name-error`),
	)
	if inv := eval[string](t, ctx, `document.getElementById('email').getAttribute('aria-invalid') || ''`); inv != "true" {
		t.Errorf("empty e-mail: aria-invalid = %q, want true", inv)
	}
	if d := eval[string](t, ctx, `document.getElementById('email').getAttribute('aria-describedby')`); !strings.Contains(d, "email-error") {
		t.Errorf("e-mail field's aria-describedby %q does not name its error", d)
	}
	do(t, ctx, "fill in the form with a script in the last name",
		chromedp.SendKeys(`#first-name`, custFirst, chromedp.NodeVisible),
		chromedp.SendKeys(`#last-name`, scriptLast, chromedp.NodeVisible),
		chromedp.SendKeys(`#email`, custEmail, chromedp.NodeVisible),
		chromedp.SendKeys(`#text`, custText, chromedp.NodeVisible),
		chromedp.Click(`#submit`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#last-name-error`),
	)
	if inv := eval[string](t, ctx, `document.getElementById('last-name').getAttribute('aria-invalid') || ''`); inv != "true" {
		t.Errorf("script in the last name: aria-invalid = %q, want true", inv)
	}
	if msg := text(t, ctx, "#last-name-error"); !strings.Contains(msg, "no < or >") {
		t.Errorf("script in the last name: error %q does not say what is wrong", msg)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('script').length`); n != 1 {
		t.Errorf("the page holds %d script elements, want only book.js", n)
	}
	eval[bool](t, ctx, `(document.getElementById('last-name').value = '', true)`)
	do(t, ctx, "correct the last name",
		chromedp.SendKeys(`#last-name`, custLast, chromedp.NodeVisible),
	)
	if counter, want := text(t, ctx, "#text-count"), fmt.Sprintf("%d of 2000", len([]rune(custText))); !strings.Contains(counter, want) {
		t.Errorf("counter %q, want %q", counter, want)
	}
	browser.Screenshot(t, ctx, "booking-form-en.png")
	do(t, ctx, "submit",
		chromedp.Click(`#submit`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#step-done`),
	)

	// Step 4: the confirmation, in New York time.
	if h := text(t, ctx, "#heading"); h != "Your appointment is booked" {
		t.Errorf("confirmation heading %q", h)
	}
	nyTime := start.In(ny).Format("15:04") + "\u2013" + start.Add(30*time.Minute).In(ny).Format("15:04")
	if when := text(t, ctx, "#done-when"); !strings.Contains(when, nyTime) || !strings.Contains(when, strconv.Itoa(start.In(ny).Day())) {
		t.Errorf("confirmation shows %q, want the New York time %s", when, nyTime)
	}
	manageHref := eval[string](t, ctx, `document.getElementById('manage-link').href`)
	if !manageURL.MatchString(manageHref) || !strings.HasPrefix(manageHref, r.api.Base+"/m/") {
		t.Errorf("manage link %q does not point at this relay's /m/pbk_...", manageHref)
	}
	if n := eval[int](t, ctx, `localStorage.length + (document.cookie ? 1 : 0)`); n != 0 {
		t.Errorf("the booking page left %d things in localStorage or cookies", n)
	}
	browser.Screenshot(t, ctx, "booking-done-desktop-en.png")
	do(t, ctx, "narrow", chromedp.EmulateViewport(360, 760))
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("at 360 px the page is %d px wide", w)
	}
	browser.Screenshot(t, ctx, "booking-done-360-en.png")
	setDark(t, ctx, true)
	if bg := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(15, 23, 28)" {
		t.Errorf("dark mode background %q, want rgb(15, 23, 28)", bg)
	}
	browser.Screenshot(t, ctx, "booking-done-360-dark-en.png")
	setDark(t, ctx, false)
	do(t, ctx, "desktop", chromedp.EmulateViewport(1280, 800))

	// The confirmation mail, with the appointment in iCalendar.
	confirm := mails.waitFor(t, "confirmation", custEmail, func(m *parsedMail) bool { return m.Calendar != "" })
	cal, ev := parseICS(t, confirm.Calendar)
	if m := calMethod(cal); m != "REQUEST" {
		t.Errorf("confirmation METHOD = %q, want REQUEST", m)
	}
	uid := ev.Id()
	if uid == "" {
		t.Fatal("confirmation event has no UID")
	}
	if at, err := ev.GetStartAt(); err != nil || !at.Equal(start) {
		t.Errorf("confirmation DTSTART = %v (%v), want %v", at, err, start)
	}
	seq1 := sequence(t, ev)
	if !strings.Contains(confirm.HTML, "Lovelace &amp; ") || strings.Contains(confirm.HTML, `Lovelace & "`) {
		t.Errorf("the HTML part does not show the last name %q escaped:\n%s", custLast, confirm.HTML)
	}
	if !strings.Contains(confirm.Text, custLast) {
		t.Errorf("the text part does not name the customer %q:\n%s", custLast, confirm.Text)
	}
	// The advisor hears of the booking, with the customer's message
	// escaped.
	note := mails.waitFor(t, "advisor's notice", advisorEmail, func(m *parsedMail) bool { return strings.Contains(m.Text, "Zinsbindung") })
	if strings.Contains(note.HTML, "<b>Zinsbindung") || !strings.Contains(note.HTML, "&lt;b&gt;Zinsbindung") {
		t.Errorf("the advisor's HTML part does not show the message escaped:\n%s", note.HTML)
	}
	link := manageURL.FindString(confirm.Text)
	if link == "" {
		link = manageURL.FindString(confirm.HTML)
	}
	if link != manageHref {
		t.Errorf("manage link in the mail %q, on the page %q", link, manageHref)
	}

	// The advisor sees the booking.
	from, to := start.Add(-time.Hour).UTC().Format(time.RFC3339), start.Add(time.Hour).UTC().Format(time.RFC3339)
	var list struct {
		Bookings []struct {
			ID       string    `json:"id"`
			Start    time.Time `json:"start"`
			Status   string    `json:"status"`
			Customer struct {
				FirstName string `json:"first_name"`
				LastName  string `json:"last_name"`
				Email     string `json:"email"`
			} `json:"customer"`
			Text string `json:"text"`
		} `json:"bookings"`
	}
	getJSON(t, r.advisor, "/api/v1/bookings", url.Values{"from": {from}, "to": {to}}, &list)
	if len(list.Bookings) != 1 {
		t.Fatalf("advisor's bookings around %v: %+v, want one", start, list.Bookings)
	}
	if b := list.Bookings[0]; !b.Start.Equal(start) || b.Status != "confirmed" || b.Customer.FirstName != custFirst ||
		b.Customer.LastName != custLast || b.Customer.Email != custEmail || b.Text != custText {
		t.Errorf("advisor's booking = %+v", b)
	}

	// The manage page from the mail: the token leaves the address bar;
	// cancelling takes a confirming step.
	do(t, ctx, "open the manage link",
		chromedp.Navigate(link),
		chromedp.WaitVisible(`#manage[data-view="booking"]`),
	)
	if path := eval[string](t, ctx, `location.pathname`); strings.Contains(path, "pbk_") {
		t.Errorf("the manage token stays in the address bar: %q", path)
	}
	if when := text(t, ctx, "#when"); !strings.Contains(when, nyTime) {
		t.Errorf("manage page shows %q, want %s", when, nyTime)
	}
	// A reload keeps working: the token waits in the tab's sessionStorage.
	do(t, ctx, "reload the manage page",
		chromedp.Reload(),
		chromedp.WaitVisible(`#manage[data-view="booking"]`),
	)
	browser.Screenshot(t, ctx, "booking-manage-en.png")
	do(t, ctx, "cancel",
		chromedp.Click(`#cancel`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#confirm-cancel`),
	)
	token := link[strings.LastIndex(link, "/")+1:]
	if st := manageStatus(t, r, token); st != "confirmed" {
		t.Fatalf("after the first click the booking is %q, want confirmed", st)
	}
	do(t, ctx, "confirm the cancellation",
		chromedp.Click(`#confirm-cancel`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#manage[data-view="justCancelled"]`),
		chromedp.EmulateViewport(360, 760),
	)
	browser.Screenshot(t, ctx, "booking-cancelled-360-en.png")
	if st := manageStatus(t, r, token); st != "cancelled" {
		t.Errorf("after cancelling the booking is %q", st)
	}
	// A forged link says so.
	do(t, ctx, "open a forged manage link",
		chromedp.Navigate(r.api.Base+"/m/pbk_forged0000000000000000"),
		chromedp.WaitVisible(`#manage[data-view="invalid"]`),
	)
	if h := text(t, ctx, "#heading"); h != "This link does not work" {
		t.Errorf("forged link: heading %q", h)
	}

	cancel := mails.waitFor(t, "cancellation", custEmail, func(m *parsedMail) bool {
		if m.Calendar == "" {
			return false
		}
		c, _ := ics.ParseCalendar(strings.NewReader(m.Calendar))
		return c != nil && calMethod(c) == "CANCEL"
	})
	_, cev := parseICS(t, cancel.Calendar)
	if cev.Id() != uid {
		t.Errorf("cancellation UID %q, confirmation UID %q", cev.Id(), uid)
	}
	if seq2 := sequence(t, cev); seq2 <= seq1 {
		t.Errorf("cancellation SEQUENCE %d, not above the confirmation's %d", seq2, seq1)
	}
	if st := cev.GetProperty(ics.ComponentPropertyStatus); st == nil || st.Value != "CANCELLED" {
		t.Errorf("cancellation STATUS = %v, want CANCELLED", st)
	}

	if out := requests.Outside(r.api.Base); len(out) > 0 {
		t.Errorf("the pages sent requests elsewhere than the relay: %q", out)
	}
}

// TestGermanCustomerSeesGermanPage: with a German browser in the
// advisor's zone the page speaks German and says nothing about another
// zone; the language switch changes it to English.
func TestGermanCustomerSeesGermanPage(t *testing.T) {
	testenv.Chromium(t)
	mails := startMail(t, "127.0.0.1:0")
	r := startRelay(t, mails.addr)
	ctx := browser.New(t, browser.Options{
		TrustCertFiles: []string{testenv.CertFile(r.dir)},
		Flags:          map[string]any{"lang": "de-DE", "accept-lang": "de-DE"},
		Width:          360, Height: 760,
	})
	setZone(t, ctx, advisorZone)
	do(t, ctx, "open the booking page",
		chromedp.EmulateViewport(360, 760),
		chromedp.Navigate(r.pageURL),
		chromedp.WaitVisible(`#type-list button.type-option`),
		chromedp.Focus(`#type-list button.type-option`),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(`#slot-days button.slot`),
	)
	if lang, heading := eval[string](t, ctx, `document.documentElement.lang`), text(t, ctx, "#heading"); lang != "de" || !strings.Contains(heading, "buchen") {
		t.Errorf("German browser: lang %q, heading %q", lang, heading)
	}
	if zone := text(t, ctx, "#zone-note"); !strings.Contains(zone, "Europe/Berlin") || strings.Contains(zone, "andere") {
		t.Errorf("same zone as the advisor: note %q", zone)
	}
	if slots := text(t, ctx, "#slots-msg"); !strings.Contains(slots, "freie Zeit") {
		t.Errorf("slot count %q is not German", slots)
	}
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("at 360 px the slot list is %d px wide", w)
	}
	browser.Screenshot(t, ctx, "booking-slots-360-de.png")
	do(t, ctx, "switch to English", chromedp.Click(`.lang-switch button[data-lang="en"]`, chromedp.NodeVisible))
	if lang, slots := eval[string](t, ctx, `document.documentElement.lang`), text(t, ctx, "#slots-msg"); lang != "en" || !strings.Contains(slots, "free time") {
		t.Errorf("after switching: lang %q, slots %q", lang, slots)
	}
}

// TestOutboxSurvivesKilledRelay: a booking made while the SMTP server is
// down is mailed after the relay was killed and restarted on the same
// data folder.
func TestOutboxSurvivesKilledRelay(t *testing.T) {
	mails := startMail(t, "127.0.0.1:0")
	mails.stop()
	r := startRelay(t, mails.addr)
	s := r.slots(t)[0]

	var hold struct {
		Token string `json:"hold_token"`
	}
	page := "/api/v1/pages/" + url.PathEscape(r.pageID)
	r.api.Must(t, http.MethodPost, page+"/holds", map[string]any{"type": r.typeID, "start": s.Start}, http.StatusCreated, &hold)
	var booked struct {
		Booking struct {
			Start  time.Time `json:"start"`
			Status string    `json:"status"`
		} `json:"booking"`
		ManageURL string `json:"manage_url"`
	}
	r.api.Must(t, http.MethodPost, page+"/bookings", map[string]any{
		"type": r.typeID, "start": s.Start, "hold_token": hold.Token,
		"first_name": "Grace", "last_name": "Hopper", "email": restartEmail, "lang": "de",
	}, http.StatusCreated, &booked)
	if booked.Booking.Status != "confirmed" || !booked.Booking.Start.Equal(s.Start) {
		t.Fatalf("booking = %+v", booked)
	}

	r.proc.Kill()
	if n := len(mails.all()); n != 0 {
		t.Fatalf("%d mails arrived while the SMTP server was down", n)
	}
	mails.restart(t)
	r.start(t)

	m := mails.waitFor(t, "confirmation after the restart", restartEmail, func(m *parsedMail) bool { return m.Calendar != "" })
	_, ev := parseICS(t, m.Calendar)
	if at, err := ev.GetStartAt(); err != nil || !at.Equal(s.Start) {
		t.Errorf("DTSTART = %v (%v), want %v", at, err, s.Start)
	}
	if got := manageURL.FindString(m.Text + m.HTML); got != booked.ManageURL {
		t.Errorf("manage link in the mail %q, in the answer %q", got, booked.ManageURL)
	}
}

// do runs chromedp actions with a step timeout, failing the test with
// what was being done and what the page shows.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
			`(document.querySelector('main') ? document.querySelector('main').dataset.view : '') + ' | ' + document.getElementById('status').textContent + ' | errors: ' +
				Array.from(document.querySelectorAll('.field-error:not([hidden]), .form-error:not([hidden]), .notice, .problem')).map(e => (e.id || e.className) + ': ' + e.textContent).join('; ')`))
		t.Fatalf("browser: %s: %v\npage shows: %s", what, err, shown)
	}
}

// text is the visible text of the first element matching sel, trimmed.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(sel, chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}

// setZone makes the tab's clock run in the IANA zone.
func setZone(t *testing.T, ctx context.Context, zone string) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone}); err != nil {
		t.Fatalf("browser: time zone %s: %v", zone, err)
	}
}

// setDark switches prefers-color-scheme.
func setDark(t *testing.T, ctx context.Context, dark bool) {
	t.Helper()
	v := "light"
	if dark {
		v = "dark"
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}}); err != nil {
		t.Fatalf("browser: color scheme %s: %v", v, err)
	}
}

// manageStatus is the booking's status as GET /api/v1/manage/{token}
// reports it.
func manageStatus(t *testing.T, r *relay, token string) string {
	t.Helper()
	var out struct {
		Booking struct {
			Status string `json:"status"`
		} `json:"booking"`
	}
	r.api.Must(t, http.MethodGet, "/api/v1/manage/"+url.PathEscape(token), nil, http.StatusOK, &out)
	return out.Booking.Status
}

func parseICS(t *testing.T, s string) (*ics.Calendar, *ics.VEvent) {
	t.Helper()
	cal, err := ics.ParseCalendar(strings.NewReader(s))
	if err != nil {
		t.Fatalf("the iCalendar part does not parse: %v\n%s", err, s)
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("the iCalendar part has %d events, want 1:\n%s", len(evs), s)
	}
	return cal, evs[0]
}

func calMethod(cal *ics.Calendar) string {
	for _, p := range cal.CalendarProperties {
		if p.IANAToken == string(ics.PropertyMethod) {
			return strings.ToUpper(p.Value)
		}
	}
	return ""
}

func sequence(t *testing.T, ev *ics.VEvent) int {
	t.Helper()
	p := ev.GetProperty(ics.ComponentPropertySequence)
	if p == nil {
		return 0 // RFC 5545: absent means 0
	}
	n, err := strconv.Atoi(p.Value)
	if err != nil {
		t.Fatalf("SEQUENCE %q: %v", p.Value, err)
	}
	return n
}
