package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// peopleTexts joins the labels of the people list.
func peopleTexts(v *callView) string {
	var out []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch x := o.(type) {
		case *widget.Label:
			out = append(out, x.Text)
		case *fyne.Container:
			for _, c := range x.Objects {
				walk(c)
			}
		}
	}
	walk(v.peopleRows)
	return strings.Join(out, "\n")
}

func TestCallRecordButtonAndConsentState(t *testing.T) {
	c := newCallTest(t, &fakeRelay{})
	c.call.emit(RosterEvent{Participants: []CallParticipant{rosterSelf, rosterMax, rosterIda}})
	c.eventually("the roster", func() bool { return c.shows("Max Kunde") })
	if c.view.recLabel.Visible() {
		t.Fatal("the recording indicator shows before anything was asked")
	}

	// Record asks the call; the customers' answers show in the people list.
	c.tap("Record")
	c.eventually("the request", func() bool { return c.call.called("SetRecording true") == 1 })
	c.eventually("the hint", func() bool {
		return c.shows("Your customers are asked to consent. Recording starts once everyone has agreed.")
	})
	c.call.emit(RecordingEvent{Phase: RecordingPending, Awaiting: []string{"p2"}, Accepted: []string{"p1"}})
	c.eventually("the pending state", func() bool {
		return c.button("Stop recording") != nil && c.view.recLabel.Visible() && strings.Contains(c.view.recLabel.Text, "waiting for consent")
	})
	if people := peopleTexts(c.view); !strings.Contains(people, "Customer · agreed to recording") || !strings.Contains(people, "Customer · muted · camera off · asked to consent to recording") {
		t.Error("the people list does not show each customer's answer")
	}

	// Everyone agreed: the indicator says so.
	c.call.emit(RecordingEvent{Phase: RecordingOn, Accepted: []string{"p1", "p2"}})
	c.eventually("the indicator", func() bool { return c.view.recLabel.Text == "● Recording" })

	// Stop asks the call to stop; a withdrawal (phase off) resets the button.
	c.tap("Stop recording")
	c.eventually("the stop", func() bool { return c.call.called("SetRecording false") == 1 })
	c.call.emit(RecordingEvent{Phase: RecordingOff})
	c.eventually("the button back", func() bool { return c.button("Record") != nil && !c.view.recLabel.Visible() })
	if strings.Contains(peopleTexts(c.view), "agreed to recording") {
		t.Error("the people list still shows consent after the recording ended")
	}
}
