package app

import (
	"context"

	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// CallRecorder is implemented by calls that can be recorded with the
// customers' consent (the relay's recording: docs/recording.md). The call
// view shows its Record button only for such calls.
type CallRecorder interface {
	// SetRecording asks every customer in the call to consent to a
	// recording (true) or stops the recording (false). Recording starts
	// only once every customer present has agreed; the state arrives as
	// [RecordingEvent]s.
	SetRecording(ctx context.Context, on bool) error
}

// Recording phases, as in [RecordingEvent.Phase].
const (
	RecordingOff     = "off"       // nothing asked, nothing recorded
	RecordingPending = "pending"   // asked; not every customer has agreed
	RecordingOn      = "recording" // every customer present agreed; recording
	RecordingPaused  = "paused"    // a customer who has not agreed is present
)

// RecordingEvent reports the meeting's recording state after every change.
type RecordingEvent struct {
	// Phase is one of the Recording… phases.
	Phase string
	// Awaiting are the guest ids ([CallParticipant.GuestID]) of the
	// customers present who have not agreed yet.
	Awaiting []string
	// Accepted are the guest ids of the customers present who agreed.
	Accepted []string
}

func (RecordingEvent) callEvent() {}

// recordingText is the indicator's text for a phase; empty when off.
func recordingText(phase string) string {
	switch phase {
	case RecordingOn:
		return "● Recording"
	case RecordingPaused:
		return "Recording paused: waiting for consent"
	case RecordingPending:
		return "Asked to record: waiting for consent"
	}
	return ""
}

// newRecordingLabel is the top bar's recording indicator, hidden while
// nothing is recorded or asked.
func newRecordingLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.TextStyle.Bold = true
	l.Hide()
	return l
}

// buildRecording adds the Record button when the call can be recorded
// (UI thread, from build).
func (v *callView) buildRecording() {
	if _, ok := v.call.(CallRecorder); !ok {
		return
	}
	v.recordBtn = widget.NewButtonWithIcon("Record", theme.MediaRecordIcon(), v.toggleRecording)
	v.toggleBox.Add(v.recordBtn)
}

// showRecording shows the recording state: the indicator, the button's
// label, and each customer's answer in the people list.
func (v *callView) showRecording() {
	text := recordingText(v.rec.Phase)
	v.recLabel.SetText(text)
	if text == "" {
		v.recLabel.Hide()
	} else {
		v.recLabel.Show()
	}
	if v.recordBtn != nil {
		if v.rec.Phase == "" || v.rec.Phase == RecordingOff {
			v.recordBtn.SetText("Record")
			v.recordBtn.Importance = widget.MediumImportance
		} else {
			v.recordBtn.SetText("Stop recording")
			v.recordBtn.Importance = widget.DangerImportance
		}
		v.recordBtn.Refresh()
		v.toggleBox.Refresh()
	}
	v.showPeople()
}

// consentState is a customer's answer for the people list; empty when
// nothing is asked.
func (v *callView) consentState(guestID string) string {
	for _, id := range v.rec.Accepted {
		if id == guestID {
			return "agreed to recording"
		}
	}
	for _, id := range v.rec.Awaiting {
		if id == guestID {
			return "asked to consent to recording"
		}
	}
	return ""
}

// toggleRecording asks to record, or stops, off the UI thread.
func (v *callView) toggleRecording() {
	rc, ok := v.call.(CallRecorder)
	if !ok || v.closed || v.recordBtn.Disabled() {
		return
	}
	want := v.rec.Phase == "" || v.rec.Phase == RecordingOff
	v.recordBtn.Disable()
	run(v.u, v.ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, rc.SetRecording(ctx, want)
	}, func(_ struct{}, err error) {
		if v.closed {
			return
		}
		v.recordBtn.Enable()
		if err != nil {
			v.notice.fail(message(err))
			return
		}
		if want {
			v.notice.info("Your customers are asked to consent. Recording starts once everyone has agreed.")
		}
	})
}
