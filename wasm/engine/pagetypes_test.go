package engine

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pageTypes is the page's mirror of the protocol.
const pageTypes = "../../site/src/engine.d.ts"

var (
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	lineComment  = regexp.MustCompile(`(?m)//.*$`)
	// A property of an object type: `  name: …` or `name?: …`.
	property = regexp.MustCompile(`(\w+)\??:`)
)

// dts is engine.d.ts without its comments.
func dts(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(pageTypes)
	if err != nil {
		t.Fatal(err)
	}
	return lineComment.ReplaceAllString(blockComment.ReplaceAllString(string(b), ""), "")
}

// block is the body of `export interface name {…}` or `export type name = …;`.
func block(t *testing.T, src, kind, name string) string {
	t.Helper()
	var re *regexp.Regexp
	if kind == "interface" {
		re = regexp.MustCompile(`(?s)export interface ` + name + ` \{(.*?)\n\}`)
	} else {
		re = regexp.MustCompile(`(?s)export type ` + name + ` =(.*?);\n`)
	}
	m := re.FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("%s declares no %s %s", pageTypes, kind, name)
	}
	return m[1]
}

// fields are the property names of an interface body, top level only.
func fields(body string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") {
			if m := property.FindStringSubmatch(line); m != nil && strings.HasPrefix(strings.TrimSpace(line), m[0]) {
				out = append(out, m[1])
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// constants are the string values of this package's constants named
// prefix…, read from the Go source.
func constants(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, name := range vs.Names {
				if strings.HasPrefix(name.Name, prefix) && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						s, _ := strconv.Unquote(lit.Value)
						out = append(out, s)
					}
				}
			}
		}
		return true
	})
	slices.Sort(out)
	return out
}

// events is one of each event type. TestPageTypesMatch fills in their
// fields, and finds any type event.go declares that is missing here.
var events = []Event{OutputEvent{}, CallEvent{}, ResultEvent{}, DiagnosticEvent{}, ExitEvent{}, DisconnectedEvent{},
	SocketsEvent{}, ClientDataEvent{}, ClientEOFEvent{}, ClientClosedEvent{}, PausedEvent{}, ResumedEvent{},
	SessionEvent{}, AnswerEvent{}, ProcessEvent{}, SkippedEvent{}}

// eventTypes are the names of the *Event struct types in file.
func eventTypes(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok && strings.HasSuffix(ts.Name.Name, "Event") && ts.Name.IsExported() {
			if _, ok := ts.Type.(*ast.StructType); ok {
				out = append(out, ts.Name.Name)
			}
		}
		return true
	})
	slices.Sort(out)
	return out
}

// filled is a value of event type typ with every field set, so that none is
// left out of its JSON.
func filled(typ reflect.Type) Event {
	v := reflect.New(typ).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.String:
			f.SetString("x")
		case f.CanInt():
			f.SetInt(1)
		case f.CanUint():
			f.SetUint(1)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Kind() == reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 0, 0))
		case f.Kind() == reflect.Interface:
			f.Set(reflect.ValueOf(1))
		}
	}
	return v.Interface().(Event)
}

// TestPageTypesMatch holds site/src/engine.d.ts to the Go side: each event
// type is declared in EngineEvent as the interface of the Go type's name,
// with its type literal and exactly the fields it encodes (its json tags);
// every request method and field the engine reads is declared.
func TestPageTypesMatch(t *testing.T) {
	src := dts(t)

	// Events: the union's members, by name.
	type declaration struct {
		literal string
		fields  []string
	}
	declared := map[string]declaration{}
	for _, name := range regexp.MustCompile(`\w+`).FindAllString(block(t, src, "type", "EngineEvent"), -1) {
		body := block(t, src, "interface", name)
		m := regexp.MustCompile(`type: "([a-z-]+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("%s: no type literal", name)
			continue
		}
		declared[name] = declaration{m[1], fields(body)}
	}
	var listed []string
	for _, e := range events {
		listed = append(listed, reflect.TypeOf(e).Name())
	}
	slices.Sort(listed)
	if inGo := eventTypes(t, "event.go"); !reflect.DeepEqual(listed, inGo) {
		t.Errorf("event.go declares the event types %v; this test's events are %v", inGo, listed)
	}
	for _, e := range events {
		typ := reflect.TypeOf(e)
		name := typ.Name()
		e = filled(typ)
		var encoded map[string]any
		if err := json.Unmarshal(e.AppendJSON(nil), &encoded); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		keys := slices.Sorted(maps.Keys(encoded))
		tags := []string{"type"}
		for i := range typ.NumField() {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			tags = append(tags, tag)
		}
		slices.Sort(tags)
		if !reflect.DeepEqual(keys, tags) {
			t.Errorf("%s encodes %v; its json tags say %v", name, keys, tags)
		}
		if encoded["type"] != e.Type() {
			t.Errorf("%s encodes type %v; its Type is %q", name, encoded["type"], e.Type())
		}
		d, ok := declared[name]
		switch {
		case !ok:
			t.Errorf("%s is not declared in %s's EngineEvent", name, pageTypes)
		case d.literal != e.Type():
			t.Errorf("%s: %s declares type %q; the engine sends %q", name, pageTypes, d.literal, e.Type())
		case !reflect.DeepEqual(d.fields, keys):
			t.Errorf("%s: %s declares %v; the engine encodes %v", name, pageTypes, d.fields, keys)
		}
	}
	for name := range declared {
		if !slices.Contains(listed, name) {
			t.Errorf("%s declares %s, which the engine has no type for", pageTypes, name)
		}
	}

	// Requests: the methods, and the fields their arguments may hold.
	var methods, argTypes []string
	for _, m := range regexp.MustCompile(`(?m)^  (\w+): \{ args: (\w+);`).FindAllStringSubmatch(block(t, src, "interface", "Methods"), -1) {
		methods = append(methods, m[1])
		argTypes = append(argTypes, m[2])
	}
	slices.Sort(methods)
	if want := constants(t, "protocol.go", "Method"); !reflect.DeepEqual(methods, want) {
		t.Errorf("%s's Methods are %v; the engine's are %v", pageTypes, methods, want)
	}
	reqFields := []string{"id", "method"}
	for _, name := range slices.Compact(slices.Sorted(slices.Values(argTypes))) {
		if name == "NoArgs" {
			continue
		}
		body := ""
		if regexp.MustCompile(`export interface ` + name + ` \{`).MatchString(src) {
			body = block(t, src, "interface", name)
			reqFields = append(reqFields, fields(body)...)
		} else {
			body = block(t, src, "type", name)
			for _, m := range property.FindAllStringSubmatch(body, -1) {
				reqFields = append(reqFields, m[1])
			}
		}
	}
	slices.Sort(reqFields)
	reqFields = slices.Compact(reqFields)
	var goFields []string
	rt := reflect.TypeOf(Request{})
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		goFields = append(goFields, name)
	}
	slices.Sort(goFields)
	if !reflect.DeepEqual(reqFields, goFields) {
		t.Errorf("%s's requests carry %v; engine.Request reads %v", pageTypes, reqFields, goFields)
	}
}
