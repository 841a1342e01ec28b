//go:build race

package runner

// raceEnabled: the race detector's runtime needs more address space than
// any cap leaves it ("too many address space collisions"), so a runner built
// with it (a test binary under go test -race) runs without the memory cap.
const raceEnabled = true
