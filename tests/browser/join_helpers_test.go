package browser

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parley/relay/server"
	"parley/tests/internal/testenv"
)

// joinEnv is a relay with a logged-in admin (who acts as the advisor) for
// the join page's tests.
type joinEnv struct {
	srv     *server.Server
	dir     string
	advisor *testenv.API
	// advisorName is the display name the join page should show.
	advisorName string
}

// joinMeeting is an instant meeting created through the API.
type joinMeeting struct {
	ID        string
	JoinURL   string
	JoinToken string
}

// participant is one entry of GET /api/v1/meetings/{id}/participants.
type participant struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone"`
	State string `json:"state"`
}

func startJoinEnv(t *testing.T) *joinEnv {
	t.Helper()
	dir := t.TempDir()
	s := testenv.StartRelayServer(t, server.Options{DataDir: dir, TenantSlug: "bank", TenantName: "Musterbank", AdminPassword: "correct horse battery staple 42"})
	api := &testenv.API{Base: s.URL(), HTTP: testenv.RelayClient(t, dir)}
	adv, login := api.Login(t, "bank", "admin", "correct horse battery staple 42")
	if login.User.MustChangePassword {
		t.Fatalf("the admin with a given AdminPassword must not have to change it")
	}
	name := login.User.DisplayName
	if name == "" {
		name = login.User.Username
	}
	return &joinEnv{srv: s, dir: dir, advisor: adv, advisorName: name}
}

func (e *joinEnv) newMeeting(t *testing.T, title string) joinMeeting {
	t.Helper()
	var out struct {
		Meeting struct {
			ID string `json:"id"`
		} `json:"meeting"`
		JoinToken string `json:"join_token"`
		JoinURL   string `json:"join_url"`
	}
	body := map[string]string{"type": "instant"}
	if title != "" {
		body["title"] = title
	}
	e.advisor.Must(t, http.MethodPost, "/api/v1/meetings", body, http.StatusCreated, &out)
	if !strings.HasPrefix(out.JoinURL, e.srv.URL()+"/j/pmj_") {
		t.Fatalf("join_url %q does not point at this relay's /j/pmj_...", out.JoinURL)
	}
	return joinMeeting{ID: out.Meeting.ID, JoinURL: out.JoinURL, JoinToken: out.JoinToken}
}

func (e *joinEnv) participants(t *testing.T, meetingID string) []participant {
	t.Helper()
	var out struct {
		Participants []participant `json:"participants"`
	}
	e.advisor.Must(t, http.MethodGet, "/api/v1/meetings/"+meetingID+"/participants", nil, http.StatusOK, &out)
	return out.Participants
}

// waitingParticipant polls the participant list (as the advisor would)
// until someone called name is waiting.
func (e *joinEnv) waitingParticipant(t *testing.T, meetingID, name string) participant {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := e.participants(t, meetingID)
		for _, p := range ps {
			if p.Name == name && p.State == "waiting" {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no waiting participant %q in meeting %s: %+v", name, meetingID, ps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// joinBrowser starts Chromium trusting the relay, with the given UI and
// Accept-Language (e.g. "en-US"), at a phone-friendly or desktop size.
func (e *joinEnv) joinBrowser(t *testing.T, lang string, width, height int) context.Context {
	t.Helper()
	return New(t, Options{
		TrustCertFiles: []string{testenv.CertFile(e.dir)},
		Width:          width, Height: height,
		Flags: map[string]any{"lang": lang, "accept-lang": lang},
	})
}

// pageView is what the join page shows: main's data-view, the heading
// and the status region's text.
type pageView struct {
	View    string `json:"view"`
	Heading string `json:"heading"`
	Status  string `json:"status"`
	Lang    string `json:"lang"`
}

const readView = `(() => {
	const m = document.getElementById('join');
	if (!m) return null;
	return {view: m.dataset.view, heading: document.getElementById('heading').textContent.trim(),
		status: document.getElementById('status').textContent.trim(), lang: document.documentElement.lang};
})()`

// waitView polls until the page's data-view is view (within 15 s; the
// page polls the relay every 2 s) and returns what it shows.
func waitView(t *testing.T, ctx context.Context, view string) pageView {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Poll[pageView](
		`(() => { const v = `+readView+`; return v && v.view === `+jsString(view)+` ? v : null; })()`,
		chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		cur, _ := chromedp.Run(ctx, chromedp.Evaluate[pageView](readView))
		t.Fatalf("the join page never showed view %q (now: %+v): %v", view, cur, err)
	}
	return v
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}

// storageState is what the page keeps in the browser.
type storageState struct {
	Cookie  string   `json:"cookie"`
	Local   int      `json:"local"`
	Session []string `json:"session"`
}

func readStorage(t *testing.T, ctx context.Context) storageState {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[storageState](`({cookie: document.cookie, local: localStorage.length,
		session: Object.keys(sessionStorage).map(k => k + '=' + sessionStorage.getItem(k))})`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
