package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"parley/relay/audit"
	"parley/relay/booking"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/meeting"
	"parley/relay/outbox"
	"parley/relay/retention"
	"parley/relay/signal/msg"
	"parley/relay/store"
)

// The kill -9 test of a sweep: a child process sweeps a store on disk and
// kills itself with SIGKILL right after its k-th committed transaction,
// for every k; the parent then starts over on the same files (a restart),
// sweeps to the end and checks that everything due is gone without
// orphans, and that nothing that was not due was touched.

// killKV passes everything to the store and kills the process after the
// n-th committed Update.
type killKV struct {
	store.KV
	n, commits int
}

func (k *killKV) Update(ctx context.Context, fn func(store.Txn) error) error {
	err := k.KV.Update(ctx, fn)
	if err == nil {
		k.commits++
		if k.commits == k.n {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	return err
}

// killWorld is the relay's services over one store, with a fixed clock.
type killWorld struct {
	meetings  *meeting.Service
	chat      *chat.Service
	customers *customer.Service
	booking   *booking.Service
	sw        *sweeper
}

var killT0 = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC) // a Monday

func newKillWorld(t *testing.T, kv store.KV, clk clock.Clock) *killWorld {
	t.Helper()
	ctx := context.Background()
	w := &killWorld{}
	al, err := audit.New(ctx, audit.Options{Store: kv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := retention.New(retention.Options{Store: kv, Audit: al, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if w.meetings, err = meeting.New(meeting.Options{Store: kv, Clock: clk}); err != nil {
		t.Fatal(err)
	}
	if w.chat, err = chat.New(chat.Options{Store: kv, Clock: clk}); err != nil {
		t.Fatal(err)
	}
	if w.customers, err = customer.New(customer.Options{Store: kv, Clock: clk}); err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.New(outbox.Options{Store: kv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if w.booking, err = booking.New(booking.Options{Store: kv, Clock: clk, Profiles: w.customers, Outbox: ob}); err != nil {
		t.Fatal(err)
	}
	w.sw = newSweeperFrom(sweeperDeps{clock: clk, meetings: w.meetings, chat: w.chat, retention: pol, booking: w.booking,
		customers: w.customers, audit: al, log: slog.New(slog.DiscardHandler)}, prometheus.NewRegistry())
	w.sw.interval.Store(int64(time.Hour))
	return w
}

// killSeed is what the parent seeded: due and not-due ids.
type killSeed struct {
	dueMeetings, liveMeetings []string
	dueFiles                  []string
	dueBookings, liveBookings []string
	dueCustomers, liveCusts   []string
}

func seedKillWorld(t *testing.T, kv store.KV) killSeed {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(killT0)
	w := newKillWorld(t, kv, clk)
	var s killSeed
	adv := booking.Actor{TenantID: "tenant-k", UserID: "advisor-k"}
	av := booking.Availability{TimeZone: "UTC"}
	for d := time.Monday; d <= time.Friday; d++ {
		av.Weekly = append(av.Weekly, booking.WeeklyRule{Weekday: d, Span: booking.Span{Start: "08:00", End: "18:00"}})
	}
	if err := w.booking.SetAvailability(ctx, adv, adv.UserID, av); err != nil {
		t.Fatal(err)
	}
	typ, err := w.booking.PutType(ctx, adv, adv.UserID, booking.AppointmentType{Name: "Beratung", Kind: booking.KindPhone, DurationMin: 30, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	page, err := w.booking.EnablePage(ctx, adv, adv.UserID)
	if err != nil {
		t.Fatal(err)
	}
	book := func(day int, i int) (string, string) {
		start := killT0.AddDate(0, 0, day).Add(time.Duration(i) * time.Hour)
		b, _, err := w.booking.Book(ctx, booking.Request{PageID: page.ID, TypeID: typ.ID, Start: start,
			Contact: customer.Contact{FirstName: "Kunde", LastName: fmt.Sprintf("Nr%d-%d", day, i), Email: fmt.Sprintf("k%d-%d@example.org", day, i), Mobile: "+491701234567"}})
		if err != nil {
			t.Fatalf("book: %v", err)
		}
		return b.ID, b.CustomerID
	}
	meet := func(files int) (string, []string) {
		m, _, err := w.meetings.CreateInstant(ctx, meeting.NewMeeting{TenantID: "tenant-k", AdvisorID: adv.UserID, AdvisorName: "Anna"})
		if err != nil {
			t.Fatal(err)
		}
		a := chat.Author{ID: "p1", Name: "Kunde", Role: msg.RoleCustomer}
		for i := range 5 {
			if _, _, err := w.chat.Post(ctx, m.ID, a, fmt.Sprintf("Nachricht %d", i), fmt.Sprintf("n%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		var fids []string
		for i := range files {
			body := "%PDF-1.4\n" + strings.Repeat(fmt.Sprintf("Seite %d ", i), 40000) + "\n%%EOF\n"
			e, err := w.chat.PutFile(ctx, m.ID, a, fmt.Sprintf("Unterlage-%d.pdf", i), strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			fids = append(fids, e.ID)
		}
		if err := w.meetings.End(ctx, meeting.Actor{TenantID: "tenant-k", UserID: adv.UserID}, m.ID); err != nil {
			t.Fatal(err)
		}
		return m.ID, fids
	}
	for i := range 3 {
		id, fids := meet(2)
		s.dueMeetings = append(s.dueMeetings, id)
		s.dueFiles = append(s.dueFiles, fids...)
		b, c := book(1, i)
		s.dueBookings, s.dueCustomers = append(s.dueBookings, b), append(s.dueCustomers, c)
	}
	// Almost a year later: a fresh meeting and a booking to come.
	clk.Set(killT0.AddDate(0, 0, 398))
	id, _ := meet(1)
	s.liveMeetings = append(s.liveMeetings, id)
	b, c := book(400, 2)
	s.liveBookings, s.liveCusts = append(s.liveBookings, b), append(s.liveCusts, c)
	return s
}

// killNow is the sweeps' time: every first-year item is due (content 7
// days, metadata 2 days, bookings 42 days, profiles 360 days), the late
// ones are not.
var killNow = killT0.AddDate(0, 0, 399)

func openKillStore(t *testing.T, dir string) *store.Badger {
	t.Helper()
	db, err := store.Open(store.BadgerOptions{Dir: filepath.Join(dir, "store"), Key: bytes.Repeat([]byte{3}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestSweepKillHelper(t *testing.T) {
	dir, at := os.Getenv("SWEEP_KILL_DIR"), os.Getenv("SWEEP_KILL_AT")
	if dir == "" {
		t.Skip("child process of TestKillDashNineAtEveryCommitOfASweep")
	}
	n, _ := strconv.Atoi(at)
	db := openKillStore(t, dir)
	w := newKillWorld(t, &killKV{KV: db, n: n}, clock.NewFake(killNow))
	_ = w.sw.sweep(context.Background())
	db.Close()
	fmt.Println("SWEEP-FINISHED")
}

func TestKillDashNineAtEveryCommitOfASweep(t *testing.T) {
	if os.Getenv("SWEEP_KILL_DIR") != "" {
		t.Skip("in the child")
	}
	template := t.TempDir()
	db := openKillStore(t, template)
	seed := seedKillWorld(t, db)
	db.Close()

	for k := 1; ; k++ {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(template)); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestSweepKillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SWEEP_KILL_DIR="+dir, "SWEEP_KILL_AT="+strconv.Itoa(k))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		finished := strings.Contains(string(out), "SWEEP-FINISHED")
		if !finished && (!errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL) {
			t.Fatalf("k=%d: child neither finished nor died by SIGKILL: %v\n%s", k, err, out)
		}
		checkAfterRestart(t, dir, seed, k)
		if finished {
			if k < 10 {
				t.Fatalf("the sweep finished after %d commits: the seed is too small to test anything", k-1)
			}
			t.Logf("a full sweep commits %d transactions; killed after each", k-1)
			return
		}
	}
}

// checkAfterRestart reopens dir, sweeps to the end and checks the result.
func checkAfterRestart(t *testing.T, dir string, s killSeed, k int) {
	t.Helper()
	ctx := context.Background()
	db := openKillStore(t, dir)
	defer db.Close()
	w := newKillWorld(t, db, clock.NewFake(killNow))
	if err := w.sw.sweep(ctx); err != nil {
		t.Fatalf("k=%d: sweep after restart: %v", k, err)
	}
	keys := map[string]bool{}
	if err := db.View(ctx, func(tx store.Txn) error {
		return tx.Scan(nil, func(key, _ []byte) error {
			keys[string(key)] = true
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	has := func(sub string) bool {
		for key := range keys {
			if strings.Contains(key, sub) {
				return true
			}
		}
		return false
	}
	for _, id := range s.dueMeetings {
		if has("chat/e/"+id) || has("chat/f/"+id) || has("chat/n/"+id) {
			t.Fatalf("k=%d: meeting %s kept content after the sweep", k, id)
		}
		md, err := w.meetings.MetadataOf(ctx, id)
		if err != nil || md.Anonymised.IsZero() {
			t.Fatalf("k=%d: meeting %s metadata not anonymised: %v", k, id, err)
		}
	}
	for _, fid := range s.dueFiles {
		if has("chat/c/"+fid) || has("chat/g/"+fid) {
			t.Fatalf("k=%d: orphan chunks of file %s", k, fid)
		}
	}
	for _, id := range s.dueBookings {
		if has(id) {
			t.Fatalf("k=%d: booking %s left keys behind", k, id)
		}
	}
	for _, id := range s.dueCustomers {
		if has("customer/profile/"+id) || has("customer/key/"+id) {
			t.Fatalf("k=%d: customer %s survived", k, id)
		}
	}
	// Never over-delete.
	for _, id := range s.liveMeetings {
		es, err := w.chat.Since(ctx, id, 0, 0)
		if err != nil || len(es) != 6 {
			t.Fatalf("k=%d: the live meeting has %d entries (%v), want 6", k, len(es), err)
		}
	}
	for _, id := range s.liveBookings {
		if _, _, err := w.booking.Get(ctx, booking.Actor{TenantID: "tenant-k", UserID: "advisor-k"}, id); err != nil {
			t.Fatalf("k=%d: the booking to come is gone: %v", k, err)
		}
	}
	for _, id := range s.liveCusts {
		if _, err := w.customers.Get(ctx, customer.Actor{TenantID: "tenant-k", UserID: "advisor-k"}, id); err != nil {
			t.Fatalf("k=%d: the live customer is gone: %v", k, err)
		}
	}
}
