package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/notify"
)

// mailbox records the mails a relay sends.
type mailbox struct {
	mu    sync.Mutex
	mails []notify.Mail
}

func (m *mailbox) Send(_ context.Context, mail notify.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mails = append(m.mails, mail)
	return nil
}

// await runs the due jobs until at least n mails have been sent (the
// relay's own delivery loop may send them first) and returns them.
func (m *mailbox) await(t *testing.T, s *Server, n int) []notify.Mail {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := s.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		m.mu.Lock()
		got := len(m.mails)
		m.mu.Unlock()
		if got >= n {
			return m.take()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails sent, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// take returns and forgets the mails sent so far.
func (m *mailbox) take() []notify.Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.mails
	m.mails = nil
	return out
}

func startBookingRelay(t *testing.T, clk clock.Clock, box *mailbox) (*Server, *testAPI) {
	t.Helper()
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: testAdminPassword, Hash: auth.TestHashParams, Clock: clk, SweepInterval: time.Hour,
		PublicURL: "https://beratung.bank.test", Mail: MailOptions{Mailer: box, From: "termine@bank.test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, &testAPI{t: t, s: s, c: &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s)}}}
}

// advisorWithMail creates an advisor with an e-mail address and returns
// a session of theirs.
func advisorWithMail(t *testing.T, api *testAPI, admin string) string {
	t.Helper()
	const first, pw = "Kaffee-und-Kuchen-42", advisorPassword
	if st := api.call("POST", "/api/v1/users", admin, map[string]string{"username": "erika", "display_name": "Erika Beraterin",
		"email": "erika@bank.test", "password": first}, nil); st != http.StatusCreated {
		t.Fatalf("create advisor: %d", st)
	}
	var login struct{ Token string }
	if st := api.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "erika", "password": first}, &login); st != http.StatusOK {
		t.Fatalf("login: %d", st)
	}
	if st := api.call("POST", "/api/v1/me/password", login.Token, map[string]string{"current_password": first, "new_password": pw}, nil); st != http.StatusNoContent {
		t.Fatalf("password: %d", st)
	}
	if st := api.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "erika", "password": pw}, &login); st != http.StatusOK {
		t.Fatalf("login: %d", st)
	}
	return login.Token
}

// advisorPassword is the password advisorWithMail gives the advisor.
const advisorPassword = "Regenbogen-ueber-Kiel-7"

var (
	joinLink   = regexp.MustCompile(`https://beratung\.bank\.test/j/pmj_[A-Za-z0-9_-]+`)
	manageLink = regexp.MustCompile(`https://beratung\.bank\.test/m/(pbk_[A-Za-z0-9_-]+)`)
)

func icsField(t *testing.T, m notify.Mail, name string) string {
	t.Helper()
	for _, line := range strings.Split(string(m.ICS), "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	t.Fatalf("mail %q: ICS has no %s:\n%s", m.Subject, name, m.ICS)
	return ""
}

// TestBookingLifecycleThroughTheRelay books a video appointment on the
// public page and follows it through the relay: confirmation mails with
// the join and manage links and an iCalendar request, the meeting in the
// advisor's list, a reschedule by the customer (new SEQUENCE, new link,
// the old link dead), the reminder a day before, the cancellation
// (METHOD:CANCEL, same UID) and finally the retention sweep.
func TestBookingLifecycleThroughTheRelay(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)) // a Monday
	box := &mailbox{}
	s, api := startBookingRelay(t, clk, box)
	ctx := context.Background()
	adv := advisorWithMail(t, api, api.login())

	if st := api.call("PUT", "/api/v1/booking/availability", adv, map[string]any{"time_zone": "Europe/Berlin",
		"weekly": []map[string]any{{"weekday": 2, "start": "09:00", "end": "12:00"}, {"weekday": 3, "start": "09:00", "end": "12:00"}}}, nil); st != http.StatusNoContent {
		t.Fatalf("availability: %d", st)
	}
	var typ struct{ ID string }
	if st := api.call("POST", "/api/v1/booking/types", adv, map[string]any{"name": "Baufinanzierung", "kind": "video", "duration_min": 30,
		"buffer_after_min": 15, "min_notice_min": 60}, &typ); st != http.StatusCreated || typ.ID == "" {
		t.Fatalf("type: %d", st)
	}
	var page struct {
		PageID string `json:"page_id"`
		URL    string
	}
	if st := api.call("POST", "/api/v1/booking/page", adv, nil, &page); st != http.StatusOK || !strings.HasPrefix(page.URL, "https://beratung.bank.test/b/") {
		t.Fatalf("page: %d %+v", st, page)
	}

	var slots struct {
		Slots []struct{ Start, End time.Time }
	}
	q := "?type=" + typ.ID + "&from=" + url.QueryEscape(clk.Now().Format(time.RFC3339)) + "&to=" + url.QueryEscape(clk.Now().Add(7*24*time.Hour).Format(time.RFC3339))
	if st := api.call("GET", "/api/v1/pages/"+page.PageID+"/slots"+q, "", nil, &slots); st != http.StatusOK || len(slots.Slots) == 0 {
		t.Fatalf("slots: %d %+v", st, slots)
	}
	// Tuesday 09:00 Berlin is 08:00 UTC.
	first := slots.Slots[0].Start
	if want := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC); !first.Equal(want) {
		t.Fatalf("first slot %v, want %v", first, want)
	}
	var booked struct {
		Booking struct {
			Status string
			Start  time.Time
		}
		ManageURL string `json:"manage_url"`
	}
	if st := api.call("POST", "/api/v1/pages/"+page.PageID+"/bookings", "", map[string]any{"type": typ.ID, "start": first,
		"first_name": "Max", "last_name": "Mustermann <script>", "email": "max@kunde.test", "text": "Neubau, 2 Kinder", "lang": "de"}, &booked); st != http.StatusBadRequest {
		t.Fatalf("a script in the name: %d, want 400", st)
	}
	if st := api.call("POST", "/api/v1/pages/"+page.PageID+"/bookings", "", map[string]any{"type": typ.ID, "start": first,
		"first_name": "Max", "last_name": "Mustermann", "email": "max@kunde.test", "text": "Neubau, 2 Kinder", "lang": "de"}, &booked); st != http.StatusCreated {
		t.Fatalf("book: %d", st)
	}
	if booked.Booking.Status != "confirmed" || !manageLink.MatchString(booked.ManageURL) {
		t.Fatalf("booking %+v", booked)
	}
	token := manageLink.FindStringSubmatch(booked.ManageURL)[1]

	mails := box.await(t, s, 2)
	var toCustomer, toAdvisor notify.Mail
	for _, m := range mails {
		switch {
		case strings.Contains(m.To, "max@kunde.test"):
			toCustomer = m
		case strings.Contains(m.To, "erika@bank.test"):
			toAdvisor = m
		}
	}
	if toCustomer.Subject == "" || toAdvisor.Subject == "" {
		t.Fatalf("mails to %d recipients, want the customer and the advisor: %+v", len(mails), mails)
	}
	oldJoin := joinLink.FindString(toCustomer.Text)
	if oldJoin == "" || !strings.Contains(toCustomer.Text, booked.ManageURL) {
		t.Fatalf("the confirmation lacks the join or manage link:\n%s", toCustomer.Text)
	}
	if strings.Contains(toAdvisor.Text, token) || strings.Contains(toAdvisor.HTML, token) {
		t.Fatal("the advisor's mail carries the customer's secret manage link")
	}
	uid := icsField(t, toCustomer, "UID")
	if icsField(t, toCustomer, "METHOD") != "REQUEST" || icsField(t, toCustomer, "SEQUENCE") != "0" {
		t.Fatalf("confirmation ICS:\n%s", toCustomer.ICS)
	}

	// The advisor sees the booking with the customer, and its meeting.
	var bookings struct {
		Bookings []map[string]any
	}
	from, to := url.QueryEscape(clk.Now().Format(time.RFC3339)), url.QueryEscape(clk.Now().Add(30*24*time.Hour).Format(time.RFC3339))
	if st := api.call("GET", "/api/v1/bookings?from="+from+"&to="+to, adv, nil, &bookings); st != http.StatusOK || len(bookings.Bookings) != 1 {
		t.Fatalf("advisor's bookings: %d %+v", st, bookings)
	}
	b0 := bookings.Bookings[0]
	if b0["meeting_id"] == "" || b0["meeting_id"] == nil || b0["customer"].(map[string]any)["last_name"] != "Mustermann" {
		t.Fatalf("advisor's booking %+v", b0)
	}
	customerID := b0["customer_id"].(string)
	var hist struct {
		Customer map[string]any
		Bookings []map[string]any
		Meetings []map[string]any
	}
	if st := api.call("GET", "/api/v1/customers/"+customerID, adv, nil, &hist); st != http.StatusOK || len(hist.Bookings) != 1 || len(hist.Meetings) != 1 {
		t.Fatalf("customer history: %d %+v", st, hist)
	}

	// The customer moves it to Wednesday 10:00 Berlin.
	newStart := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	if st := api.call("POST", "/api/v1/manage/"+token+"/reschedule", "", map[string]any{"start": newStart}, nil); st != http.StatusOK {
		t.Fatalf("reschedule: %d", st)
	}
	var moved notify.Mail
	for _, m := range box.await(t, s, 2) {
		if strings.Contains(m.To, "max@kunde.test") {
			moved = m
		}
	}
	if icsField(t, moved, "UID") != uid || icsField(t, moved, "SEQUENCE") != "1" || icsField(t, moved, "DTSTART") != "20261125T090000Z" {
		t.Fatalf("rescheduled ICS:\n%s", moved.ICS)
	}
	newJoin := joinLink.FindString(moved.Text)
	if newJoin == "" || newJoin == oldJoin {
		t.Fatalf("the moved appointment's mail has no new join link:\n%s", moved.Text)
	}
	oldToken := oldJoin[strings.LastIndex(oldJoin, "/")+1:]
	if st := api.call("GET", "/api/v1/join/"+oldToken, "", nil, nil); st == http.StatusOK {
		t.Fatal("the old meeting's link still works after the move")
	}

	// A day before the new start the reminder goes out (the one for the
	// old start went stale with the move).
	clk.Set(newStart.Add(-24 * time.Hour))
	reminders := box.await(t, s, 1)
	if len(reminders) != 1 || !strings.Contains(reminders[0].To, "max@kunde.test") || joinLink.FindString(reminders[0].Text) != newJoin {
		t.Fatalf("reminders: %+v", reminders)
	}

	// The customer cancels: METHOD:CANCEL with the same UID, and the
	// meeting's link dies.
	if st := api.call("POST", "/api/v1/manage/"+token+"/cancel", "", nil, nil); st != http.StatusOK {
		t.Fatalf("cancel: %d", st)
	}
	var cancelled notify.Mail
	for _, m := range box.await(t, s, 2) {
		if strings.Contains(m.To, "max@kunde.test") {
			cancelled = m
		}
	}
	if icsField(t, cancelled, "METHOD") != "CANCEL" || icsField(t, cancelled, "UID") != uid || icsField(t, cancelled, "SEQUENCE") != "2" {
		t.Fatalf("cancellation ICS:\n%s", cancelled.ICS)
	}
	newToken := newJoin[strings.LastIndex(newJoin, "/")+1:]
	if st := api.call("GET", "/api/v1/join/"+newToken, "", nil, nil); st == http.StatusOK {
		t.Fatal("the cancelled appointment's meeting link still works")
	}
	clk.Set(newStart.Add(time.Hour))
	if _, err := s.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if late := box.take(); len(late) != 0 {
		t.Fatalf("mails after the cancellation: %+v", late)
	}

	// 42 days after the appointment the booking is gone; the customer's
	// profile stays (its own period runs from the last interaction).
	bookingID := b0["id"].(string)
	clk.Set(newStart.Add(30*time.Minute + 42*24*time.Hour + time.Second))
	var again struct{ Token string }
	if st := api.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "erika", "password": advisorPassword}, &again); st != http.StatusOK {
		t.Fatalf("login: %d", st)
	}
	adv = again.Token
	if st := api.call("GET", "/api/v1/bookings/"+bookingID, adv, nil, nil); st != http.StatusNotFound {
		t.Fatalf("an expired booking is served: %d", st)
	}
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if st := api.call("GET", "/api/v1/customers/"+customerID, adv, nil, &hist); st != http.StatusOK || len(hist.Bookings) != 0 {
		t.Fatalf("after the sweep: %d %+v", st, hist)
	}
}
