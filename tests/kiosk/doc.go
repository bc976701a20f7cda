// Package kiosk holds the end-to-end test of the branch kiosk (`parley
// --kiosk`, issue 6): a real relay in-process with a sent signing process
// queued at a kiosk, the real desktop binary in kiosk mode in a real
// window under Xvfb, driven through the X server's XTEST extension (a
// tap on "Sign a document", the pickup code typed, Return to confirm),
// and a pen tablet replayed as a stream of evdev input_event records
// through a named pipe. The test checks that the signature completes the
// process on the relay and that afterwards the kiosk's data folder holds
// nothing of the session. The tests live in package kiosk_test; this file
// only documents them.
package kiosk
