package bridge

import (
	"fmt"
	"io"
	"log"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// The bridge's log is read in a terminal, and much of what it says comes
// from requests anyone can send (any web page can fetch a URL of the
// bridge, token or not). So no line can forge another line or move the
// terminal's cursor — every control character is escaped —, no line is
// longer than maxLogLine, and no page can flood it: each kind of line is
// written at most logBurst times at once and then once a second, the lines
// left out counted in a summary ("… 28,114 more refused: --max-pending-calls").
const (
	maxLogField = 200     // bytes of one piece of untrusted text in a line
	maxLogLine  = 1 << 10 // bytes of one line
	logBurst    = 5       // lines of one kind written at once
	logEvery    = time.Second
	maxLogKinds = 256 // kinds tracked; lines of any further kind share one
	otherKinds  = "lines of other kinds"
)

// bridgeLog is the bridge's log: lines are sanitized and rate-limited by
// kind. Printf's kind is its format: a constant, so the kinds are few.
type bridgeLog struct {
	out *log.Logger

	mu    sync.Mutex
	kinds map[string]*logKind
}

// logKind is one kind's token bucket and the lines it left out.
type logKind struct {
	label  string
	tokens float64
	at     time.Time // when tokens was brought up to date
	more   int       // lines left out since the last one written
	since  time.Time // when the first of them was left out
	timer  *time.Timer
}

func newBridgeLog(w io.Writer) *bridgeLog {
	return &bridgeLog{out: log.New(w, "sockstep: ", log.LstdFlags), kinds: make(map[string]*logKind)}
}

// Printf writes a line of the kind named by its format.
func (l *bridgeLog) Printf(format string, args ...any) {
	l.Kindf(`like "`+format+`"`, format, args...)
}

// Print writes a line of the kind named by its text.
func (l *bridgeLog) Print(args ...any) {
	s := fmt.Sprint(args...)
	l.Kindf(`like "`+cut(s, 64)+`"`, "%s", s)
}

// Kindf writes a line of kind, unless that kind has used its lines; the
// summary that counts the lines left out names kind ("refused: --max-sockets").
// Each string or error argument is cut to maxLogLine/2 bytes; untrusted
// text should be passed through untrusted, which cuts it shorter.
func (l *bridgeLog) Kindf(kind, format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = cut(v, maxLogLine/2)
		case error:
			args[i] = cut(v.Error(), maxLogLine/2)
		}
	}
	now := time.Now()
	l.mu.Lock()
	k := l.kind(kind, now)
	if k.tokens < 1 {
		if k.more == 0 {
			k.since = now
		}
		k.more++
		if k.timer == nil {
			k.timer = time.AfterFunc(time.Duration((1-k.tokens)*float64(logEvery)), func() { l.summarize(kind) })
		}
		l.mu.Unlock()
		return
	}
	k.tokens--
	summary := l.takeSummary(k, now)
	l.mu.Unlock()
	if summary != "" {
		l.write(summary)
	}
	l.write(fmt.Sprintf(format, args...))
}

// kind finds or makes kind's bucket, brought up to now. l.mu is held.
func (l *bridgeLog) kind(kind string, now time.Time) *logKind {
	k := l.kinds[kind]
	if k == nil {
		if len(l.kinds) >= maxLogKinds && kind != otherKinds {
			return l.kind(otherKinds, now)
		}
		k = &logKind{label: kind, tokens: logBurst, at: now}
		l.kinds[kind] = k
	}
	k.tokens = min(logBurst, k.tokens+now.Sub(k.at).Seconds()/logEvery.Seconds())
	k.at = now
	return k
}

// takeSummary returns the line that counts k's lines left out, if any.
// l.mu is held.
func (l *bridgeLog) takeSummary(k *logKind, now time.Time) string {
	if k.more == 0 {
		return ""
	}
	s := fmt.Sprintf("… %s more %s in %s", thousands(k.more), k.label, now.Sub(k.since).Round(100*time.Millisecond))
	k.more = 0
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
	return s
}

// summarize writes the summary of kind's lines left out, once its bucket
// holds a line again.
func (l *bridgeLog) summarize(kind string) {
	now := time.Now()
	l.mu.Lock()
	k := l.kinds[kind]
	if k == nil {
		k = l.kinds[otherKinds]
	}
	if k == nil || k.more == 0 {
		l.mu.Unlock()
		return
	}
	k.timer = nil
	k = l.kind(k.label, now)
	if k.tokens < 1 {
		k.timer = time.AfterFunc(time.Duration((1-k.tokens)*float64(logEvery)), func() { l.summarize(kind) })
		l.mu.Unlock()
		return
	}
	k.tokens--
	summary := l.takeSummary(k, now)
	l.mu.Unlock()
	l.write(summary)
}

// write writes one line, escaped and cut.
func (l *bridgeLog) write(line string) {
	l.out.Print(cut(escapeControls(line), maxLogLine))
}

// std is a *log.Logger for the http.Server's own errors: one kind, written
// through l.
func (l *bridgeLog) std(kind string) *log.Logger {
	return log.New(logWriter{l, kind}, "", 0)
}

type logWriter struct {
	l    *bridgeLog
	kind string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Kindf(w.kind, "%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// untrusted is text from a request as a log line shows it: as it is when
// it is short and plain (a path like /ws), else Go-quoted, ASCII only, and
// cut to maxLogField bytes, so it can neither hide in the line nor end it.
func untrusted(s string) string {
	plain := len(s) <= maxLogField && s != ""
	for i := 0; plain && i < len(s); i++ {
		c := s[i]
		plain = c > ' ' && c < 0x7f && c != '"' && c != '\\'
	}
	if plain {
		return s
	}
	return quoted(s)
}

// quoted is s Go-quoted in ASCII, cut to maxLogField bytes (a mark after
// the quotes says it was cut): text from a request, in a refusal's reason.
func quoted(s string) string {
	if len(s) > maxLogField {
		return strconv.QuoteToASCII(s[:maxLogField]) + "…"
	}
	return strconv.QuoteToASCII(s)
}

// cut shortens s to at most n bytes and a mark, on a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// escapeControls writes every control character of s (C0, DEL, C1, the
// bidirectional overrides) and every byte that is not UTF-8 as a Go
// escape: a line of the log stays one line, and a terminal shows it
// without obeying it.
func escapeControls(s string) string {
	clean := true
	for _, r := range s {
		if isControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case isControl(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func isControl(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}

// thousands writes n with commas: 28,114.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
