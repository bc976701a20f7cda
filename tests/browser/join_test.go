package browser

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestJoinPageWaitAndAdmit walks the customer's path in English: open the
// link, see the advisor, join with a name (keyboard only), wait, get
// admitted by the advisor over the API, leave.
func TestJoinPageWaitAndAdmit(t *testing.T) {
	e := startJoinEnv(t)
	m := e.newMeeting(t, "Baufinanzierung")
	ctx := e.joinBrowser(t, "en-US", 1280, 800)
	reqs := RecordRequests(t, ctx)

	if err := chromedp.Do(ctx, chromedp.Navigate(m.JoinURL)); err != nil {
		t.Fatalf("load %s: %v", m.JoinURL, err)
	}
	v := waitView(t, ctx, "form")
	if v.Lang != "en" || v.Heading != "Join your meeting" {
		t.Errorf("form view: %+v, want lang en and heading \"Join your meeting\"", v)
	}
	if !strings.Contains(v.Status, e.advisorName) {
		t.Errorf("status %q does not name the advisor %q", v.Status, e.advisorName)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text("#advisor-name", chromedp.NodeVisible))
	if err != nil || shown != e.advisorName {
		t.Errorf("#advisor-name shows %q (%v), want %q", shown, err, e.advisorName)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Text("#meeting-title", chromedp.NodeVisible)); title != "Baufinanzierung" {
		t.Errorf("#meeting-title shows %q, want the meeting's title", title)
	}
	if label, _ := chromedp.Run(ctx, chromedp.Text("#join-button", chromedp.NodeVisible)); label != "Join" {
		t.Errorf("join button reads %q, want \"Join\"", label)
	}
	privacy, _ := chromedp.Run(ctx, chromedp.Text("#privacy", chromedp.NodeVisible))
	if !strings.Contains(privacy, "only for this meeting") || !strings.Contains(privacy, "2 days") {
		t.Errorf("privacy note %q does not say what the data is for and when it is deleted", privacy)
	}
	Screenshot(t, ctx, "join-form-en.png")

	// Keyboard only: focus the name field, type, press Enter.
	const name = "Jana Kundin"
	if err := chromedp.Do(ctx,
		chromedp.Focus("#name", chromedp.NodeVisible),
		chromedp.KeyEvent(name),
		chromedp.KeyEvent(kb.Enter),
	); err != nil {
		t.Fatal(err)
	}
	v = waitView(t, ctx, "waiting")
	if v.Status != "Your advisor will admit you shortly." {
		t.Errorf("waiting status = %q", v.Status)
	}
	st := readStorage(t, ctx)
	if st.Cookie != "" || st.Local != 0 {
		t.Errorf("after joining: document.cookie %q, localStorage.length %d; want none", st.Cookie, st.Local)
	}
	if !strings.Contains(strings.Join(st.Session, " "), `"secret":"pmp_`) {
		t.Errorf("sessionStorage %q does not hold the participant secret", st.Session)
	}
	Screenshot(t, ctx, "join-waiting-en.png")

	p := e.waitingParticipant(t, m.ID, name)
	e.advisor.Must(t, http.MethodPost, "/api/v1/meetings/"+m.ID+"/participants/"+p.ID+"/admit", nil, http.StatusNoContent, nil)

	v = waitView(t, ctx, "admitted")
	if v.Status != "You have been admitted." {
		t.Errorf("admitted status = %q", v.Status)
	}
	slice, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`(() => { const c = document.getElementById('call'); return c && !c.hidden ? c.dataset.slice : 'missing or hidden'; })()`))
	if err != nil || slice != "sfu" {
		t.Errorf("#call container for the SFU slice: %q (%v)", slice, err)
	}
	Screenshot(t, ctx, "join-admitted-en.png")

	// Nothing outside the relay, no cookies anywhere.
	if out := reqs.Outside(e.srv.URL()); len(out) > 0 {
		t.Errorf("the join page sent requests outside the relay: %q", out)
	}
	var sawParticipant bool
	for _, u := range reqs.URLs() {
		sawParticipant = sawParticipant || u == e.srv.URL()+"/api/v1/participant?wait=25"
	}
	if !sawParticipant {
		t.Errorf("no long poll of /api/v1/participant recorded: %q", reqs.URLs())
	}
	jar, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.srv.URL() + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range jar.Cookies {
		t.Errorf("the browser holds a cookie for the relay: %s", c.Name)
	}

	// Leave (the call's own button): the secret is gone from the tab.
	if err := chromedp.Do(ctx, chromedp.Click("#btn-leave", chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	v = waitView(t, ctx, "left")
	if v.Heading != "Goodbye" {
		t.Errorf("after Leave: %+v", v)
	}
	st = readStorage(t, ctx)
	if strings.Contains(strings.Join(st.Session, " "), "pmp_") || st.Local != 0 || st.Cookie != "" {
		t.Errorf("after Leave the browser still keeps something: %+v", st)
	}
	// The relay was told: the advisor sees the customer gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var state string
		for _, q := range e.participants(t, m.ID) {
			if q.ID == p.ID {
				state = q.State
			}
		}
		if state == "left" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Leave the advisor sees the customer as %q, want left", state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestJoinPageGermanNarrow opens the link with a German browser on a
// 360 px wide screen, checks the German texts, the client-side check of
// the name, the layout's width, dark mode, and the language switch.
func TestJoinPageGermanNarrow(t *testing.T) {
	e := startJoinEnv(t)
	m := e.newMeeting(t, "")
	ctx := e.joinBrowser(t, "de-DE", 360, 740)

	// Headless Chromium keeps its window at least 500 px wide: emulate a
	// 360 px phone screen instead.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740), chromedp.Navigate(m.JoinURL)); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, "form")
	if v.Lang != "de" || v.Heading != "Ihrem Termin beitreten" {
		t.Errorf("German form view: %+v", v)
	}
	if label, _ := chromedp.Run(ctx, chromedp.Text("#join-button", chromedp.NodeVisible)); label != "Beitreten" {
		t.Errorf("join button reads %q, want \"Beitreten\"", label)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Title()); title != "Termin beitreten – Parley" {
		t.Errorf("document title %q", title)
	}
	widths, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[window.innerWidth, document.documentElement.scrollWidth]`))
	if err != nil || len(widths) != 2 || widths[0] != 360 || widths[1] > 360 {
		t.Errorf("at 360 px: [innerWidth, scrollWidth] = %v (%v), want 360 and no horizontal overflow", widths, err)
	}

	// The client-side check: an empty name is refused before any request.
	if err := chromedp.Do(ctx, chromedp.Click("#join-button", chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text("#name-error", chromedp.NodeVisible))
	if err != nil || msg != "Bitte geben Sie Ihren Namen ein." {
		t.Errorf("#name-error = %q (%v)", msg, err)
	}
	focused, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	if focused != "name" {
		t.Errorf("focus after a refused name is on %q, want the name field", focused)
	}
	// A badly formed phone number is refused too.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys("#name", "Max Mustermann"),
		chromedp.SendKeys("#phone", "0170 12"),
		chromedp.Click("#join-button"),
	); err != nil {
		t.Fatal(err)
	}
	msg, err = chromedp.Run(ctx, chromedp.Text("#phone-error", chromedp.NodeVisible))
	if err != nil || !strings.Contains(msg, "Ländervorwahl") {
		t.Errorf("#phone-error = %q (%v)", msg, err)
	}
	if ps := e.participants(t, m.ID); len(ps) != 0 {
		t.Errorf("refused input reached the relay: %+v", ps)
	}
	Screenshot(t, ctx, "join-form-de-360.png")

	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	Screenshot(t, ctx, "join-form-de-360-dark.png")

	// The visible switch turns the page to English.
	if err := chromedp.Do(ctx, chromedp.Click(`.lang-switch button[data-lang="en"]`, chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	v = waitView(t, ctx, "form")
	if v.Lang != "en" || v.Heading != "Join your meeting" {
		t.Errorf("after switching to English: %+v", v)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text("#phone-error", chromedp.NodeVisible)); !strings.Contains(msg, "country code") {
		t.Errorf("the phone error did not switch language: %q", msg)
	}
	// And a valid number with spaces goes through.
	if err := chromedp.Do(ctx,
		chromedp.SetValue("#phone", "+49 170 1234567"),
		chromedp.Click("#join-button"),
	); err != nil {
		t.Fatal(err)
	}
	waitView(t, ctx, "waiting")
	p := e.waitingParticipant(t, m.ID, "Max Mustermann")
	if p.Phone != "+491701234567" {
		t.Errorf("phone reached the relay as %q", p.Phone)
	}
	Screenshot(t, ctx, "join-waiting-en-360-dark.png")
}

// TestJoinPageErrors: a forged link, a reload while waiting, and a
// meeting ended by the advisor while the customer waits.
func TestJoinPageErrors(t *testing.T) {
	e := startJoinEnv(t)
	m := e.newMeeting(t, "")
	ctx := e.joinBrowser(t, "en-US", 800, 700)

	forged := e.srv.URL() + "/j/pmj_" + strings.Repeat("A", 43)
	if err := chromedp.Do(ctx, chromedp.Navigate(forged)); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, "link_invalid")
	if !strings.Contains(v.Status, "not valid") {
		t.Errorf("forged link: %+v", v)
	}
	Screenshot(t, ctx, "join-invalid-en.png")

	if err := chromedp.Do(ctx, chromedp.Navigate(m.JoinURL)); err != nil {
		t.Fatal(err)
	}
	waitView(t, ctx, "form")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys("#name", "Eva Beispiel"),
		chromedp.Click("#join-button"),
	); err != nil {
		t.Fatal(err)
	}
	waitView(t, ctx, "waiting")

	// A reload of the tab keeps the place in the waiting room.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitView(t, ctx, "waiting")
	if ps := e.participants(t, m.ID); len(ps) != 1 {
		t.Errorf("after a reload the meeting has %d participants, want 1: %+v", len(ps), ps)
	}

	// A second customer (own storage) is turned away.
	other := NewTab(t, ctx, true)
	if err := chromedp.Do(other, chromedp.Navigate(m.JoinURL)); err != nil {
		t.Fatal(err)
	}
	waitView(t, other, "form")
	if err := chromedp.Do(other, chromedp.SendKeys("#name", "Unbekannt"), chromedp.Click("#join-button")); err != nil {
		t.Fatal(err)
	}
	waitView(t, other, "waiting")
	p := e.waitingParticipant(t, m.ID, "Unbekannt")
	e.advisor.Must(t, http.MethodPost, "/api/v1/meetings/"+m.ID+"/participants/"+p.ID+"/reject", nil, http.StatusNoContent, nil)
	if v := waitView(t, other, "rejected"); v.Heading != "You were not admitted" {
		t.Errorf("rejected view: %+v", v)
	}
	if st := readStorage(t, other); strings.Contains(strings.Join(st.Session, " "), "pmp_") {
		t.Errorf("the secret is still in sessionStorage after rejection: %q", st.Session)
	}
	Screenshot(t, other, "join-rejected-en.png")

	e.advisor.Must(t, http.MethodPost, "/api/v1/meetings/"+m.ID+"/end", nil, http.StatusNoContent, nil)
	v = waitView(t, ctx, "meeting_ended")
	if v.Heading != "The meeting has ended" {
		t.Errorf("ended view: %+v", v)
	}
	st := readStorage(t, ctx)
	if strings.Contains(strings.Join(st.Session, " "), "pmp_") {
		t.Errorf("the secret is still in sessionStorage after the meeting ended: %q", st.Session)
	}
	Screenshot(t, ctx, "join-ended-en.png")

	// The ended meeting's link now says so, too.
	if err := chromedp.Do(ctx, chromedp.Navigate(m.JoinURL)); err != nil {
		t.Fatal(err)
	}
	if v := waitView(t, ctx, "meeting_ended"); v.Status == "" {
		t.Errorf("ended link: %+v", v)
	}
}

// TestJoinPageNotYetOpen: a booked meeting's link opened days early says
// when it opens, in the browser's time zone and language.
func TestJoinPageNotYetOpen(t *testing.T) {
	e := startJoinEnv(t)
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Minute)
	var out struct {
		JoinURL string `json:"join_url"`
	}
	e.advisor.Must(t, http.MethodPost, "/api/v1/meetings", map[string]any{"type": "booked", "scheduled_start": start},
		http.StatusCreated, &out)
	ctx := e.joinBrowser(t, "de-DE", 800, 700)
	if err := chromedp.Do(ctx, chromedp.Navigate(out.JoinURL)); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, "link_not_yet_open")
	if v.Heading != "Noch nicht geöffnet" || !strings.Contains(v.Status, "öffnet am ") ||
		!strings.Contains(v.Status, strconv.Itoa(start.Year())) {
		t.Errorf("not-yet-open view: %+v", v)
	}
	Screenshot(t, ctx, "join-not-yet-open-de.png")
}
