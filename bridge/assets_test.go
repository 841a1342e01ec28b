package bridge

import (
	"io"
	"net/http"
	"testing"
	"testing/fstest"
)

// builtPage is a page as the build leaves it: hashed bundles, unhashed
// engine files, and precompressed twins (distinct bytes, so a test sees
// which file was served).
var builtPage = fstest.MapFS{
	"index.html":              {Data: []byte("<html>page</html>")},
	"index.html.gz":           {Data: []byte("gzip of index")},
	"main-H6CR4NXX.js":        {Data: []byte("main bundle")},
	"main-H6CR4NXX.js.br":     {Data: []byte("br of main")},
	"main-H6CR4NXX.js.gz":     {Data: []byte("gzip of main")},
	"engine.wasm":             {Data: []byte("\x00asm engine")},
	"engine.wasm.br":          {Data: []byte("br of engine")},
	"engine.wasm.gz":          {Data: []byte("gzip of engine")},
	"wasm_exec.js":            {Data: []byte("go glue")},
	"styles-QAR43SPO.css":     {Data: []byte("css")},
	"styles-QAR43SPO.css.gz":  {Data: []byte("gzip of css")},
	"placeholder.html":        {Data: []byte("placeholder")},
	"worker-UKWJSMHR.js.br":   {Data: []byte("a twin without its original is never served")},
	"nested/main-H6CR4NXX.js": {Data: []byte("not a bundle")},
}

func TestAssetsArePrecompressedAndCached(t *testing.T) {
	tb := newTestBridgeServing(t, nil, builtPage)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	const immutable = "public, max-age=31536000, immutable"
	for _, tc := range []struct {
		name, path, accept     string
		wantStatus             int
		wantBody, wantEncoding string
		wantType, wantCache    string
		wantVary               bool
	}{
		{"chromium gets brotli", "/engine.wasm", "gzip, deflate, br, zstd", 200, "br of engine", "br", "application/wasm", "no-cache", true},
		{"gzip only", "/engine.wasm", "gzip, deflate", 200, "gzip of engine", "gzip", "application/wasm", "no-cache", true},
		{"brotli refused by q=0", "/engine.wasm", "br;q=0, gzip;q=0.5", 200, "gzip of engine", "gzip", "application/wasm", "no-cache", true},
		{"any coding", "/engine.wasm", "*", 200, "br of engine", "br", "application/wasm", "no-cache", true},
		{"identity", "/engine.wasm", "identity", 200, "\x00asm engine", "", "application/wasm", "no-cache", true},
		{"no header", "/engine.wasm", "", 200, "\x00asm engine", "", "application/wasm", "no-cache", true},
		{"hashed bundle, brotli", "/main-H6CR4NXX.js", "br", 200, "br of main", "br", "text/javascript; charset=utf-8", immutable, true},
		{"hashed bundle, plain", "/main-H6CR4NXX.js", "", 200, "main bundle", "", "text/javascript; charset=utf-8", immutable, true},
		{"only a gzip twin", "/styles-QAR43SPO.css", "br, gzip", 200, "gzip of css", "gzip", "text/css; charset=utf-8", immutable, true},
		{"index is revalidated", "/", "br, gzip", 200, "gzip of index", "gzip", "text/html; charset=utf-8", "no-cache", true},
		{"unhashed script", "/wasm_exec.js", "br, gzip", 200, "go glue", "", "text/javascript; charset=utf-8", "no-cache", false},
		{"not a bundle's place", "/nested/main-H6CR4NXX.js", "", 200, "not a bundle", "", "text/javascript; charset=utf-8", "no-cache", false},
		{"a twin alone", "/worker-UKWJSMHR.js", "br", 404, "", "", "", "", false},
	} {
		req, _ := http.NewRequest("GET", tb.base+tc.path+"?token="+testToken, nil)
		if tc.accept != "" {
			req.Header.Set("Accept-Encoding", tc.accept)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus {
			t.Errorf("%s: status %d; want %d", tc.name, resp.StatusCode, tc.wantStatus)
			continue
		}
		if tc.wantStatus != 200 {
			continue
		}
		h := resp.Header
		if string(body) != tc.wantBody || h.Get("Content-Encoding") != tc.wantEncoding {
			t.Errorf("%s: got %q with Content-Encoding %q; want %q with %q", tc.name, body, h.Get("Content-Encoding"), tc.wantBody, tc.wantEncoding)
		}
		if h.Get("Content-Type") != tc.wantType {
			t.Errorf("%s: Content-Type %q; want %q", tc.name, h.Get("Content-Type"), tc.wantType)
		}
		if h.Get("Cache-Control") != tc.wantCache {
			t.Errorf("%s: Cache-Control %q; want %q", tc.name, h.Get("Cache-Control"), tc.wantCache)
		}
		if got := h.Get("Vary") == "Accept-Encoding"; got != tc.wantVary {
			t.Errorf("%s: Vary %q; want Accept-Encoding: %v", tc.name, h.Get("Vary"), tc.wantVary)
		}
		if h.Get("Cross-Origin-Opener-Policy") != "same-origin" || h.Get("Cross-Origin-Embedder-Policy") != "require-corp" {
			t.Errorf("%s: not cross-origin isolated: COOP %q, COEP %q", tc.name, h.Get("Cross-Origin-Opener-Policy"), h.Get("Cross-Origin-Embedder-Policy"))
		}
	}
}

func TestAssetsRevalidateByETag(t *testing.T) {
	tb := newTestBridgeServing(t, nil, builtPage)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(accept, ifNoneMatch string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", tb.base+"/engine.wasm?token="+testToken, nil)
		req.Header.Set("Accept-Encoding", accept)
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	br, gz := get("br", ""), get("gzip", "")
	tag := br.Header.Get("ETag")
	if tag == "" || tag == gz.Header.Get("ETag") {
		t.Fatalf("ETags: br %q, gzip %q; want set and distinct (they are different bytes)", tag, gz.Header.Get("ETag"))
	}
	if resp := get("br", tag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating with the brotli ETag: status %d; want 304", resp.StatusCode)
	}
	if resp := get("gzip", tag); resp.StatusCode != http.StatusOK {
		t.Errorf("the brotli ETag for a gzip answer: status %d; want 200", resp.StatusCode)
	}
}
