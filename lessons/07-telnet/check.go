// Package telnet checks lesson 7: lines in pieces, several lines at once,
// and telnet's "\r\n", answered one line at a time.
package telnet

import (
	"fmt"
	"time"

	"sockstep/lessons/kit"
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
	Pieces(c, k)
	Together(c, k)
}

// Pieces sends a random word in three pieces, ending with "\r\n", and
// expects one answer, reversed. Lesson 8 uses it too.
func Pieces(c *kit.C, k *kit.Conn) {
	w := c.Word()
	pieces := []string{w[:2], w[2:] + "\r", "\n"}
	c.Step(fmt.Sprintf("%q sent in pieces %q is answered once, as %q", w+"\r\n", pieces, Reverse(w)),
		fmt.Sprintf("telnet %s %s   # or: (printf '%s'; sleep 1; printf '%s\\r\\n') | %s", c.Host(), c.Port(), pieces[0], w[2:], c.NC()),
		func() error {
			for i, p := range pieces {
				if i > 0 {
					time.Sleep(pause)
				}
				if err := k.Send(p); err != nil {
					return err
				}
			}
			return k.Expect(fmt.Sprintf("the answer to %q (sent in 3 pieces)", w), Reverse(w))
		})
}

// Together sends two lines in one write and expects two answers.
func Together(c *kit.C, k *kit.Conn) {
	a, b := c.Word(), c.Word()
	c.Step(fmt.Sprintf("two lines in one write, %q, get two answers", a+"\n"+b+"\r\n"),
		fmt.Sprintf("printf '%s\\n%s\\r\\n' | %s", a, b, c.NC()),
		func() error {
			if err := k.Send(a + "\n" + b + "\r\n"); err != nil {
				return err
			}
			if err := k.Expect(fmt.Sprintf("the answer to the first line %q", a), Reverse(a)); err != nil {
				return err
			}
			return k.Expect(fmt.Sprintf("the answer to the second line %q (sent in the same write)", b), Reverse(b))
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
