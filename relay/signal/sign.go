package signal

import "parley/relay/signal/msg"

// SendToParticipant sends m to the connections of one customer of a
// meeting (by participant id) and to no one else. It returns how many
// connections it was queued for: 0 when the customer is not connected.
func (h *Hub) SendToParticipant(meetingID, participantID string, m msg.Message) int {
	h.mu.Lock()
	r := h.rooms[meetingID]
	h.mu.Unlock()
	if r == nil || participantID == "" {
		return 0
	}
	n := 0
	for _, c := range r.snapshot() {
		if c.id.role == msg.RoleCustomer && c.id.authorID == participantID {
			c.send(m)
			n++
		}
	}
	return n
}
