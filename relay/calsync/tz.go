package calsync

import (
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the relay may run on a host without a zoneinfo database
)

// DefaultTimeZone is the zone of a Source that names none: floating local
// times and all-day dates of its feed are read in it.
const DefaultTimeZone = "Europe/Berlin"

// windowsZones maps the Windows time zone ids that Outlook and Exchange put
// in TZID parameters to IANA zones (after CLDR's windowsZones.xml, territory
// "001"). Keys are lower case.
var windowsZones = map[string]string{
	"utc":                             "UTC",
	"coordinated universal time":      "UTC",
	"gmt standard time":               "Europe/London",
	"greenwich standard time":         "Atlantic/Reykjavik",
	"w. europe standard time":         "Europe/Berlin",
	"central europe standard time":    "Europe/Budapest",
	"central european standard time":  "Europe/Warsaw",
	"romance standard time":           "Europe/Paris",
	"e. europe standard time":         "Europe/Chisinau",
	"fle standard time":               "Europe/Helsinki",
	"gtb standard time":               "Europe/Bucharest",
	"russian standard time":           "Europe/Moscow",
	"belarus standard time":           "Europe/Minsk",
	"turkey standard time":            "Europe/Istanbul",
	"israel standard time":            "Asia/Jerusalem",
	"egypt standard time":             "Africa/Cairo",
	"south africa standard time":      "Africa/Johannesburg",
	"w. central africa standard time": "Africa/Lagos",
	"morocco standard time":           "Africa/Casablanca",
	"arab standard time":              "Asia/Riyadh",
	"arabian standard time":           "Asia/Dubai",
	"iran standard time":              "Asia/Tehran",
	"pakistan standard time":          "Asia/Karachi",
	"india standard time":             "Asia/Kolkata",
	"se asia standard time":           "Asia/Bangkok",
	"china standard time":             "Asia/Shanghai",
	"singapore standard time":         "Asia/Singapore",
	"taipei standard time":            "Asia/Taipei",
	"tokyo standard time":             "Asia/Tokyo",
	"korea standard time":             "Asia/Seoul",
	"aus eastern standard time":       "Australia/Sydney",
	"e. australia standard time":      "Australia/Brisbane",
	"w. australia standard time":      "Australia/Perth",
	"new zealand standard time":       "Pacific/Auckland",
	"eastern standard time":           "America/New_York",
	"central standard time":           "America/Chicago",
	"mountain standard time":          "America/Denver",
	"us mountain standard time":       "America/Phoenix",
	"pacific standard time":           "America/Los_Angeles",
	"alaskan standard time":           "America/Anchorage",
	"hawaiian standard time":          "Pacific/Honolulu",
	"atlantic standard time":          "America/Halifax",
	"newfoundland standard time":      "America/St_Johns",
	"canada central standard time":    "America/Regina",
	"central standard time (mexico)":  "America/Mexico_City",
	"eastern standard time (mexico)":  "America/Cancun",
	"sa pacific standard time":        "America/Bogota",
	"e. south america standard time":  "America/Sao_Paulo",
	"argentina standard time":         "America/Argentina/Buenos_Aires",
}

// zoneCache holds zones loaded by IANA name. Only names that loaded are
// cached, so a hostile feed cannot grow it beyond the zone database.
var zoneCache sync.Map // string -> *time.Location

// loadZone returns the IANA zone name, or nil.
func loadZone(name string) *time.Location {
	if v, ok := zoneCache.Load(name); ok {
		return v.(*time.Location)
	}
	if name == "" || len(name) > 64 || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || loc == time.Local {
		return nil
	}
	zoneCache.Store(name, loc)
	return loc
}

// LookupZone maps a TZID parameter value to a zone: an IANA name
// ("Europe/Berlin"), a Windows name as Outlook writes it
// ("W. Europe Standard Time"), or a prefixed IANA name as some producers
// write it ("/mozilla.org/20050126_1/Europe/Berlin"). It returns nil for
// anything else (custom VTIMEZONE ids), which the parser reads in the
// source's zone.
func LookupZone(tzid string) *time.Location {
	s := strings.TrimSpace(strings.Trim(tzid, `"`))
	if s == "" || len(s) > 128 {
		return nil
	}
	if iana, ok := windowsZones[strings.ToLower(s)]; ok {
		return loadZone(iana)
	}
	switch strings.ToUpper(s) {
	case "UTC", "GMT", "Z", "ETC/UTC", "ETC/GMT":
		return time.UTC
	}
	if loc := loadZone(strings.TrimPrefix(s, "/")); loc != nil {
		return loc
	}
	// "/vendor/version/Area/City": try the last three, then two parts.
	parts := strings.Split(strings.Trim(s, "/"), "/")
	for n := 3; n >= 2; n-- {
		if len(parts) > n {
			if loc := loadZone(strings.Join(parts[len(parts)-n:], "/")); loc != nil {
				return loc
			}
		}
	}
	return nil
}

// ResolveLocal returns the instant at which the wall-clock time wall (its
// fields are read, its location ignored) happens in loc, following RFC 5545
// §3.3.5: a local time that falls in a gap (the hour skipped when clocks go
// forward) is read with the UTC offset in force before the gap, so
// 02:30 on the day Europe/Berlin moves to summer time is 01:30 UTC (03:30
// CEST); a local time that occurs twice (the hour repeated when clocks go
// back) is its first occurrence, so 02:30 on the day Europe/Berlin moves
// back is 00:30 UTC (02:30 CEST). The result is in UTC.
func ResolveLocal(wall time.Time, loc *time.Location) time.Time {
	y, mo, d := wall.Date()
	h, mi, s := wall.Clock()
	naive := time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	if loc == nil || loc == time.UTC {
		return naive
	}
	n := naive.Unix()
	offAt := func(u int64) int64 {
		_, off := time.Unix(u, 0).In(loc).Zone()
		return int64(off)
	}
	before, after := offAt(n-86400), offAt(n+86400)
	u1, u2 := n-before, n-after
	ok1, ok2 := offAt(u1) == before, offAt(u2) == after
	switch {
	case ok1 && ok2:
		return time.Unix(min(u1, u2), 0).UTC()
	case ok1:
		return time.Unix(u1, 0).UTC()
	case ok2:
		return time.Unix(u2, 0).UTC()
	case before != after:
		// In the gap: the offset before it.
		return time.Unix(u1, 0).UTC()
	default:
		// Two transitions within two days: let the library decide.
		return time.Date(y, mo, d, h, mi, s, 0, loc).UTC()
	}
}
