package main

import "fmt"

type Conn struct {
	fd   int
	sent int
}

func (c *Conn) Send(b []byte) int {
	c.sent += len(b)
	return len(b)
}

func (c Conn) String() string { return fmt.Sprintf("conn(%d, %d)", c.fd, c.sent) }

type Sender interface{ Send([]byte) int }

func main() {
	c := &Conn{fd: 4}
	var s Sender = c
	s.Send([]byte("hello"))
	send := c.Send
	send([]byte("!!"))
	fmt.Println(c.String())
	fmt.Println(*c)
}

// Output:
// conn(4, 7)
// conn(4, 7)
