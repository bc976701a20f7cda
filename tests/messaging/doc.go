// Package messaging holds the end-to-end tests of the messenger inbox: the
// relay in-process with loopback fakes of WhatsApp, Telegram, Messenger
// and Twilio (relay/channels/fake) — signed webhooks through the whole
// relay, forged ones refused, replays stored once, the advisor's answers
// at the provider in its wire format, outages retried without loss — and
// the contact form in a real Chromium, whose answer arrives by e-mail at
// an in-process SMTP server. The tests live in package messaging_test;
// the benchmarks of webhooks, sends and the change feed are in
// bench_test.go.
package messaging
