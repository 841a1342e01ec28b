// Package telnet checks lesson 7: lines in pieces, a line and the start of
// the next in one read, several lines at once, and telnet's "\r\n",
// answered one line at a time. Its probes serve the later lessons of line
// servers too (8, 10, 11), as a grader runs the earlier stages again.
package telnet

import (
	"fmt"
	"strings"
	"time"

	"github.com/sockstep/sockstep/lessons/kit"
)

// pause lets each piece of a line arrive in a read of its own.
const pause = 150 * time.Millisecond

// Check is lesson 7's checker.
func Check(c *kit.C) {
	var k *kit.Conn
	c.Step("a client connects", c.NC(), func() error {
		var err error
		k, err = c.Client("the client")
		return err
	})
	defer k.Close()
	Split(c, k, c.Word(), c.Word(), Reverse)
	Pieces(c, k, c.Word(), Reverse)
	Together(c, k, c.Word(), c.Word(), Reverse)
}

// Split sends a whole line and the start of the next in one write, waits
// for the answer to the first, and only then sends the rest of the second:
// the server has read the start of a line whose end does not exist yet. It
// must answer the first line, keep the start of the second, and answer the
// second once it is complete — not the start on its own, nor only the end.
// answer is the protocol: the expected answer to a line. Lessons 7, 8, 10
// and 11 use it.
func Split(c *kit.C, k *kit.Conn, first, second string, answer func(string) string) {
	cut := 1 + c.Rand().IntN(len(second)-1)
	head, tail := second[:cut], second[cut:]
	c.Step(fmt.Sprintf("%q, then %q once the first line is answered, get one answer per line", first+"\n"+head, tail+"\r\n"),
		fmt.Sprintf("(printf '%s\\n%s'; sleep 1; printf '%s\\r\\n') | %s", first, head, tail, c.NCN()),
		func() error {
			if err := k.Send(first + "\n" + head); err != nil {
				return err
			}
			got, err := k.Line(fmt.Sprintf("the answer to the line %q", first))
			if err != nil {
				return fmt.Errorf("%v (expected %q)", err, answer(first))
			}
			if got != answer(first) {
				why := ""
				if answer(head) != answer(first) && strings.HasPrefix(got, answer(head)) {
					why = fmt.Sprintf(": the answer fits %q, the start of the next line, as if the server answered what one read returned as a whole; split what you read at each \\n", head)
				}
				return fmt.Errorf("sent %q in one write: expected the answer to %q, %q, got %q%s", first+"\n"+head, first, answer(first), got, why)
			}
			if err := k.Send(tail + "\r\n"); err != nil {
				return err
			}
			got, err = k.Line(fmt.Sprintf("the answer to the line %q, whose start %q came with the line before", second, head))
			if err != nil {
				return fmt.Errorf("%v (expected %q); keep the bytes after the last \\n of a read: they are the start of the next line", err, answer(second))
			}
			distinct := answer(head) != answer(tail)
			switch {
			case got == answer(second):
				return nil
			case distinct && got == answer(head):
				return fmt.Errorf("expected %q, the answer to %q, got %q: the server answered %q, the start of a line still on its way, as if it were a whole line; keep the bytes after the last \\n until the rest of the line arrives", answer(second), second, got, head)
			case distinct && got == answer(tail):
				return fmt.Errorf("expected %q, the answer to %q, got %q: the server lost %q, the start of the line that came in the same read as the line before; keep the bytes after the last \\n for the next read", answer(second), second, got, head)
			}
			return fmt.Errorf("expected %q, the answer to %q (sent as %q with the line before, then %q), got %q: keep the bytes after the last \\n of a read until the rest of their line arrives", answer(second), second, head, tail+"\r\n", got)
		})
}

// Pieces sends a word in three pieces with pauses between them, ending with
// "\r\n", and expects one answer. Lessons 7 and 8 use it.
func Pieces(c *kit.C, k *kit.Conn, w string, answer func(string) string) {
	pieces := []string{w[:2], w[2:] + "\r", "\n"}
	c.Step(fmt.Sprintf("%q sent in pieces %q is answered once, as %q", w+"\r\n", pieces, answer(w)),
		fmt.Sprintf("telnet %s %s   # or: (printf '%s'; sleep 1; printf '%s\\r\\n') | %s", c.Host(), c.Port(), pieces[0], w[2:], c.NCN()),
		func() error {
			for i, p := range pieces {
				if i > 0 {
					time.Sleep(pause)
				}
				if err := k.Send(p); err != nil {
					return err
				}
			}
			return k.Expect(fmt.Sprintf("the answer to %q (sent in 3 pieces)", w), answer(w))
		})
}

// Together sends two lines in one write and expects two answers. Lessons 7
// and 10 use it.
func Together(c *kit.C, k *kit.Conn, a, b string, answer func(string) string) {
	c.Step(fmt.Sprintf("two lines in one write, %q, get two answers", a+"\n"+b+"\r\n"),
		fmt.Sprintf("printf '%s\\n%s\\r\\n' | %s", a, b, c.NCN()),
		func() error {
			if err := k.Send(a + "\n" + b + "\r\n"); err != nil {
				return err
			}
			if err := k.Expect(fmt.Sprintf("the answer to the first line %q", a), answer(a)); err != nil {
				return err
			}
			return k.Expect(fmt.Sprintf("the answer to the second line %q (sent in the same write)", b), answer(b))
		})
}

// Reverse is the answer to a line: the line backwards.
func Reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
