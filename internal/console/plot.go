package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// line is one line of a plot: a name for the legend, its colour and a
// value per sample time.
type line struct {
	Name   string
	Color  string
	Values []float64
}

// plot is a line plot over time: axes, labelled ticks, a legend.
type plot struct {
	Title  string
	Times  []time.Time
	Lines  []line
	Format func(float64) string // a y-axis value as text
	ID     string               // the svg element's id, for tests and scripts
}

const (
	plotW, plotH       = 720, 240
	padL, padR         = 78, 40
	padT, padB         = 28, 40
	innerW, innerH     = plotW - padL - padR, plotH - padT - padB
	plotYTicks         = 4
	plotXTicks         = 5
	plotEmptyMessage   = "no samples yet"
	plotSinglePointGap = 1.0 // seconds spread around a lone sample
)

// svg renders the plot as an inline SVG element: drawn here so the page
// needs no chart library and shows with JavaScript disabled.
func (p plot) svg() template.HTML {
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg class="plot" id="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		esc(p.ID), plotW, plotH, plotW, plotH, esc(p.Title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="plot-title">%s</text>`, padL, esc(p.Title))
	format := p.Format
	if format == nil {
		format = func(v float64) string { return fmt.Sprintf("%g", v) }
	}
	ymax := 0.0
	for _, l := range p.Lines {
		for _, v := range l.Values {
			if !math.IsNaN(v) && v > ymax {
				ymax = v
			}
		}
	}
	ymax = niceCeil(ymax)
	// The frame and the y grid, labelled.
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="plot-frame"/>`, padL, padT, innerW, innerH)
	for i := 0; i <= plotYTicks; i++ {
		v := ymax * float64(i) / plotYTicks
		y := float64(padT+innerH) - float64(innerH)*float64(i)/plotYTicks
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="plot-grid"/>`, padL, padL+innerW, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="plot-ylabel" text-anchor="end">%s</text>`, padL-6, y+4, esc(format(v)))
	}
	if len(p.Times) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="plot-empty" text-anchor="middle">%s</text></svg>`,
			padL+innerW/2, padT+innerH/2, plotEmptyMessage)
		return template.HTML(b.String())
	}
	t0, t1 := p.Times[0], p.Times[len(p.Times)-1]
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		t0 = t0.Add(-time.Duration(plotSinglePointGap * float64(time.Second)))
		span = 2 * plotSinglePointGap
	}
	x := func(t time.Time) float64 { return float64(padL) + float64(innerW)*t.Sub(t0).Seconds()/span }
	y := func(v float64) float64 {
		if ymax == 0 {
			return float64(padT + innerH)
		}
		return float64(padT+innerH) - float64(innerH)*v/ymax
	}
	// The x axis: times of day, with seconds when the span is short.
	layout := "15:04"
	if span < 10*60 {
		layout = "15:04:05"
	}
	for i := 0; i <= plotXTicks; i++ {
		t := t0.Add(time.Duration(float64(i) / plotXTicks * span * float64(time.Second)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="plot-xlabel" text-anchor="middle">%s</text>`, x(t), padT+innerH+16, t.Format(layout))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="plot-xlabel" text-anchor="middle">time (UTC%s)</text>`,
		padL+innerW/2, plotH-4, t1.Format("-07:00"))
	for li, l := range p.Lines {
		var pts strings.Builder
		for i, v := range l.Values {
			if i >= len(p.Times) || math.IsNaN(v) {
				continue
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(p.Times[i]), y(v))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2" class="plot-line" data-name="%s" data-last="%s"/>`,
			strings.TrimSpace(pts.String()), esc(l.Color), esc(l.Name), esc(lastValue(l.Values, format)))
		// The legend, top right, with the latest value.
		lx := padL + innerW - 130*(len(p.Lines)-li)
		fmt.Fprintf(&b, `<rect x="%d" y="8" width="12" height="12" fill="%s"/><text x="%d" y="18" class="plot-legend">%s: %s</text>`,
			lx, esc(l.Color), lx+16, esc(l.Name), esc(lastValue(l.Values, format)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func lastValue(vs []float64, format func(float64) string) string {
	if len(vs) == 0 {
		return "-"
	}
	return format(vs[len(vs)-1])
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so the y ticks
// fall on round numbers; 0 stays 0 (an empty plot gets a scale of 1).
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	exp := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*exp*(1+1e-9) {
			return m * exp
		}
	}
	return 10 * exp
}

// humanBytes formats a byte count (or rate) in binary units.
func humanBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// humanCount formats a count: 1234567 is 1.23M.
func humanCount(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
