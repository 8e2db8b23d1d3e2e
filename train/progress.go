package train

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal:
//
//	1234/5000 [=======>            ] 24.7%  3512 samples/s  left 1m12s  loss 0.1234  test 97.12%
//
// It redraws at most every 200 ms. On anything but a terminal it is silent.
type progress struct {
	w          io.Writer
	total      int
	first      int
	batch      int
	start      time.Time
	last       time.Time
	lastLoss   float64
	evalText   string
	drawn      bool
	isTerminal bool
}

// isTerminal reports whether w is a character device (a terminal), checked
// with os.File.Stat, which needs no extra module.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, first, total, batch int) *progress {
	p := &progress{w: w, first: first, total: total, batch: batch, start: time.Now()}
	p.isTerminal = w != nil && isTerminal(w)
	return p
}

func (p *progress) step(step int, loss float64) {
	if !p.isTerminal {
		return
	}
	p.lastLoss = loss
	now := time.Now()
	if step < p.total && now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	p.draw(step, now)
}

func (p *progress) eval(e Eval) {
	if !p.isTerminal {
		return
	}
	p.evalText = fmt.Sprintf("  test %.2f%%", 100*e.TestAccuracy)
}

func (p *progress) draw(step int, now time.Time) {
	const width = 24
	frac := 1.0
	if p.total > 0 {
		frac = float64(step) / float64(p.total)
	}
	filled := int(frac * width)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	el := now.Sub(p.start).Seconds()
	done := step - p.first
	rate, left := 0.0, "?"
	if el > 0 && done > 0 {
		rate = float64(done*p.batch) / el
		stepsPerSec := float64(done) / el
		left = time.Duration(float64(p.total-step) / stepsPerSec * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%*d/%d [%s] %5.1f%%  %.0f samples/s  left %s  loss %.4f%s\x1b[K",
		len(fmt.Sprint(p.total)), step, p.total, bar, 100*frac, rate, left, p.lastLoss, p.evalText)
	p.drawn = true
}

func (p *progress) finish() {
	if p.isTerminal && p.drawn {
		fmt.Fprintln(p.w)
	}
}
