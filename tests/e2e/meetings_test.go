package e2e

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"parley/sync/link"
	"parley/tests/internal/testenv"
)

// TestInstantMeetingWaitingRoom: an advisor starts an instant meeting over
// QUIC, a customer joins over plain HTTPS with the link, waits, is
// admitted, and the meeting ends, killing the link.
func TestInstantMeetingWaitingRoom(t *testing.T) {
	dir := t.TempDir()
	s := startRelay(t, dir)
	defer s.Close()

	admin := connect(t, s, false)
	if _, err := admin.Login(ctx(t), "sparkasse-nord", "admin", adminPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateUser(ctx(t), link.NewUser{Username: "lena", DisplayName: "Lena Vogt", Password: "Kastanie-Regen-88", Role: link.RoleAdvisor}); err != nil {
		t.Fatal(err)
	}
	adv := connect(t, s, false)
	if _, err := adv.Login(ctx(t), "sparkasse-nord", "lena", "Kastanie-Regen-88"); err != nil {
		t.Fatal(err)
	}
	if err := adv.ChangePassword(ctx(t), "Kastanie-Regen-88", "Leuchtkäfer-Sommer-19"); err != nil {
		t.Fatal(err)
	}

	m, l, err := adv.CreateMeeting(ctx(t), "Baufinanzierung")
	if err != nil {
		t.Fatalf("create meeting: %v", err)
	}
	if m.Type != link.MeetingInstant || m.Title != "Baufinanzierung" || m.Ended != nil || !strings.HasPrefix(l.Token, "pmj_") {
		t.Fatalf("meeting %+v, token prefix %q", m, l.Token[:min(4, len(l.Token))])
	}
	u, err := url.Parse(l.URL)
	if err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Path, "/j/"+l.Token) {
		t.Fatalf("join URL %q", l.URL)
	}
	if got, err := adv.Meeting(ctx(t), m.ID); err != nil || got.ID != m.ID {
		t.Fatalf("get meeting: %+v %v", got, err)
	}
	if list, err := adv.Meetings(ctx(t), 10); err != nil || len(list) != 1 || list[0].ID != m.ID {
		t.Fatalf("the advisor's meetings: %+v %v", list, err)
	}

	// The customer joins over HTTPS (TCP), without an account.
	customer := &testenv.API{Base: s.URL(), HTTP: testenv.RelayClient(t, dir)}
	var joined struct {
		ParticipantID string `json:"participant_id"`
		Secret        string `json:"secret"`
		State         string `json:"state"`
	}
	customer.Must(t, http.MethodPost, "/api/v1/join/"+l.Token, map[string]string{"name": "Max Kunde", "phone": "+49 30 1234567"}, http.StatusCreated, &joined)
	if joined.State != link.ParticipantWaiting || !strings.HasPrefix(joined.Secret, "pmp_") {
		t.Fatalf("join answer: state %q", joined.State)
	}
	guest := &testenv.API{Base: s.URL(), HTTP: customer.HTTP, Token: joined.Secret}
	state := func() (string, string) {
		t.Helper()
		var st struct {
			ParticipantID string `json:"participant_id"`
			State         string `json:"state"`
			MeetingStatus string `json:"meeting_status"`
		}
		guest.Must(t, http.MethodGet, "/api/v1/participant", nil, http.StatusOK, &st)
		return st.State, st.MeetingStatus
	}
	if st, _ := state(); st != link.ParticipantWaiting {
		t.Fatalf("customer state %q before admission", st)
	}

	// The advisor sees them waiting (the relay keeps the phone number
	// without spaces) and admits them.
	ps, err := adv.Participants(ctx(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].ID != joined.ParticipantID || ps[0].Name != "Max Kunde" || ps[0].Phone != "+49301234567" || ps[0].State != link.ParticipantWaiting {
		t.Fatalf("participants %+v", ps)
	}
	if err := adv.Admit(ctx(t), m.ID, ps[0].ID); err != nil {
		t.Fatalf("admit: %v", err)
	}
	if st, ms := state(); st != link.ParticipantAdmitted || ms != "open" {
		t.Fatalf("customer state %q, meeting %q after admission", st, ms)
	}
	// Admitting twice is a conflict, not a success.
	var ae *link.APIError
	if err := adv.Admit(ctx(t), m.ID, ps[0].ID); !errors.As(err, &ae) || ae.Code != link.CodeConflict {
		t.Fatalf("second admit: %v", err)
	}

	// A second customer is turned away.
	var second struct {
		ParticipantID string `json:"participant_id"`
		Secret        string `json:"secret"`
	}
	customer.Must(t, http.MethodPost, "/api/v1/join/"+l.Token, map[string]string{"name": "Ida Gast"}, http.StatusCreated, &second)
	if err := adv.Reject(ctx(t), m.ID, second.ParticipantID); err != nil {
		t.Fatalf("reject: %v", err)
	}
	ps, err = adv.Participants(ctx(t), m.ID)
	if err != nil || len(ps) != 2 || ps[1].State != link.ParticipantRejected || ps[1].Phone != "" {
		t.Fatalf("participants after reject: %+v %v", ps, err)
	}

	// A new link kills the old one.
	l2, err := adv.RotateLink(ctx(t), m.ID)
	if err != nil || l2.Token == l.Token {
		t.Fatalf("rotate: %v", err)
	}
	customer.Fail(t, http.MethodGet, "/api/v1/join/"+l.Token, nil, http.StatusNotFound, "link_invalid")
	customer.Must(t, http.MethodGet, "/api/v1/join/"+l2.Token, nil, http.StatusOK, nil)

	// The advisor ends the meeting: the customer is out, the link is dead.
	if err := adv.EndMeeting(ctx(t), m.ID); err != nil {
		t.Fatalf("end: %v", err)
	}
	if got, err := adv.Meeting(ctx(t), m.ID); err != nil || got.Ended == nil || got.Status != "ended" {
		t.Fatalf("meeting after end: %+v %v", got, err)
	}
	customer.Fail(t, http.MethodPost, "/api/v1/join/"+l2.Token, map[string]string{"name": "Spät"}, http.StatusGone, "meeting_ended")
	if st, ms := state(); st != link.ParticipantEnded || ms != "ended" {
		t.Fatalf("customer after end: state %q, meeting %q", st, ms)
	}
	if adv.Transport() != link.TransportQUIC {
		t.Errorf("the advisor's calls moved to %s", adv.Transport())
	}

	// Another advisor cannot see or end the meeting.
	if _, err := admin.CreateUser(ctx(t), link.NewUser{Username: "tom", DisplayName: "Tom Brandt", Password: "Seestern-Winter-27", Role: link.RoleAdvisor}); err != nil {
		t.Fatal(err)
	}
	other := connect(t, s, false)
	if _, err := other.Login(ctx(t), "sparkasse-nord", "tom", "Seestern-Winter-27"); err != nil {
		t.Fatal(err)
	}
	if err := other.ChangePassword(ctx(t), "Seestern-Winter-27", "Wolkenbruch-Herbst-64"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Participants(ctx(t), m.ID); !errors.As(err, &ae) || (ae.Status != http.StatusForbidden && ae.Status != http.StatusNotFound) {
		t.Errorf("another advisor reads the participants: %v", err)
	}
}
