// Command loginrtt measures sign-in and authenticated request round trips
// from the desktop app's link client to an in-process relay on loopback,
// over QUIC (HTTP/3) and over TCP (HTTP/2), interleaved so both see the
// same machine load. Run: go run ./tests/bench/loginrtt [-n 200]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"time"

	"parley/relay/server"
	"parley/sync/link"
	"parley/tests/internal/stats"
)

func main() {
	n := flag.Int("n", 200, "sign-ins per transport")
	flag.Parse()
	dir, err := os.MkdirTemp("", "loginrtt")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	const pw = "Leuchtturm-Hafen-2026"
	// Production password hashing cost (argon2id defaults).
	s, err := server.Start(context.Background(), server.Options{DataDir: dir, Listen: "127.0.0.1:0", TenantSlug: "bench", AdminPassword: pw})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	clients := map[link.Transport]*link.Client{}
	for _, noQUIC := range []bool{false, true} {
		c := link.New(link.Options{DisableQUIC: noQUIC})
		defer c.Close()
		if err := c.Trust(s.URL(), s.Fingerprint()); err != nil {
			log.Fatal(err)
		}
		tr, err := c.Connect(context.Background(), s.URL())
		if err != nil {
			log.Fatal(err)
		}
		clients[tr] = c
	}
	order := []link.Transport{link.TransportQUIC, link.TransportTCP}
	login := map[link.Transport][]time.Duration{}
	me := map[link.Transport][]time.Duration{}
	ctx := context.Background()
	for i := 0; i < *n; i++ {
		for j := range order {
			tr := order[(i+j)%2] // alternate which transport goes first
			c := clients[tr]
			t0 := time.Now()
			if _, err := c.Login(ctx, "bench", "admin", pw); err != nil {
				log.Fatalf("%s login: %v", tr, err)
			}
			login[tr] = append(login[tr], time.Since(t0))
			for k := 0; k < 5; k++ {
				t0 = time.Now()
				if _, err := c.Me(ctx); err != nil {
					log.Fatalf("%s me: %v", tr, err)
				}
				me[tr] = append(me[tr], time.Since(t0))
			}
			if err := c.Logout(ctx); err != nil {
				log.Fatalf("%s logout: %v", tr, err)
			}
		}
	}
	fmt.Printf("loginrtt %s, GOMAXPROCS=%d, %d sign-ins per transport, interleaved\n", time.Now().UTC().Format(time.DateOnly), runtime.GOMAXPROCS(0), *n)
	for _, tr := range order {
		fmt.Printf("%-4s login (argon2id default cost): %s\n", tr, stats.Summarise(login[tr]))
		fmt.Printf("%-4s GET /api/v1/me:                %s\n", tr, stats.Summarise(me[tr]))
	}
	lq, lt := stats.Summarise(login[link.TransportQUIC]).Median, stats.Summarise(login[link.TransportTCP]).Median
	mq, mt := stats.Summarise(me[link.TransportQUIC]).Median, stats.Summarise(me[link.TransportTCP]).Median
	fmt.Printf("ratio quic/tcp median: login %.2f, me %.2f\n", float64(lq)/float64(lt), float64(mq)/float64(mt))
}
