// Command parley is the advisor's desktop app (and, with --kiosk, the
// branch kiosk). `go run .` starts it; with no relay configured it starts a
// relay on this computer (local mode). The UI lives in app/, the relay
// connection in sync/link; this file only wires them together.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"parley/app"
	"parley/assets"
)

func main() {
	kiosk := flag.Bool("kiosk", false, "run full-screen as a branch kiosk (also when an admin chose it under Settings)")
	relay := flag.String("relay", os.Getenv("PARLEY_RELAY"), "relay URL, e.g. https://relay.example:8443 (empty: remembered one, else local mode)")
	flag.Parse()

	if runtime.GOOS == "linux" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		fmt.Fprintln(os.Stderr, "parley: no graphical display (neither DISPLAY nor WAYLAND_DISPLAY is set); on a headless server run the relay instead: go run ./relay")
		os.Exit(1)
	}
	a := fyneapp.NewWithID(appID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	// Kiosk mode: the flag, or the setting an admin turned on under Settings.
	if *kiosk || app.StartAsKiosk(a.Preferences()) {
		if err := runKiosk(a, *relay); err != nil {
			fmt.Fprintln(os.Stderr, "parley:", err)
			os.Exit(1)
		}
		return
	}
	w, err := wire(a, *relay, *kiosk)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(1)
	}
	defer w.close()
	// Ctrl-C or SIGTERM closes the app like its window would, so the local
	// relay's store is closed cleanly.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fyne.Do(a.Quit)
	}()
	app.New(a, w.opts).ShowAndRun()
}
