// Package signing holds the end-to-end test of the customer's browser
// signing page (/s/{token}, issue 6): an in-process relay mailing to an
// SMTP server the test starts on loopback and sending its code SMS to a
// fake Twilio on loopback; an advisor creating and sending a process
// through the API; two customers signing in real Chromium (each in a
// fresh browser context) with synthetic pen input carrying pressure; the
// advisor signing through the API; and the final PDF checked with
// relay/signing/pdf.Verify, poppler's pdfsig and the trustee's key. The
// tests live in package signing_test; this file only documents them.
package signing
