// Command firstframe measures the desktop app's start: from exec to the
// first screenshot of the X screen that shows the drawn sign-in window
// (named Parley). The app runs in local mode under a private Xvfb, so the
// figure includes starting the in-process relay. The first run starts on
// an empty data folder (first start: key, certificate, store, admin); the
// others reuse it (warm start). Run: go run ./tests/bench/firstframe [-n 7]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"time"

	"parley/tests/internal/desktop"
	"parley/tests/internal/stats"
	"parley/tests/internal/xvfb"
)

func main() {
	n := flag.Int("n", 7, "warm starts to measure")
	flag.Parse()
	dir, err := os.MkdirTemp("", "firstframe")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, err := desktop.Build(dir)
	if err != nil {
		log.Fatal(err)
	}
	x, err := xvfb.Start(1280, 800)
	if err != nil {
		log.Fatal(err)
	}
	defer x.Close()

	first, err := measure(bin, x, dir)
	if err != nil {
		log.Fatal(err)
	}
	var warm []time.Duration
	for i := 0; i < *n; i++ {
		d, err := measure(bin, x, dir)
		if err != nil {
			log.Fatal(err)
		}
		warm = append(warm, d)
	}
	fmt.Printf("firstframe %s: first start (empty data folder) %v\n", time.Now().UTC().Format(time.DateOnly), first.Round(time.Millisecond))
	fmt.Printf("firstframe warm starts: %s\n", stats.Summarise(warm))
}

// measure launches the app once and returns the time until its window is
// drawn, polling the screen every 10 ms.
func measure(bin string, x *xvfb.Server, dir string) (time.Duration, error) {
	start := time.Now()
	a, err := desktop.Launch(bin, x.Display, dir)
	if err != nil {
		return 0, err
	}
	defer func() {
		a.Stop()
		// Wait until the screen is empty again before the next run.
		for i := 0; i < 300; i++ {
			img, err := x.Screenshot()
			if err == nil && !xvfb.Measure(img).Drawn() {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	for time.Since(start) < 60*time.Second {
		names, _ := x.WindowNames()
		if slices.Contains(names, "Parley") {
			img, err := x.Screenshot()
			if err != nil {
				return 0, err
			}
			if xvfb.Measure(img).Drawn() {
				return time.Since(start), nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("no drawn window within 60 s")
}
