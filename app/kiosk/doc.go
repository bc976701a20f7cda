// Package kiosk is the branch kiosk mode of the desktop app (`parley
// --kiosk`): a full-screen, customer-facing shell with an attract screen,
// "Sign a document" (a document an advisor queued for this kiosk, opened
// with a pickup code typed on a large keypad, signed with a pen tablet or
// the touch screen) and "Talk to an advisor" (a video call as a guest of a
// meeting an advisor opens).
//
// A customer's visit is a session. Every session ends the same way — after
// the thank-you screen, a hang-up, a cancel, or when nobody touched the
// kiosk for [Options.IdleTimeout] (after a "still there?" warning) — by
// [Kiosk.EndSession]: signature buffers are zeroed, the documents, tokens
// and page images are dropped, the calls still running are cancelled, and
// every file in [Options.SessionDir] (the process's temporary folder and
// per-session cache) is removed. What the kiosk keeps is its pairing: the
// relay's address, its pinned certificate and the kiosk device token.
//
// Leaving kiosk mode takes five taps in the top-left corner of the attract
// screen within four seconds, then the kiosk's admin PIN, which the relay
// checks.
//
// Like package app, the shell reaches the relay only through the [Relay]
// interface and the pen only through [Pen]; results come back to the
// widgets on the UI thread. The one kind of file I/O it does itself is
// emptying the session folder.
package kiosk
