package messaging

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"parley/relay/clock"
	"parley/relay/store"
)

const (
	crashEnv     = "PARLEY_MESSAGING_CRASH_DIR"
	crashConvs   = 8
	crashSenders = 64
	crashAcks    = 3000
)

// crashService opens the badger store in dir and a Service over it whose
// sealer has the same per-customer keys in every process.
func crashService(t testing.TB, dir string) (*Service, *store.Badger) {
	key := sha256.Sum256([]byte("crash test store key"))
	db, err := store.Open(store.BadgerOptions{Dir: dir, Key: key[:]})
	if err != nil {
		t.Fatal(err)
	}
	sealer := &fakeSealer{keys: map[string][]byte{}}
	for i := range crashConvs {
		k := sha256.Sum256([]byte(crashCustomer(i)))
		sealer.keys[crashCustomer(i)] = k[:]
	}
	svc, err := New(Options{Store: db, Clock: clock.Real{}, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	return svc, db
}

func crashCustomer(i int) string { return fmt.Sprintf("%032x", i+1) }
func crashAdvisor(i int) Actor {
	return Actor{TenantID: tenantA, UserID: "adv" + strconv.Itoa(i%4), Role: RoleAdvisor}
}

// TestKillNineMidBatch runs a child process in which 64 senders send
// into 8 conversations through group commit on the encrypted badger
// store, each printing the messages it got acknowledged; the child is
// killed with SIGKILL while batches are being committed. After a restart
// every acknowledged message is there with its sequence number and text,
// every conversation's sequence runs 1, 2, 3, … without gaps, no client
// id is stored twice, and a retry of an acknowledged send returns the
// stored message.
func TestKillNineMidBatch(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineMidBatch$", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		conv string
		seq  uint64
		id   string
	}
	acked := map[string]ack{} // client id → what the child was told
	sc := bufio.NewScanner(out)
	for len(acked) < crashAcks && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 || f[0] != "ack" {
			continue
		}
		seq, _ := strconv.ParseUint(f[3], 10, 64)
		acked[f[1]] = ack{conv: f[2], seq: seq, id: f[4]}
	}
	_ = cmd.Process.Kill() // SIGKILL, with 64 senders mid-batch
	_ = cmd.Wait()
	if len(acked) < crashAcks {
		t.Fatalf("child acknowledged only %d sends", len(acked))
	}

	svc, db := crashService(t, dir)
	defer db.Close()
	stored := map[string]Message{} // client id (the text) → message
	for i := range crashConvs {
		a := crashAdvisor(i)
		cs, err := svc.List(ctx, a, ListFilter{AdvisorID: a.UserID})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.CustomerID != crashCustomer(i) {
				continue
			}
			var after uint64
			for {
				ms, err := svc.Messages(ctx, a, c.ID, after, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) == 0 {
					break
				}
				for _, m := range ms {
					if m.Seq != after+1 {
						t.Fatalf("conversation %d: seq %d after %d (gap)", i, m.Seq, after)
					}
					after = m.Seq
					if m.Unreadable {
						t.Fatalf("message %s unreadable", m.ID)
					}
					if _, dup := stored[m.Text]; dup {
						t.Fatalf("client id %s stored twice", m.Text)
					}
					stored[m.Text] = m
				}
			}
			if after != c.LastSeq {
				t.Fatalf("conversation %d: last seq %d, messages up to %d", i, c.LastSeq, after)
			}
		}
	}
	for cid, a := range acked {
		m, ok := stored[cid]
		if !ok {
			t.Fatalf("acknowledged message %s lost", cid)
		}
		if m.ConversationID != a.conv || m.Seq != a.seq || m.ID != a.id {
			t.Fatalf("acknowledged message %s: stored as %s/%d/%s, acknowledged as %s/%d/%s", cid, m.ConversationID, m.Seq, m.ID, a.conv, a.seq, a.id)
		}
	}
	t.Logf("%d acknowledged, %d stored (the rest committed but not yet acknowledged at the kill)", len(acked), len(stored))
	// Retries of acknowledged sends return the stored message.
	n := 0
	for cid, a := range acked {
		i := 0
		fmt.Sscanf(cid, "c%d-", &i)
		m, err := svc.Send(ctx, crashAdvisor(i), a.conv, Draft{ClientID: cid, Text: cid})
		if err != nil || m.ID != a.id || m.Seq != a.seq {
			t.Fatalf("retry of %s: %+v %v", cid, m, err)
		}
		if n++; n == 50 {
			break
		}
	}
}

// crashChild sends until it is killed, printing "ack <client id> <conv>
// <seq> <message id>" for every acknowledged send.
func crashChild(t *testing.T, dir string) {
	svc, _ := crashService(t, dir)
	convs := make([]string, crashConvs)
	for i := range convs {
		c, _, err := svc.Open(ctx, crashAdvisor(i), OpenRequest{Channel: ChannelChat, CustomerID: crashCustomer(i)})
		if err != nil {
			t.Fatal(err)
		}
		convs[i] = c.ID
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range crashSenders {
		wg.Go(func() {
			i := g % crashConvs
			for n := 0; ; n++ {
				cid := fmt.Sprintf("c%d-s%d-%d", i, g, n)
				m, err := svc.Send(ctx, crashAdvisor(i), convs[i], Draft{ClientID: cid, Text: cid})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %s %s %d %s\n", cid, m.ConversationID, m.Seq, m.ID)
				w.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
