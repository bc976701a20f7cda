package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxFileNameBytes bounds a sanitised file name.
const MaxFileNameBytes = 200

// maxExtBytes bounds what counts as a file name's extension.
const maxExtBytes = 16

// SanitizeName turns a file name chosen by a client into one that is safe
// to store and to offer for download: the last path element only, without
// control and format characters (such as right-to-left overrides),
// characters Windows refuses replaced by "_", no leading or trailing dots
// and spaces, no Windows device names, and at most MaxFileNameBytes bytes
// with the extension kept. It fails with ErrInvalid when nothing usable
// remains.
func SanitizeName(name string) (string, error) {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError:
			// dropped
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.Trim(b.String(), " .")
	if name == "" {
		return "", invalid("file name")
	}
	base, _ := splitExt(name)
	if reservedDevice(base) {
		name = "_" + name
	}
	return truncateName(name), nil
}

// splitExt splits name into its base and its extension (with the dot); a
// name without a short extension has an empty one.
func splitExt(name string) (base, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || len(name)-i > maxExtBytes || i == len(name)-1 {
		return name, ""
	}
	return name[:i], name[i:]
}

// truncateName shortens name to MaxFileNameBytes, cutting the base at a
// character boundary and keeping the extension.
func truncateName(name string) string {
	if len(name) <= MaxFileNameBytes {
		return name
	}
	base, ext := splitExt(name)
	keep := MaxFileNameBytes - len(ext)
	for keep > 0 && !utf8.RuneStart(base[keep]) {
		keep--
	}
	base = strings.TrimRight(base[:keep], " .")
	if base == "" {
		base = "file"
	}
	return base + ext
}

// withExt makes sure name ends with one of exts, appending the first one
// when it does not, so that the name a download is saved under matches
// the content's type.
func withExt(name string, exts []string) string {
	_, ext := splitExt(name)
	for _, e := range exts {
		if strings.EqualFold(ext, e) {
			return name
		}
	}
	base := name
	if len(base)+len(exts[0]) > MaxFileNameBytes {
		keep := MaxFileNameBytes - len(exts[0])
		for keep > 0 && !utf8.RuneStart(base[keep]) {
			keep--
		}
		base = strings.TrimRight(base[:keep], " .")
		if base == "" {
			base = "file"
		}
	}
	return base + exts[0]
}

// reservedDevice reports whether base is a Windows device name, which
// Windows refuses as a file name whatever its extension.
func reservedDevice(base string) bool {
	switch strings.ToUpper(strings.TrimRight(base, " ")) {
	case "CON", "PRN", "AUX", "NUL",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return true
	}
	return false
}
