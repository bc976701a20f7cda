package signal

import (
	"context"
	"sort"
	"time"

	"parley/relay/meeting"
	"parley/relay/sfu"
	"parley/relay/signal/msg"
)

// room is a meeting with connected clients.
type room struct {
	hub   *Hub
	id    string
	sfu   *sfu.Room
	unsub func()

	board roomBoard     // the meeting's whiteboard, opened on first use
	rec   roomRecording // the meeting's recorder, once asked for

	// guarded by hub.mu
	clients map[string]*client
	ended   bool
}

// enter adds c to its meeting's room, creating the room on first use, and
// ends an older connection of the same participant.
func (h *Hub) enter(c *client) *room {
	h.mu.Lock()
	r := h.rooms[c.id.meetingID]
	if r == nil {
		events, unsub := h.opts.Meetings.Subscribe(c.id.meetingID)
		r = &room{hub: h, id: c.id.meetingID, sfu: h.opts.SFU.Room(c.id.meetingID), unsub: unsub, clients: make(map[string]*client)}
		h.rooms[r.id] = r
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			r.watch(events)
		}()
	}
	var replaced []*client
	for _, o := range r.clients {
		if o.id.role == c.id.role && o.id.authorID == c.id.authorID {
			replaced = append(replaced, o)
		}
	}
	c.room = r
	r.clients[c.peerID] = c
	h.mu.Unlock()
	for _, o := range replaced {
		o.log.Info("replaced by a new connection")
		o.end(msg.EndedReplaced)
	}
	return r
}

// exit removes c; the last client out closes the room.
func (r *room) exit(c *client) {
	h := r.hub
	h.mu.Lock()
	delete(r.clients, c.peerID)
	empty := len(r.clients) == 0
	if empty && h.rooms[r.id] == r {
		delete(h.rooms, r.id)
		// Closed under the lock, so that a client entering next gets a
		// new SFU room rather than this closing one.
		r.sfu.Close()
	}
	h.mu.Unlock()
	r.boardLeave(c)
	r.recordingLeave(c)
	c.log.Info("signalling disconnected")
	if empty {
		r.unsub()
		return
	}
	r.broadcastRoster()
}

func (r *room) snapshot() []*client {
	r.hub.mu.Lock()
	defer r.hub.mu.Unlock()
	cs := make([]*client, 0, len(r.clients))
	for _, c := range r.clients {
		cs = append(cs, c)
	}
	return cs
}

// broadcastRoster sends everyone the current roster.
func (r *room) broadcastRoster() {
	cs := r.snapshot()
	peers := make([]msg.Peer, 0, len(cs))
	for _, c := range cs {
		c.mu.Lock()
		pid := ""
		if c.id.role == msg.RoleCustomer {
			pid = c.id.authorID
		}
		peers = append(peers, msg.Peer{PeerID: c.peerID, ParticipantID: pid, Name: c.id.name, Role: c.id.role,
			Audio: c.media.Audio, Video: c.media.Video, Screen: c.media.ScreenStream != ""})
		c.mu.Unlock()
	}
	sort.Slice(peers, func(i, j int) bool {
		if peers[i].Role != peers[j].Role {
			return peers[i].Role == msg.RoleAdvisor
		}
		return peers[i].PeerID < peers[j].PeerID
	})
	for _, c := range cs {
		c.send(msg.Message{Type: msg.TypeRoster, Peers: peers})
	}
}

// broadcastEntry sends a timeline entry to everyone.
func (r *room) broadcastEntry(typ string, e msg.Entry) {
	for _, c := range r.snapshot() {
		c.deliver(typ, e)
	}
}

// watch follows the meeting's events until the subscription ends.
func (r *room) watch(events <-chan meeting.Event) {
	for ev := range events {
		switch ev.Kind {
		case meeting.EventEnded:
			r.hub.mu.Lock()
			r.ended = true
			r.hub.mu.Unlock()
			for _, c := range r.snapshot() {
				c.end(msg.EndedMeeting)
			}
			continue
		case meeting.EventRemoved, meeting.EventRejected:
			for _, c := range r.snapshot() {
				if c.id.role == msg.RoleCustomer && c.id.authorID == ev.ParticipantID {
					c.end(msg.EndedRemoved)
				}
			}
		case meeting.EventLeft:
			for _, c := range r.snapshot() {
				if c.id.role == msg.RoleCustomer && c.id.authorID == ev.ParticipantID {
					c.end(msg.EndedLeft)
				}
			}
		}
		for _, c := range r.snapshot() {
			if c.id.role == msg.RoleAdvisor {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				r.refreshWaiting(ctx, c)
				cancel()
			}
		}
	}
}

// refreshWaiting sends an advisor the waiting room.
func (r *room) refreshWaiting(ctx context.Context, c *client) {
	ps, err := r.hub.opts.Meetings.Waiting(ctx, c.id.actor, r.id)
	if err != nil {
		c.log.Debug("listing waiting room", "err", err)
		return
	}
	w := make([]msg.Waiting, 0, len(ps))
	for _, p := range ps {
		w = append(w, msg.Waiting{ID: p.ID, Name: p.Name, Joined: p.Joined})
	}
	// An empty list is sent as an empty array so the client can clear it.
	c.send(msg.Message{Type: msg.TypeWaiting, Waiting: w})
}
