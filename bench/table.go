package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// row is one figure: sockstep's with the host runner (the default: a runner
// process the bridge starts), with the in-page runner (the engine in the
// page's worker), native Go's where there is one, the host runner's ratio
// to native, and the target, which applies to the host runner.
// Figures that are not about a runner (sizes, the bridge's memory) go in
// host.
type row struct {
	name, host, page, native, ratio, target, note string
	met                                           bool
}

type table struct {
	header string
	rows   []row
}

func (t *table) add(r row) { t.rows = append(t.rows, r) }

// print writes the table as aligned plain text, fit for a terminal and for
// a README code block.
func (t *table) print(w io.Writer) {
	cols := [][]string{{"figure", "host runner", "in-page runner", "native (go build)", "host/native", "target", ""}}
	for _, r := range t.rows {
		verdict := ""
		if r.target != "" {
			verdict = "MISSED"
			if r.met {
				verdict = "met"
			}
		}
		cols = append(cols, []string{r.name, r.host, r.page, r.native, r.ratio, r.target, verdict})
	}
	width := make([]int, len(cols[0]))
	for _, c := range cols {
		for i, cell := range c {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	fmt.Fprintln(w, t.header)
	for n, c := range cols {
		var b strings.Builder
		for i, cell := range c {
			b.WriteString(cell)
			if i < len(c)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if n == 0 {
			fmt.Fprintln(w, strings.Repeat("-", utf8.RuneCountInString(strings.TrimRight(b.String(), " "))))
		}
	}
	notes := false
	for _, r := range t.rows {
		if r.note != "" {
			if !notes {
				fmt.Fprintln(w)
				notes = true
			}
			sep := ": "
			if strings.HasPrefix(r.note, "\n") { // a line per runner
				sep = ":"
			}
			fmt.Fprintf(w, "  %s%s%s\n", strings.TrimSpace(r.name), sep, r.note)
		}
	}
}
