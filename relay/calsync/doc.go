// Package calsync brings an advisor's outside calendars into Parley as busy
// time and manages the secret token of the advisor's outgoing ICS feed.
//
// Sources are plain ICS addresses (the "secret address" Outlook, Google
// and Apple calendars publish; webcal:// is read as https://) and CalDAV
// collections (RFC 4791 calendar-query REPORT with a time-range filter).
// A Service polls every source every PollInterval, expands the events of
// the next Window itself (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides;
// time zones by IANA or Windows name; DST gaps and repeated hours as in
// RFC 5545 §3.3.5) and stores only the resulting start/end pairs per
// source: no summaries, locations, descriptions or attendees are kept
// (data minimisation). A successful sync replaces a source's busy time in
// one transaction; a failed one keeps the previous busy time and records
// an error message that holds no personal data.
//
// Outbound requests go through a hardened HTTP client: no proxy from the
// environment, at most 3 redirects, bodies capped at MaxBody, and a dial
// guard that refuses loopback, private, link-local, CGNAT, multicast and
// unspecified addresses after DNS resolution (so DNS rebinding cannot
// bypass it) unless Options.AllowPrivateNetworks is set (tests).
//
// Keys (prefix "calsync/"; ids are random hex, tokens appear as SHA-256):
//
//	calsync/src/<tenant>/<advisor>/<source>  sourceRecord (JSON, with credentials)
//	calsync/busy/<tenant>/<advisor>/<source> busy intervals (binary)
//	calsync/feed/<tenant>/<advisor>          sha256(feed token)
//	calsync/token/<sha256(feed token)>       tenant and advisor ids
//
// Logs carry tenant, advisor and source ids only, never URLs (an ICS
// address is itself a secret), credentials or event content.
package calsync
