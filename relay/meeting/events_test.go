package meeting

import (
	"testing"
)

func TestEvents(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	ch, cancel := e.svc.Subscribe(m.ID)
	defer cancel()
	otherCh, otherCancel := e.svc.Subscribe("0123456789abcdef0123456789abcdef")
	defer otherCancel()

	a := e.join(tok, "Max", "")
	b := e.join(tok, "Eve", "")
	must(t, e.svc.Admit(e.ctx, advisor, m.ID, a.ParticipantID))
	must(t, e.svc.Reject(e.ctx, advisor, m.ID, b.ParticipantID))
	_ = e.svc.Admit(e.ctx, advisor2, m.ID, b.ParticipantID) // forbidden: no event
	must(t, e.svc.Remove(e.ctx, advisor, m.ID, a.ParticipantID))
	must(t, e.svc.End(e.ctx, advisor, m.ID))
	must(t, e.svc.End(e.ctx, advisor, m.ID)) // no second Ended

	want := []Event{
		{Kind: EventJoined, MeetingID: m.ID, ParticipantID: a.ParticipantID},
		{Kind: EventJoined, MeetingID: m.ID, ParticipantID: b.ParticipantID},
		{Kind: EventStarted, MeetingID: m.ID},
		{Kind: EventAdmitted, MeetingID: m.ID, ParticipantID: a.ParticipantID},
		{Kind: EventRejected, MeetingID: m.ID, ParticipantID: b.ParticipantID},
		{Kind: EventRemoved, MeetingID: m.ID, ParticipantID: a.ParticipantID},
		{Kind: EventEnded, MeetingID: m.ID},
	}
	for i, w := range want {
		select {
		case got := <-ch:
			if got != w {
				t.Fatalf("event %d: %+v, want %+v", i, got, w)
			}
		default:
			t.Fatalf("event %d missing, want %+v", i, w)
		}
	}
	select {
	case got := <-ch:
		t.Fatalf("unexpected event %+v", got)
	case got := <-otherCh:
		t.Fatalf("other meeting got %+v", got)
	default:
	}
	cancel()
	cancel() // twice is fine
	if _, ok := <-ch; ok {
		t.Fatal("channel open after cancel")
	}
	// Publishing after cancel does not panic.
	e.svc.notes.publish([]Event{{Kind: EventEnded, MeetingID: m.ID}})
}

func TestEventsSlowSubscriber(t *testing.T) {
	e := newEnv(t, nil, func(o *Options) { o.EventBuffer = 2 })
	m, tok := e.instant()
	ch, cancel := e.svc.Subscribe(m.ID)
	defer cancel()
	for range 5 {
		e.join(tok, "K", "") // never blocks although nobody reads
	}
	for i := range 2 {
		if ev := <-ch; ev.Kind != EventJoined || ev.Lagged {
			t.Fatalf("buffered event %d: %+v", i, ev)
		}
	}
	e.join(tok, "K", "")
	if ev := <-ch; !ev.Lagged || ev.Kind != EventJoined {
		t.Fatalf("first event after drops: %+v, want Lagged", ev)
	}
	e.join(tok, "K", "")
	if ev := <-ch; ev.Lagged {
		t.Fatalf("Lagged stuck: %+v", ev)
	}
}
