// Package booking holds the end-to-end tests of appointment booking: a
// relay process with an SMTP server started by the test on loopback, a
// real Chromium customer on the booking page (/b/{page}) and the manage
// page (/m/{token}), the confirmation and cancellation mails with their
// iCalendar attachments, and the durable outbox across a killed relay.
// The tests live in package booking_test; this file only documents them.
package booking
