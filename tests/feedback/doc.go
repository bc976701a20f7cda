// Package feedback holds the end-to-end test of the feedback
// questionnaire: an in-process relay mailing to an SMTP server started by
// the test on loopback, an advisor recording the customer's consent after
// the meeting through the API, and a real Chromium customer answering the
// questionnaire (/f/{token}) from the link in the caught mail; the advisor
// then reads the answer through the API. The tests live in package
// feedback_test; this file only documents them.
package feedback
