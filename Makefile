# The everyday verbs. Everything the project needs is installed into .tools/ (git-ignored).
.PHONY: dev test deploy soak hot bench bench-instructions bench-profiles fuzz load build key keys revoke-key fmt lint clean

## Serve the API on http://127.0.0.1:9000 against DynamoDB Local on :8000 (Ctrl-C stops both)
dev:
	@bash scripts/dev.sh

## Every test: lints, unit, template, integration (DynamoDB Local), end-to-end (HTTP), events
test:
	@bash scripts/test.sh

## MINUTES of mixed traffic against make dev with a restart in the middle, then every count checked
soak:
	@MINUTES="$(or $(MINUTES),2)" bash scripts/soak.sh

## One link past 10x the emulated per-partition limit for HOT_SECONDS (180): every visit counted once, no 5xx
hot:
	@bash scripts/hot.sh

## Build and deploy the stack with deploy.env's parameters (first time: make deploy GUIDED=1)
deploy:
	@GUIDED="$(GUIDED)" bash scripts/deploy.sh

## Cold start, latency, CPU, memory, DynamoDB use and zip size of each function, and a Python reference
bench:
	@bash scripts/bench.sh

## Instructions per warm invocation (valgrind callgrind): repeatable where CPU time is noisy
bench-instructions:
	@bash scripts/bench-instructions.sh

## The redirect and the crates floor under each release profile (PROFILES="3:fat:1 s:fat:1 ..."): zip, Init, RSS, instructions
bench-profiles:
	@bash scripts/bench-profiles.sh

## cargo fuzz (nightly) on URL normalization, alias parsing and the event-to-request path; FUZZ_SECONDS per target
fuzz:
	@bash scripts/fuzz.sh

## Load: N GETs with C in flight on links from a pool of 3 random strings, then checks stats and rankings (URL=, KEY= for a deployed API)
load:
	@N="$(or $(N),1000)" C="$(or $(C),16)" bash scripts/load.sh

## Issue an API key, shown once: make key NAME=alice ROLE=user|admin (TABLE_NAME=... for a deployed table)
key:
	@bash scripts/keys.sh create --name "$(NAME)" --role "$(or $(ROLE),user)"

## List API keys (id, role, created, revoked, name)
keys:
	@bash scripts/keys.sh list

## Revoke an API key by its id: make revoke-key ID=...
revoke-key:
	@bash scripts/keys.sh revoke "$(ID)"

## Release zips for Lambda, as `sam build` makes them (ARCH=arm64 or x86_64; default: deploy.env's Architecture)
build:
	@bash -c 'source scripts/lib.sh && build_release "$${ARCH:-$$(deploy_arch)}" "$${FUNCTIONS[@]}"'

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf target .aws-sam
