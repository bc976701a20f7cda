package app

import (
	"context"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// KioskCall is a branch kiosk's request to talk to an advisor.
type KioskCall struct {
	// ID identifies the request; KioskName is the calling kiosk's name.
	ID, KioskName string
	// Created is when the kiosk called.
	Created time.Time
}

// ErrKioskCallTaken means another advisor accepted the kiosk's call first
// (or the kiosk gave up).
var ErrKioskCallTaken = errors.New("app: the kiosk call was taken by someone else")

// KioskCallRelay is the advisors' side of kiosk calls. A [Relay] that
// also implements it makes the signed-in app poll for kiosk calls.
type KioskCallRelay interface {
	// KioskCalls lists the tenant's kiosk calls waiting for an advisor.
	KioskCalls(ctx context.Context) ([]KioskCall, error)
	// AcceptKioskCall takes the call; the advisor hosts the meeting it
	// returns, where the kiosk is already admitted.
	// [ErrKioskCallTaken] when someone else was faster.
	AcceptKioskCall(ctx context.Context, id string) (MeetingInfo, error)
}

// kioskCallEvery is how often the waiting kiosk calls are read.
var kioskCallEvery = 4 * time.Second

// kioskCalls watches the tenant's kiosk calls during one session and asks
// the advisor to accept each new one.
type kioskCalls struct {
	u     *UI
	s     *session
	relay KioskCallRelay
	// open are the dialogs shown, by call id.
	open map[string]dialog.Dialog
	// seen are the calls already announced.
	seen map[string]bool
}

// watchKioskCalls starts polling for kiosk calls while s lasts, when the
// relay supports them and calls can be joined.
func (u *UI) watchKioskCalls(s *session) {
	kr, ok := u.relay.(KioskCallRelay)
	if !ok || u.opts.Calls == nil || u.opts.Kiosk {
		return
	}
	kc := &kioskCalls{u: u, s: s, relay: kr, open: map[string]dialog.Dialog{}, seen: map[string]bool{}}
	go func() {
		t := time.NewTicker(kioskCallEvery)
		defer t.Stop()
		for {
			ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
			calls, err := kr.KioskCalls(ctx)
			cancel()
			if s.ctx.Err() != nil {
				return
			}
			if err == nil {
				u.do(func() { kc.update(calls) })
			}
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// update shows a dialog for each new call and closes the dialogs of calls
// that are no longer waiting.
func (kc *kioskCalls) update(calls []KioskCall) {
	if kc.s.ctx.Err() != nil || kc.u.sess != kc.s {
		return
	}
	waiting := map[string]bool{}
	for _, c := range calls {
		waiting[c.ID] = true
		if kc.seen[c.ID] {
			continue
		}
		kc.seen[c.ID] = true
		kc.ask(c)
	}
	for id, d := range kc.open {
		if !waiting[id] {
			d.Hide()
			delete(kc.open, id)
		}
	}
}

// ask notifies the advisor and shows "Kiosk <name> asks for an advisor".
func (kc *kioskCalls) ask(c KioskCall) {
	title := "Kiosk " + c.KioskName + " asks for an advisor"
	kc.u.app.SendNotification(fyne.NewNotification(title, "A customer at the kiosk would like to talk to an advisor."))
	text := widget.NewLabel("A customer at the kiosk would like to talk to an advisor by video. Accept to start the call.")
	text.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm(title, "Accept", "Not now", column(460, text), func(ok bool) {
		delete(kc.open, c.ID)
		if ok {
			kc.accept(c)
		}
	}, kc.u.win)
	kc.open[c.ID] = d
	d.Show()
}

// accept takes the call and joins its meeting the way the Meetings page
// joins a call.
func (kc *kioskCalls) accept(c KioskCall) {
	u, s := kc.u, kc.s
	run(u, s.ctx, func(ctx context.Context) (MeetingInfo, error) {
		return kc.relay.AcceptKioskCall(ctx, c.ID)
	}, func(m MeetingInfo, err error) {
		if s.ctx.Err() != nil || u.sess != s || s.work == nil {
			return
		}
		switch {
		case errors.Is(err, ErrKioskCallTaken):
			s.work.notify("Another advisor has already taken the call of kiosk " + c.KioskName + ".")
			return
		case err != nil:
			s.work.notify("The kiosk call could not be accepted: " + message(err))
			return
		}
		if s.work.meet.call != nil {
			s.work.notify("You are already in a call.")
			return
		}
		s.work.openMeeting(m)
		s.work.meet.join()
	})
}
