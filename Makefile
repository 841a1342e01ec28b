# sockstep: `make run` builds what it needs and starts the playground;
# `make test` runs every test, browser ones included.

GO      ?= go
PORT    ?= 7777
DIST    := site/dist
GOROOT  := $(shell $(GO) env GOROOT)

GO_SOURCES   := go.mod go.sum $(shell find cmd native wasm bridge runner internal site examples lessons -name '*.go' -not -path '*/node_modules/*') $(shell find lessons -name '*.md')
SITE_SOURCES := $(shell find site/src -type f) site/build.mjs examples/echo/main.go

.PHONY: build run test race fuzz bench clean dist

## build: the page, the engine and the bridge, as bin/sockstep
build: bin/sockstep

## run: build, then serve the playground on 127.0.0.1:$(PORT) (PORT=8000 make run to change it)
run: build
	./bin/sockstep --port $(PORT)

## test: static checks (gofmt, vet, staticcheck, the page's types), the cross-build for macOS (all
## but lesson 13's programs, which use Linux's epoll),
## every test (a real kernel, a real browser), the race detector, and a short fuzz run
test: build
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	cd site && npx tsc --noEmit -p . && npx tsc --noEmit -p tsconfig.worker.json
	GOOS=darwin $(GO) build $$($(GO) list ./... | grep -v '/lessons/13-eventloop/')
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) race
	$(MAKE) fuzz

## race: the packages with the riskiest hand-written concurrency, under the race detector (the
## browser tests and the heap figures are left to the plain run). wasm/stepper, and wasm/engine
## which runs it, are left out on purpose: hooks read the line switches, interpreted variables the
## stepper sets, without locks, which is what keeps a hook to two statements with no call into Go.
## For that reason bridge's TestEventLoopAndDatagramsRelayed, which runs the engine in the test
## process (the in-page runner's path), and TestLessonFlowInThePlayground, whose runners are this
## race-built test binary (the detector's exit status 66 fails lesson 15's "exits 0" step), are
## left to the plain run too; so are runner's tests that interpret a program (in a runner child, the
## race-built test binary, or in the test itself): only its sink and sweep run under the detector.
race:
	$(GO) test -race -count=1 -skip 'Browser|TestMemoryGoesBackWhenAPageEnds|TestSoak|TestEventLoopAndDatagramsRelayed|TestLessonFlowInThePlayground' ./native/... ./wasm/relay ./bridge
	$(GO) test -race -count=1 -run 'Sink|Sweep' ./runner

## fuzz: a short fuzz run of each target beyond its seed corpus (go fuzzes one target per run).
## Counted in inputs, not seconds: a time limit that ends during a slow input fails the run with
## "context deadline exceeded".
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFrame$$' -fuzztime 200000x ./native/wire
	$(GO) test -run '^$$' -fuzz '^FuzzCallHeader$$' -fuzztime 200000x ./native/wire
	$(GO) test -run '^$$' -fuzz '^FuzzResultHeader$$' -fuzztime 200000x ./native/wire
	$(GO) test -run '^$$' -fuzz '^FuzzDo$$' -fuzztime 100000x ./native
	$(GO) test -run '^$$' -fuzz '^FuzzSessionFrames$$' -fuzztime 10000x ./bridge

site/node_modules/.installed: site/package.json site/package-lock.json
	cd site && npm ci --no-audit --no-fund
	touch $@

$(DIST)/engine.wasm: $(GO_SOURCES)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o $@ ./wasm

$(DIST)/index.html: site/node_modules/.installed $(SITE_SOURCES)
	cd site && npm run build
	cp $(GOROOT)/lib/wasm/wasm_exec.js $(DIST)/wasm_exec.js

# Precompressed twins: the bridge serves x.br (brotli) or x.gz for x to browsers that take them.
$(DIST)/.compressed: $(DIST)/index.html $(DIST)/engine.wasm site/compress.mjs
	cd site && node compress.mjs
	touch $@

bin/sockstep: $(DIST)/.compressed $(GO_SOURCES)
	$(GO) build -o $@ ./cmd/sockstep

## dist: one self-contained sockstep binary (the page embedded; no Go, no Node needed to run it) for
## each of DIST_PLATFORMS, the page alone for a course's own site (sockstep-page.tar.gz: the files of
## site/dist, in a folder sockstep-page/), and their SHA-256 sums, in dist/; then tests them
## (TestDist). Reproducible:
## the same sources with the same Go and Node versions give the same bytes, wherever the tree is and
## whatever its git state (no VCS stamp, paths trimmed). The page is rebuilt from nothing first, so
## no leftover of an earlier build is embedded.
DIST_OUT       := dist
DIST_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
SHA256SUM      := $(shell command -v sha256sum >/dev/null 2>&1 && echo sha256sum || echo shasum -a 256)

dist: site/node_modules/.installed
	find $(DIST) -mindepth 1 -not -name placeholder.html -delete
	GOFLAGS=-buildvcs=false $(MAKE) $(DIST)/.compressed
	rm -rf $(DIST_OUT)
	mkdir -p $(DIST_OUT)
	for p in $(DIST_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		echo "  $(DIST_OUT)/sockstep-$$os-$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOAMD64=v1 GOARM64=v8.0 $(GO) build -trimpath -buildvcs=false -ldflags="-s -w -buildid=" \
			-o $(DIST_OUT)/sockstep-$$os-$$arch ./cmd/sockstep || exit 1; \
	done
	tar -C site --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=u=rwX,go=rX \
		--exclude=.compressed --exclude='placeholder.html*' --transform='s,^dist,sockstep-page,' -cf - dist \
		| gzip -9n > $(DIST_OUT)/sockstep-page.tar.gz
	cd $(DIST_OUT) && $(SHA256SUM) sockstep-* > SHA256SUMS
	cat $(DIST_OUT)/SHA256SUMS
	SOCKSTEP_DIST=$(CURDIR)/$(DIST_OUT) $(GO) test -count=1 -run '^TestDist' ./bridge

## bench: build, then measure the page, the relay and the bridge against native Go (not part of test)
bench: build
	$(GO) run ./bench --bridge bin/sockstep

clean:
	rm -rf bin site/node_modules
	find $(DIST) -mindepth 1 -not -name placeholder.html -delete
