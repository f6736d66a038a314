package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressBar draws one line, redrawn in place, for long CLI work: a bar,
// the share done, the count and a detail such as a rate. It draws only on
// a terminal: piped into a file or a script, a carriage-return animation is
// noise, so there it draws nothing and the command's other output stands
// alone.
type progressBar struct {
	w       io.Writer
	enabled bool
	label   string
	total   int64

	mu    sync.Mutex
	last  time.Time // of the last draw, to draw at most every redrawEvery
	drawn bool
}

const (
	barWidth    = 30
	redrawEvery = 100 * time.Millisecond
)

// newProgressBar returns a bar for total units of work drawn on w, which
// draws only when tty (the writer under w is a terminal: isTerminal).
func newProgressBar(w io.Writer, tty bool, label string, total int64) *progressBar {
	return &progressBar{w: w, enabled: tty, label: label, total: total}
}

// barRedraw is how often a reporter redraws a bar.
const barRedraw = 200 * time.Millisecond

// Set shows done units and a detail. Calls closer together than
// redrawEvery are skipped, except the one that completes the work.
func (p *progressBar) Set(done int64, detail string) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if done < p.total && now.Sub(p.last) < redrawEvery {
		return
	}
	p.last = now
	p.drawn = true
	// Carriage return, the line, then erase what a longer line before
	// left to its right.
	fmt.Fprintf(p.w, "\r%s\x1b[K", renderBar(p.label, done, p.total, detail))
}

// Done ends the bar's line, so that what follows starts on its own.
func (p *progressBar) Done() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// renderBar is one frame of the bar:
//
//	produce [===========>                  ]  38%  380/1000  1234.5 records/s
func renderBar(label string, done, total int64, detail string) string {
	frac := 0.0
	if total > 0 {
		frac = min(max(float64(done)/float64(total), 0), 1)
	}
	filled := int(frac * barWidth)
	bar := strings.Repeat("=", filled)
	if filled < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-filled-1)
	}
	s := fmt.Sprintf("%s [%s] %3d%%  %d/%d", label, bar, int(frac*100), done, total)
	if detail != "" {
		s += "  " + detail
	}
	return s
}
