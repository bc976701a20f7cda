// Package relayproc tests the relay as users run it: the binary built with
// CGO_ENABLED=0, started as a process on a loopback port chosen by the
// kernel, talked to over HTTPS with only its own certificate trusted, and
// stopped with SIGTERM. It checks first start, restart on the same data
// folder, clean shutdown, the absence of personal data in the logs, and
// that the headless server links no GUI code.
package relayproc
