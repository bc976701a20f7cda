// Package link is the desktop app's connection to the Parley relay.
//
// A [Client] talks to exactly one relay base URL. [Client.Connect] first
// tries QUIC (HTTP/3); when UDP is blocked or the relay has no HTTP/3
// listener it falls back to TCP (HTTPS with HTTP/2) within
// [Options.QUICTimeout] and reports which [Transport] is in use. The relay
// API (login, logout, the current user, password change, user management)
// is exposed as typed methods that follow docs/api-contract.md.
//
// Certificates are verified by this package on every handshake, with the
// same policy on both transports: a certificate whose fingerprint is pinned
// for the relay's host:port (see [PinStore] and [Client.Trust]) is accepted;
// a pinned host that presents any other certificate is a hard failure
// ([PinMismatchError]); an unpinned host is accepted only when its chain
// verifies under [Options.RootCAs] (or the system roots) for the URL's host
// name, and is otherwise reported as an [UntrustedCertError] carrying the
// fingerprint the user may choose to trust.
//
// Errors name the call that failed and wrap their kind: check them with
// errors.As ([APIError], [UntrustedCertError], [PinMismatchError]) or
// errors.Is ([ErrNotLoggedIn], [ErrBadResponse], ...), and show
// [UserMessage] to the user.
//
// The client never contacts anything but the relay it was given: no proxy,
// no redirects, and both transports refuse to dial any other address.
// Session tokens live in memory only and are never logged.
package link
