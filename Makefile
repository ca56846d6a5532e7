# primaryvote — see README.md.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build run test lint bench clean

build:
	$(GO) build -o bin/ ./cmd/...

## run: serve the demo on http://127.0.0.1:8080 (a private PostgreSQL under .data/ unless DATABASE_URL is set)
run: build
	@scripts/run

## test: the whole suite against a throwaway PostgreSQL cluster
test:
	@scripts/test

## bench: a whole primary at full scale (VOTERS=224556 CONCURRENCY=64), with one summary
bench:
	@scripts/bench

## lint: gofmt, go vet, staticcheck, and no build output tracked
lint:
	@scripts/check-tracked
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	@scripts/pgcluster destroy .data/pg
	rm -rf bin .data
