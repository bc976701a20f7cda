package app

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// showTrustDialog asks whether to trust a relay certificate that this
// computer has not seen before, showing host and fingerprint. answer gets
// true for "Trust and connect", false for "Cancel" (or Escape).
func showTrustDialog(win fyne.Window, host, fingerprint string, answer func(bool)) {
	intro := widget.NewLabel("The relay presented a certificate that this computer has not seen before. " +
		"Compare its fingerprint with the one your administrator gave you, and trust it only if they match.")
	intro.Wrapping = fyne.TextWrapWord
	hostLabel := widget.NewLabelWithStyle(host, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	hostLabel.Selectable = true
	fp := widget.NewLabelWithStyle(formatFingerprint(fingerprint), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	fp.Wrapping = fyne.TextWrapBreak
	fp.Selectable = true
	content := column(520,
		intro,
		widget.NewLabelWithStyle("Relay", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		hostLabel,
		widget.NewLabelWithStyle("Certificate fingerprint (SHA-256)", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		fp,
	)
	d := dialog.NewCustomConfirm("Unknown relay certificate", "Trust and connect", "Cancel", content, answer, win)
	d.Show()
}

// formatFingerprint breaks a "SHA256:AB:12:…" fingerprint after every 16
// pairs, so that it wraps between pairs and is easy to compare; other
// forms are returned as they are.
func formatFingerprint(fp string) string {
	rest, ok := strings.CutPrefix(fp, "SHA256:")
	pairs := strings.Split(rest, ":")
	if !ok || len(pairs) <= 16 {
		return fp
	}
	var b strings.Builder
	b.WriteString("SHA256:")
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(':')
			if i%16 == 0 {
				b.WriteByte('\n')
			}
		}
		b.WriteString(p)
	}
	return b.String()
}
