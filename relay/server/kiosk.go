package server

import (
	"context"
	"errors"
	"fmt"

	"parley/relay/api"
	"parley/relay/auth"
	"parley/relay/kiosk"
	"parley/relay/meeting"
	"parley/relay/signal/msg"
	"parley/relay/signing"
)

// kiosks wires synchronous signing, kiosk devices and kiosk calls
// (api.Kiosks) over the kiosk, signing and meeting services and the
// signalling hub (docs/signing.md, "Synchronous signing" and "Kiosks").
type kiosks struct {
	srv      *Server
	svc      *kiosk.Service
	signing  *signing.Service
	meetings *meeting.Service
}

var _ api.Kiosks = (*kiosks)(nil)

// startKiosks makes the kiosk service; it needs the signing service.
func (s *Server) startKiosks(opts Options, meetings *meeting.Service) error {
	params := kiosk.DefaultPINParams
	if opts.Hash.Time > 0 && opts.Hash.MemoryKiB > 0 {
		params = kiosk.PINParams{Time: opts.Hash.Time, MemoryKiB: opts.Hash.MemoryKiB}
	}
	svc, err := kiosk.New(kiosk.Options{Store: s.store, Clock: s.clock, Logger: s.log.With("component", "kiosk"), PIN: params})
	if err != nil {
		return fmt.Errorf("server: kiosks: %w", err)
	}
	s.kiosks = &kiosks{srv: s, svc: svc, signing: s.signing, meetings: meetings}
	return nil
}

func meetingActor(s auth.Session) meeting.Actor {
	return meeting.Actor{TenantID: s.TenantID, UserID: s.UserID, Admin: s.Role == auth.RoleAdmin}
}

func signingActorOf(s auth.Session) signing.Actor {
	return signing.Actor{TenantID: s.TenantID, UserID: s.UserID, Admin: s.Role == auth.RoleAdmin}
}

// Present: the meeting must be open and hosted by the caller, the
// participant admitted, the process's next signer a customer.
func (k *kiosks) Present(ctx context.Context, s auth.Session, processID, meetingID, participantID string) (api.Presented, error) {
	m, err := k.meetings.Get(ctx, meetingActor(s), meetingID)
	if err != nil {
		return api.Presented{}, err
	}
	if m.Status != meeting.StatusOpen || m.AdvisorID != s.UserID {
		return api.Presented{}, api.ErrMeetingNotLive
	}
	ps, err := k.meetings.Participants(ctx, meetingActor(s), meetingID)
	if err != nil {
		return api.Presented{}, err
	}
	found := false
	for _, p := range ps {
		found = found || (p.ID == participantID && p.State == meeting.StateAdmitted)
	}
	if !found {
		return api.Presented{}, api.ErrParticipantNotFound
	}
	_, sg, err := k.signing.CustomerTurn(ctx, signingActorOf(s), processID)
	if err != nil {
		return api.Presented{}, err
	}
	ss, err := k.signing.StartSyncSession(ctx, s.TenantID, processID, sg.Role, signing.ChannelMeeting)
	if err != nil {
		return api.Presented{}, err
	}
	n := 0
	if k.srv.hub != nil {
		n = k.srv.hub.SendToParticipant(meetingID, participantID, msg.Message{Type: msg.TypeSignRequest,
			Sign: &msg.SignRequest{Process: processID, Title: ss.Title, URL: "/s/" + ss.Token + "#session=" + ss.Session}})
	}
	k.srv.log.Info("signing: presented in a meeting", "process_id", processID, "meeting_id", meetingID, "participant_id", participantID, "delivered", n > 0)
	return api.Presented{Signer: sg.Role, Delivered: n > 0}, nil
}

func (k *kiosks) QueueAtKiosk(ctx context.Context, s auth.Session, processID, kioskID string) (kiosk.Entry, string, error) {
	_, sg, err := k.signing.CustomerTurn(ctx, signingActorOf(s), processID)
	if err != nil {
		return kiosk.Entry{}, "", err
	}
	return k.svc.Queue(ctx, s.TenantID, kioskID, processID, sg.Role, s.UserID)
}

func (k *kiosks) CreateKiosk(ctx context.Context, tenantID, name, pin string) (kiosk.Device, string, error) {
	return k.svc.Create(ctx, tenantID, name, pin)
}

func (k *kiosks) ListKiosks(ctx context.Context, tenantID string) ([]kiosk.Device, error) {
	return k.svc.List(ctx, tenantID)
}

func (k *kiosks) DeleteKiosk(ctx context.Context, tenantID, id string) error {
	return k.svc.Delete(ctx, tenantID, id)
}

func (k *kiosks) Authenticate(ctx context.Context, token string) (kiosk.Device, error) {
	return k.svc.Authenticate(ctx, token)
}

func (k *kiosks) Me(ctx context.Context, d kiosk.Device) (api.KioskInfo, error) {
	t, err := k.srv.auth.TenantByID(ctx, d.TenantID)
	if err != nil {
		return api.KioskInfo{}, err
	}
	return api.KioskInfo{ID: d.ID, Name: d.Name, TenantName: t.Name}, nil
}

// Queue shows each live entry with the process's current title and the
// advisor's display name (read now, never copied into the entry);
// entries whose process is gone are left out.
func (k *kiosks) Queue(ctx context.Context, d kiosk.Device) ([]api.KioskQueueEntry, error) {
	es, err := k.svc.Entries(ctx, d.TenantID, d.ID)
	if err != nil {
		return nil, err
	}
	out := []api.KioskQueueEntry{}
	reader := signing.Actor{TenantID: d.TenantID, UserID: "kiosk-" + d.ID, Admin: true}
	for _, e := range es {
		p, err := k.signing.Get(ctx, reader, e.ProcessID)
		if errors.Is(err, signing.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		name := ""
		if u, err := k.srv.auth.GetUser(ctx, d.TenantID, e.AdvisorID); err == nil {
			name = u.DisplayName
		}
		out = append(out, api.KioskQueueEntry{EntryID: e.ID, Title: p.Title, AdvisorName: name, QueuedAt: e.Queued})
	}
	return out, nil
}

func (k *kiosks) Open(ctx context.Context, d kiosk.Device, code string) (kiosk.Entry, signing.SyncSession, error) {
	e, err := k.svc.Open(ctx, d.TenantID, d.ID, code)
	if err != nil {
		return kiosk.Entry{}, signing.SyncSession{}, err
	}
	ss, err := k.signing.StartSyncSession(ctx, d.TenantID, e.ProcessID, e.Role, signing.ChannelKiosk)
	if err != nil {
		return kiosk.Entry{}, signing.SyncSession{}, err
	}
	return e, ss, nil
}

func (k *kiosks) Unlock(ctx context.Context, d kiosk.Device, pin string) error {
	return k.svc.Unlock(ctx, d.TenantID, d.ID, pin)
}

func (k *kiosks) CreateCall(ctx context.Context, d kiosk.Device) (kiosk.Call, error) {
	return k.svc.CreateCall(ctx, d.TenantID, d.ID)
}

func (k *kiosks) Call(ctx context.Context, d kiosk.Device, id string) (kiosk.Call, error) {
	return k.svc.CallOf(ctx, d.TenantID, d.ID, id)
}

func (k *kiosks) CancelCall(ctx context.Context, d kiosk.Device, id string) (kiosk.Call, error) {
	return k.svc.CancelCall(ctx, d.TenantID, d.ID, id)
}

func (k *kiosks) WaitingCalls(ctx context.Context, tenantID string) ([]api.KioskCall, error) {
	cs, err := k.svc.WaitingCalls(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := []api.KioskCall{}
	for _, c := range cs {
		d, err := k.svc.Get(ctx, tenantID, c.KioskID)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, api.KioskCall{ID: c.ID, KioskID: c.KioskID, KioskName: d.Name, CreatedAt: c.Created})
	}
	return out, nil
}

// AcceptCall claims the call (first advisor wins), makes an instant
// meeting hosted by the caller, joins the kiosk under its name and admits
// it, and hands the kiosk's participant secret to the call. A failure on
// the way releases the claim and ends the meeting.
func (k *kiosks) AcceptCall(ctx context.Context, s auth.Session, id string) (meeting.Meeting, error) {
	c, err := k.svc.Claim(ctx, s.TenantID, id, s.UserID)
	if err != nil {
		return meeting.Meeting{}, err
	}
	var m meeting.Meeting
	fail := func(err error) (meeting.Meeting, error) {
		bg := context.WithoutCancel(ctx)
		if m.ID != "" {
			_ = k.meetings.End(bg, meetingActor(s), m.ID)
		}
		_ = k.svc.Release(bg, s.TenantID, id, s.UserID)
		return meeting.Meeting{}, err
	}
	d, err := k.svc.Get(ctx, s.TenantID, c.KioskID)
	if err != nil {
		return fail(err)
	}
	u, err := k.srv.auth.GetUser(ctx, s.TenantID, s.UserID)
	if err != nil {
		return fail(err)
	}
	m, token, err := k.meetings.CreateInstant(ctx, meeting.NewMeeting{TenantID: s.TenantID, AdvisorID: s.UserID, AdvisorName: u.DisplayName,
		Title: d.Name, Initiator: "kiosk"})
	if err != nil {
		return fail(err)
	}
	joined, err := k.meetings.Join(ctx, token, meeting.JoinRequest{Name: d.Name})
	if err != nil {
		return fail(err)
	}
	if err := k.meetings.Admit(ctx, meetingActor(s), m.ID, joined.ParticipantID); err != nil {
		return fail(err)
	}
	if _, err := k.svc.Complete(ctx, s.TenantID, id, s.UserID, m.ID, joined.Secret); err != nil {
		return fail(err)
	}
	return k.meetings.Get(ctx, meetingActor(s), m.ID)
}
