package server

import (
	"context"

	"parley/relay/chat"
	"parley/relay/signal"
	"parley/relay/signal/msg"
)

// timeline lets the signalling hub post to and read from the meetings'
// chat store.
type timeline struct{ chat *chat.Service }

func (t timeline) Post(ctx context.Context, meetingID string, a signal.Author, text, nonce string) (msg.Entry, bool, error) {
	return t.chat.Post(ctx, meetingID, chat.Author{ID: a.ID, Name: a.Name, Role: a.Role}, text, nonce)
}

func (t timeline) Since(ctx context.Context, meetingID string, since uint64, limit int) ([]msg.Entry, error) {
	return t.chat.Since(ctx, meetingID, since, limit)
}
