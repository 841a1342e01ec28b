// Package site embeds the built page (site/dist, made by `make build`) so the
// bridge is one self-contained binary. A clean checkout holds only
// placeholder.html, which tells the learner how to build the page.
package site

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist is the built page, rooted at dist/.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // cannot happen: "dist" is a valid, embedded path
	}
	return sub
}

// Built reports whether the page was built, not just the placeholder.
func Built() bool {
	_, err := fs.Stat(Dist(), "index.html")
	return err == nil
}
