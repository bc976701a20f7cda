// Package cache is the desktop app's offline copy of the advisor's inbox:
// conversations and messages kept in an encrypted badger store on this
// computer and in step with the relay's change feed, and an outbox of
// messages written while offline.
//
// # Sync
//
// [Cache.Run] catches up from the stored cursor through the relay's
// change feed (GET /api/v1/inbox/changes), a page at a time, each page
// applied with its new cursor in one transaction, then long-polls for
// live changes. A "removed" change (reassignment, the tenant's retention,
// a customer's erasure) deletes the conversation with its messages and
// cached attachments here too: that is how retention and erasure reach
// the desktop. A conversation the cache has not seen is fetched in full
// (its messages page by page); the need is stored with the page that
// revealed it, so an interrupted fetch is finished after a restart.
// Failures (the relay unreachable, the session ended) are retried with
// exponential back-off; the cache then serves what it has (read-only
// offline).
//
// # Outbox
//
// [Cache.Send] and [Cache.SendAttachment] store the message locally with
// a fresh client id and return at once; a sender loop delivers the
// outbox in order whenever the relay is reachable. The relay stores a
// message once per client id, and the cache keeps each client id once:
// a resend after an ambiguous failure (the relay stored the message but
// the answer was lost) returns the stored message, and a change that
// brings the message first retires the outbox entry. The outbox is in the
// store, so it survives a restart. A message the relay refuses for good
// (a 4xx answer such as a closed WhatsApp window) stays in the outbox
// marked refused until [Cache.Retry] or [Cache.Discard].
//
// # Other data
//
// Customers and bookings are kept as read-only snapshots by kind
// ([Cache.PutSnapshot], [Cache.Snapshot]): the caller refreshes a kind as
// a whole from the relay when online and reads it when offline. Each kind
// is replaced atomically, so a snapshot never mixes two refreshes and a
// record deleted on the relay disappears with the next refresh.
//
// Storage is [store.KV]; [OpenStore] opens the encrypted badger store with
// its key in a 0600 key file next to it. Keys hold ids and numbers only;
// names, texts and files are in values, encrypted at rest by badger.
package cache
