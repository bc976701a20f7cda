// Package app is Parley's desktop user interface, built with Fyne: the
// sign-in and change-password screens and the advisor and admin workspace.
//
// The package does no network, file or media I/O. It reaches the relay only
// through the small [Relay] interface it defines; the program's main
// package adapts the relay link client to it. Every Relay call runs on its
// own goroutine with a context and a timeout, and its result is handed back
// to the widgets through [fyne.Do], so the window never waits on the
// network: while a call runs, the button that started it is disabled and an
// activity indicator shows.
//
// Video calls come in the same way: the main package passes a
// [CallStarter] (built on the media engine) and the call view drives the
// [Call] it returns, drawing remote and local video from [VideoSource]s on
// a 30 Hz ticker that hands changed frames to the UI thread.
package app
