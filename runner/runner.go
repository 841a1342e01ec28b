// Package runner runs one learner program in a process of its own, beside
// the kernel: the bridge starts `sockstep runner` per Run (Start, the
// supervisor's side), and that process (Main) interprets the program with
// the engine over a native.Session of its own. The program's calls never
// leave its process; what the page sees — events, answers, the sockets the
// program holds — travels over one control socket to the bridge, which
// relays it. This is Jupyter's shape: a kernel process per notebook,
// supervised, interrupted with a signal.
//
// The runner reaches the host only through the engine's exports: it starts
// with an empty environment, its standard input from /dev/null, in an empty
// working directory, under a memory cap, and dies with the bridge.
package runner

import (
	"encoding/json"
	"time"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/engine"
)

// controlFD is where the runner finds its control socket: the first of
// exec.Cmd's ExtraFiles.
const controlFD = 3

// workDirPrefix starts the name of a runner's working directory, which the
// runner removes as it starts: it works in a directory that no longer
// exists, and none is left behind however the bridge ends.
const workDirPrefix = "sockstep-run-"

// Program is the first message the bridge sends a runner: what to run and
// under which limits.
type Program struct {
	Source      string        `json:"source"`
	Name        string        `json:"name"`                  // the workspace file's name; the process is named after it
	Debug       bool          `json:"debug,omitempty"`       // stop at main's first line
	Breakpoints []int         `json:"breakpoints,omitempty"` // 1-based lines
	Policy      native.Policy `json:"policy"`                // what the program's session may do
	MaxMemory   int64         `json:"maxMemory"`             // bytes of memory the program may use beyond the runner's own start
	MaxStack    int           `json:"maxStack"`              // bytes of stack one goroutine may use
}

// toRunner is one line the bridge writes to a runner: exactly one field set.
type toRunner struct {
	Start   *Program        `json:"start,omitempty"`
	Request *engine.Request `json:"request,omitempty"` // step, pause, setBreakpoints: answered by an answer event
	Trace   bool            `json:"trace,omitempty"`   // send the session's trace now
}

// fromRunner is one line a runner writes that is for the bridge itself;
// lines for the page are JSON arrays of events, passed on as they are.
// Exactly one field is set.
type fromRunner struct {
	Own   *Own         `json:"own,omitempty"`
	Trace []TraceEntry `json:"trace,omitempty"`
	// NoTrace says the trace is empty (Trace is omitted when it is).
	NoTrace bool `json:"noTrace,omitempty"`
	// Ended is how the program ended, as the engine's exit event says it
	// ("" normally, "exit status 3", "panic: boom"), sent before the runner
	// exits on its own.
	Ended *string `json:"ended,omitempty"`
}

// Own is the kernel's view of the sockets the program holds, which only
// its process can ask about; the bridge adds the client panel's and the
// leftovers on Ports.
type Own struct {
	Sockets []wire.SocketInfo `json:"sockets"`
	Ports   []uint16          `json:"ports"` // every local port the program's sockets have had
	// Leftovers says a call was made that may have changed the leftovers
	// (native.ChangesLeftovers): the bridge reads them again.
	Leftovers bool `json:"leftovers,omitempty"`
}

// TraceEntry is native.TraceEntry as it crosses the control socket: wire
// calls and results keep their data out of JSON, so it travels beside them.
type TraceEntry struct {
	Call       wire.Call   `json:"call"`
	CallData   []byte      `json:"callData,omitempty"`
	Result     wire.Result `json:"result"`
	ResultData []byte      `json:"resultData,omitempty"`
	Start      time.Time   `json:"start"`
	End        time.Time   `json:"end"`
}

func toWire(t []native.TraceEntry) []TraceEntry {
	out := make([]TraceEntry, len(t))
	for i, e := range t {
		out[i] = TraceEntry{Call: e.Call, CallData: e.Call.Data, Result: e.Result, ResultData: e.Result.Data, Start: e.Start, End: e.End}
	}
	return out
}

func fromWire(t []TraceEntry) []native.TraceEntry {
	out := make([]native.TraceEntry, len(t))
	for i, e := range t {
		out[i] = native.TraceEntry{Call: e.Call, Result: e.Result, Start: e.Start, End: e.End}
		out[i].Call.Data, out[i].Result.Data = e.CallData, e.ResultData
	}
	return out
}

// line encodes v as one line of the control socket.
func line(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("runner: encode: " + err.Error()) // our own types: cannot fail
	}
	return append(b, '\n')
}
