// Package assets holds the files Parley ships inside its binaries: the
// customer-facing web pages served by the relay, and the app icon. It must
// not import Fyne: the relay embeds it too.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed web
var web embed.FS

// Web returns the customer web pages (index.html, static/...), rooted at the
// web folder.
func Web() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded folder is fixed at build time
	}
	return sub
}

// IconSVG is the app icon as SVG, the source of icon.png.
//
//go:embed icon.svg
var IconSVG []byte

// Icon is the app icon (512×512 PNG), also named in FyneApp.toml.
//
//go:embed icon.png
var Icon []byte
