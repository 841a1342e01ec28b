package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"syscall"
	"time"

	"github.com/sockstep/sockstep/lessons"
	"github.com/sockstep/sockstep/runner"
)

// checkTimeout bounds one lesson check: every checker's waits are bounded,
// this is the backstop.
const checkTimeout = 2 * time.Minute

// lessonJSON is one lesson as GET /api/lessons lists it: everything but the
// solution, which is asked for on its own.
type lessonJSON struct {
	ID      string `json:"id"`      // the folder: "02-binding"
	Number  int    `json:"number"`  // 2
	Title   string `json:"title"`   // "Binding"
	Text    string `json:"text"`    // markdown
	Starter string `json:"starter"` // Go source
	Port    int    `json:"port"`    // where the lesson's server listens on 127.0.0.1
}

// checkRequest is the body of POST /api/check.
type checkRequest struct {
	Lesson  string `json:"lesson"`  // a lesson's id
	Session string `json:"session"` // the id the hello event gave the page
}

// checkDone is the last line of a check's stream.
type checkDone struct {
	Done   bool `json:"done"`
	Passed bool `json:"passed"`
}

// lessonAPI routes /api/. ServeHTTP has checked Host and token already.
func (b *bridge) lessonAPI() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/lessons", b.listLessons)
	mux.HandleFunc("GET /api/lessons/{id}/solution", b.lessonSolution)
	mux.HandleFunc("POST /api/check", b.check)
	mux.HandleFunc("/api/check", func(w http.ResponseWriter, r *http.Request) {
		b.refuse(w, r, http.StatusMethodNotAllowed, `POST {"lesson":…,"session":…} as application/json`)
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		b.refuse(w, r, http.StatusNotFound, "no such API: see GET /api/lessons, GET /api/lessons/{id}/solution, POST /api/check")
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

func (b *bridge) listLessons(w http.ResponseWriter, r *http.Request) {
	all, err := lessons.All()
	if err != nil {
		b.refuse(w, r, http.StatusInternalServerError, "the lessons built into this bridge are broken: "+err.Error())
		return
	}
	out := make([]lessonJSON, 0, len(all))
	for _, l := range all {
		out = append(out, lessonJSON{ID: l.ID, Number: l.Number, Title: l.Title, Text: l.Text, Starter: l.Starter, Port: l.Port})
	}
	writeJSON(w, out)
}

func (b *bridge) lessonSolution(w http.ResponseWriter, r *http.Request) {
	l, ok := lessons.ByID(r.PathValue("id"))
	if !ok {
		b.refuse(w, r, http.StatusNotFound, fmt.Sprintf("no lesson %q: see GET /api/lessons", r.PathValue("id")))
		return
	}
	writeJSON(w, struct {
		ID       string `json:"id"`
		Solution string `json:"solution"`
	}{l.ID, l.Solution})
}

// check runs a lesson's checker against the page's server, with that
// page's session trace, and streams each step as a line of JSON as it
// finishes, then {"done":true,"passed":…}.
func (b *bridge) check(w http.ResponseWriter, r *http.Request) {
	// A JSON body cannot be sent cross-site without CORS, which we never
	// allow; and a browser's Origin, when given, must be ours.
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		b.refuse(w, r, http.StatusUnsupportedMediaType, "send the check request as application/json")
		return
	}
	if r.Header.Get("Origin") != "" && !b.originAllowed(r) {
		b.refuse(w, r, http.StatusForbidden, fmt.Sprintf("Origin %q may not run checks", r.Header.Get("Origin")))
		return
	}
	var req checkRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		b.refuse(w, r, http.StatusBadRequest, "bad check request: "+err.Error()+` (want {"lesson":"02-binding","session":"…"})`)
		return
	}
	l, ok := lessons.ByID(req.Lesson)
	if !ok {
		b.refuse(w, r, http.StatusNotFound, fmt.Sprintf("no lesson %q: see GET /api/lessons", req.Lesson))
		return
	}
	s := b.sessionByID(req.Session)
	if s == nil {
		b.refuse(w, r, http.StatusNotFound, fmt.Sprintf("no open session %q: the page's connection to the bridge has closed; reload the page", req.Session))
		return
	}
	if !s.checking.CompareAndSwap(false, true) {
		b.refuse(w, r, http.StatusConflict, "a check is already running for this page; wait for it to finish")
		return
	}
	defer s.checking.Store(false)

	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel) // the page left: nobody to report to
	defer stop()

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	steps, passed := l.Check(ctx, lessons.Target{Addr: l.Addr(), Trace: s.trace, Process: s.process()})
	for step := range steps {
		enc.Encode(step)
		if flusher != nil {
			flusher.Flush()
		}
	}
	enc.Encode(checkDone{Done: true, Passed: passed()})
	b.log.Printf("check of %s for the session from %s: passed %v", l.ID, s.peer, passed())
}

// process is the page's program as a check may signal it (lesson 15 asks
// it to shut down): the runner that runs it. The page's own engine gives
// its program no process — its sockets are the bridge's —, so there is
// none to signal.
func (s *session) process() lessons.Process {
	if !s.engineMode {
		return nil
	}
	s.procMu.Lock()
	p := s.lastProc
	s.procMu.Unlock()
	if p == nil {
		return nil
	}
	return runProcess{p}
}

// runProcess is a runner as a check's lessons.Process.
type runProcess struct{ p *runner.Process }

func (r runProcess) Signal(sig syscall.Signal) error {
	select {
	case <-r.p.Done():
		return errors.New("the program has ended")
	default:
	}
	r.p.Signal(sig)
	return nil
}

func (r runProcess) Ended() (status string, ended bool) {
	select {
	case <-r.p.Done():
		return r.p.Status(), true
	default:
		return "", false
	}
}
