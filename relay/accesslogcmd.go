package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"parley/relay/accesslog"
	"parley/relay/store"
)

// accessLog prints the access log of one day (or lists the days) as JSON
// lines; it reads the sealed day files, so it works while the relay runs.
func accessLog(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("relay access-log", flag.ContinueOnError)
	data := fs.String("data", envOr("PARLEY_DATA", "parley-data"), "the relay's data folder")
	day := fs.String("day", "", "the UTC day to print (YYYY-MM-DD); empty lists the days kept")
	ip := fs.String("ip", "", "print only the requests of this address")
	keyFile := fs.String("key-file", "", "the store key file (default: DATA/"+store.KeyFileName+", or "+store.KeyEnv+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := filepath.Join(*data, accesslog.DirName)
	if *day == "" {
		days, err := accesslog.Days(dir)
		if err != nil {
			return fmt.Errorf("access-log: %w", err)
		}
		if len(days) == 0 {
			fmt.Fprintln(out, "no access log kept in", dir)
		}
		for _, d := range days {
			fmt.Fprintln(out, d)
		}
		return nil
	}
	kf := *keyFile
	if kf == "" {
		kf = filepath.Join(*data, store.KeyFileName)
	}
	key, _, err := storeKey(kf)
	if err != nil {
		return fmt.Errorf("access-log: %w", err)
	}
	es, err := accesslog.Read(dir, *day, key)
	if err != nil && !errors.Is(err, accesslog.ErrDamaged) {
		return fmt.Errorf("access-log: %w", err)
	}
	enc := json.NewEncoder(out)
	for _, e := range es {
		if *ip != "" && !strings.EqualFold(e.IP, *ip) {
			continue
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return err
}
