package booking_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"parley/tests/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Timeouts that only stop a hung test; nothing asserts on durations.
const (
	mailTimeout = 90 * time.Second
	stepTimeout = 45 * time.Second
)

// Accounts of the tests. The names are distinctive so that a search of
// the logs cannot match anything else by accident.
const (
	tenant          = "bank"
	adminPassword   = "Kiesel-Leuchtturm-8813!"
	advisorUsername = "qxberaterin"
	advisorDisplay  = "Erika Quellmann-Zander"
	advisorEmail    = "erika.qz@bank.test"
	advisorPassword = "Anker-Morgenrot-5521#"
	advisorZone     = "Europe/Berlin"
	customerZone    = "America/New_York"
)

// relay is a relay process set up for booking: SMTP to the test's mail
// server, a public URL that names its own loopback port, and an advisor
// with availability, one appointment type and an enabled booking page.
type relay struct {
	proc    *testenv.RelayProc
	bin     string
	dir     string
	port    int
	smtp    string
	api     *testenv.API // anonymous
	advisor *testenv.API // signed in as the advisor
	pageID  string
	pageURL string
	typeID  string
}

// freePort returns a loopback port that is free for TCP and UDP (the
// relay serves HTTPS and HTTP/3 on the same number) at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		_ = pc.Close()
		return port
	}
	t.Fatal("no free loopback port for TCP and UDP")
	return 0
}

// startRelay starts a relay process on a fresh data folder, sending mail
// to smtpAddr, and sets the advisor up.
func startRelay(t *testing.T, smtpAddr string) *relay {
	t.Helper()
	r := &relay{bin: testenv.BuildRelay(t), dir: t.TempDir(), port: freePort(t), smtp: smtpAddr}
	r.start(t)
	r.setUpAdvisor(t)
	return r
}

// start starts (or restarts) the process on the relay's data folder and
// port.
func (r *relay) start(t *testing.T) {
	t.Helper()
	base := fmt.Sprintf("https://127.0.0.1:%d", r.port)
	r.proc = testenv.StartRelayProcessConfig(t, testenv.RelayConfig{
		Binary: r.bin, DataDir: r.dir,
		Args: []string{
			"--listen", fmt.Sprintf("127.0.0.1:%d", r.port), "--media-listen", "127.0.0.1:0",
			"--tenant", tenant, "--tenant-name", "Musterbank",
			"--smtp", r.smtp, "--smtp-tls", "none", "--mail-from", "parley@bank.test",
			"--public-url", base,
		},
		Env: []string{"PARLEY_ADMIN_PASSWORD=" + adminPassword},
	})
	if r.proc.URL != base {
		t.Fatalf("relay listens on %s, want %s", r.proc.URL, base)
	}
	http := testenv.RelayClient(t, r.dir)
	r.api = &testenv.API{Base: base, HTTP: http}
	if r.advisor != nil {
		r.advisor = &testenv.API{Base: base, HTTP: http, Token: r.advisor.Token}
	}
}

// setUpAdvisor creates the advisor (as the admin), signs in as the
// advisor, sets weekly availability in Berlin from 07:00 to 21:00 every
// day, adds a 30-minute video appointment and enables the booking page.
func (r *relay) setUpAdvisor(t *testing.T) {
	t.Helper()
	admin, _ := r.api.Login(t, tenant, "admin", adminPassword)
	admin.Must(t, http.MethodPost, "/api/v1/users", map[string]string{
		"username": advisorUsername, "display_name": advisorDisplay, "email": advisorEmail,
		"password": advisorPassword, "role": "advisor",
	}, http.StatusCreated, nil)
	adv, login := r.api.Login(t, tenant, advisorUsername, advisorPassword)
	if login.User.MustChangePassword {
		adv.Must(t, http.MethodPost, "/api/v1/me/password", map[string]string{
			"current_password": advisorPassword, "new_password": advisorPassword + "x",
		}, http.StatusNoContent, nil)
		adv, _ = r.api.Login(t, tenant, advisorUsername, advisorPassword+"x")
	}
	r.advisor = adv

	var weekly []map[string]any
	for d := 0; d <= 6; d++ {
		weekly = append(weekly, map[string]any{"weekday": d, "start": "07:00", "end": "21:00"})
	}
	adv.Must(t, http.MethodPut, "/api/v1/booking/availability", map[string]any{
		"time_zone": advisorZone, "weekly": weekly, "exceptions": []any{},
	}, http.StatusNoContent, nil)
	var ty struct {
		ID string `json:"id"`
	}
	adv.Must(t, http.MethodPost, "/api/v1/booking/types", map[string]any{
		"name": "Erstberatung Baufinanzierung", "description": "Wir besprechen Ihr Vorhaben & Ihre Fragen.",
		"kind": "video", "duration_min": 30, "buffer_before_min": 0, "buffer_after_min": 10,
		"min_notice_min": 60, "per_day_limit": 0, "active": true,
	}, http.StatusCreated, &ty)
	var page struct {
		PageID  string `json:"page_id"`
		URL     string `json:"url"`
		Enabled bool   `json:"enabled"`
	}
	adv.Must(t, http.MethodPost, "/api/v1/booking/page", nil, http.StatusOK, &page)
	if page.PageID == "" || !page.Enabled {
		t.Fatalf("enable booking page: %+v", page)
	}
	want := r.api.Base + "/b/" + url.PathEscape(page.PageID)
	if page.URL != want {
		t.Errorf("booking page url = %q, want %q", page.URL, want)
	}
	r.typeID, r.pageID, r.pageURL = ty.ID, page.PageID, want
}

// slot is one free time from the slots route.
type slot struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// slots lists the free slots of the relay's type in the next 14 days.
func (r *relay) slots(t *testing.T) []slot {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	q := url.Values{"type": {r.typeID}, "from": {now.Format(time.RFC3339)}, "to": {now.Add(14 * 24 * time.Hour).Format(time.RFC3339)}}
	var out struct {
		Slots    []slot `json:"slots"`
		TimeZone string `json:"time_zone"`
	}
	getJSON(t, r.api, "/api/v1/pages/"+url.PathEscape(r.pageID)+"/slots", q, &out)
	if out.TimeZone != advisorZone {
		t.Errorf("slots time_zone = %q, want %q", out.TimeZone, advisorZone)
	}
	if len(out.Slots) == 0 {
		t.Fatal("no free slots in the next 14 days")
	}
	return out.Slots
}

// getJSON is API.Must for a GET with a query string (API.Call takes
// paths only).
func getJSON(t *testing.T, a *testenv.API, path string, q url.Values, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.Base+path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	res, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s?%s: status %d, want 200; body %s", path, q.Encode(), res.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: decode %s: %v", path, b, err)
	}
}

func base64Reader(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }
