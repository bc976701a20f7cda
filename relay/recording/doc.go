// Package recording records a meeting with its customers' consent and
// builds the session archive the advisor downloads.
//
// It has four parts:
//
//   - Consent, a pure state machine (clock injected): the advisor requests,
//     every present customer must accept, anyone may refuse or withdraw,
//     and a customer who joins during a recording pauses it until they
//     accept. Every transition goes into a consent record (participant id,
//     action, time) that the archive carries, and every change yields an
//     Indicator to broadcast to all participants.
//   - TrackWriter, which depacketises one published track's RTP (VP8 or
//     Opus) with pion's sample builder and writes its frames, without
//     transcoding, to a WebM file through ebml-go's muxer, starting video
//     at a keyframe; a sidecar JSON holds the wall-clock start, the first
//     RTP timestamp and, when given, the sender report's RTP/NTP mapping,
//     so that tracks can be aligned. Recorder ties consent and writers
//     together: the SFU feeds each track's packets into a Track (Sink),
//     which records them only while the consent state allows.
//   - Store, one folder per meeting under the relay's data folder, every
//     file sealed with chunked AES-256-GCM (see OpenSealed; the key is
//     derived from the store key per file), an index of meetings and their
//     end times in the relay store, and Sweep, which deletes a meeting's
//     whole folder once retention.ClassRecording's period (180 days by
//     default) has passed since the meeting ended, unless a legal hold
//     keeps it.
//   - WriteArchive, which streams a ZIP (media, chat transcript, files,
//     whiteboard images, signed PDFs, metadata, consent record and a
//     manifest of SHA-256 sums) from a Source, holding no file whole in
//     memory and reporting progress against a total known up front.
//
// Logs carry ids only. See docs/recording.md.
package recording
