package sfu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// ErrPeerExists is returned by Room.Join when the peer id is already in the
// room.
var ErrPeerExists = errors.New("sfu: peer already in room")

// ErrRoomClosed is returned by Room.Join after Room.Close.
var ErrRoomClosed = errors.New("sfu: room closed")

// Room is a set of peers that receive each other's tracks.
type Room struct {
	sfu *SFU
	id  string
	log *slog.Logger

	mu         sync.Mutex
	closed     bool
	peers      map[string]*Peer
	forwarders []*forwarder
	sinks      SinkFunc
}

// Join adds a peer to the room. The SFU sends its descriptions and
// candidates through sig; the client is expected to make the first offer,
// passed in with Peer.HandleDescription. The peer leaves the room when ctx
// is cancelled, when Close or Room.Leave is called, or when its connection
// fails.
func (r *Room) Join(ctx context.Context, peerID string, sig Signaller) (*Peer, error) {
	pc, bwe, err := r.sfu.newPeerConnection()
	if err != nil {
		return nil, fmt.Errorf("sfu: new peer connection for %s: %w", peerID, err)
	}
	p := newPeer(r, peerID, pc, sig, bwe)

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		p.Close() // ends its goroutines; it is in no room
		return nil, ErrRoomClosed
	}
	if _, ok := r.peers[peerID]; ok {
		r.mu.Unlock()
		p.Close()
		return nil, fmt.Errorf("%w: %s", ErrPeerExists, peerID)
	}
	r.peers[peerID] = p
	for _, f := range r.forwarders {
		p.subscribe(f)
	}
	r.mu.Unlock()

	go func() {
		select {
		case <-ctx.Done():
			p.Close()
		case <-p.done:
		}
	}()
	p.log.Debug("joined")
	return p, nil
}

// Leave closes the peer with the given id, if it is in the room; its tracks
// are removed from the other peers.
func (r *Room) Leave(peerID string) {
	r.mu.Lock()
	p := r.peers[peerID]
	r.mu.Unlock()
	if p != nil {
		p.Close()
	}
}

// Close ends the room: every peer is closed, and SFU.Room returns a new
// room for the same id afterwards.
func (r *Room) Close() {
	r.mu.Lock()
	r.closed = true
	peers := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	r.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
	r.sfu.mu.Lock()
	if r.sfu.rooms[r.id] == r {
		delete(r.sfu.rooms, r.id)
	}
	r.sfu.mu.Unlock()
}

// ID is the room's id.
func (r *Room) ID() string { return r.id }

// Peers returns the ids of the peers in the room.
func (r *Room) Peers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.peers))
	for id := range r.peers {
		ids = append(ids, id)
	}
	return ids
}

// addForwarder makes f's track available to every other peer of the room.
func (r *Room) addForwarder(f *forwarder) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers[f.pub.id] != f.pub {
		return false
	}
	r.forwarders = append(r.forwarders, f)
	for _, q := range r.peers {
		if q != f.pub {
			q.subscribe(f)
		}
	}
	return true
}

// removeForwarder withdraws f's track from every peer.
func (r *Room) removeForwarder(f *forwarder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeForwarderLocked(f)
}

func (r *Room) removeForwarderLocked(f *forwarder) {
	for i, g := range r.forwarders {
		if g == f {
			r.forwarders = append(r.forwarders[:i], r.forwarders[i+1:]...)
			break
		}
	}
	for _, q := range r.peers {
		q.unsubscribe(f)
	}
}

// remove takes p out of the room: its published tracks are withdrawn from
// the others and its subscriptions end.
func (r *Room) remove(p *Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers[p.id] == p {
		delete(r.peers, p.id)
	}
	for _, f := range append([]*forwarder(nil), r.forwarders...) {
		if f.pub == p {
			r.removeForwarderLocked(f)
		} else {
			p.unsubscribe(f)
		}
	}
}
