# Skiff's two commands: `make up` (build release, run the all-in-one server) and `make test`.
# Each installs the Debian packages it needs first (as root), or says which to install.

SWIFT ?= swift
# What building needs: the system libraries the kernel links, found by pkg-config.
BUILD_PACKAGES := pkg-config libuv1-dev libyaml-dev libffi-dev libsqlite3-dev libhttp-parser-dev zlib1g-dev libssl-dev
# What the tests use besides: cc for C plugins, nm for the one-symbol rule, ip for pod networks.
TEST_PACKAGES := gcc libc6-dev binutils iproute2 iputils-ping procps python3 curl runc busybox-static skopeo docker-registry
DATA_DIR ?= skiff-data
PROFILE ?= profiles/default.yaml
PLUGIN_CFLAGS := -shared -fPIC -O2 -std=c11 -Wall -Wextra -Werror -fvisibility=hidden -I Sources/SkiffABI/include

.PHONY: up test build release deps test-deps examples bench clean

up: release
	@echo "starting skiff with $(PROFILE); data in $(DATA_DIR); Ctrl-C stops it"
	.build/release/skiff server --profile $(PROFILE) --data-dir $(DATA_DIR) --log-level info

test: deps test-deps
	$(SWIFT) build --build-tests
	$(MAKE) examples CONFIG=debug
	$(SWIFT) test --skip-build --disable-swift-testing

build: deps
	$(SWIFT) build
	$(MAKE) examples CONFIG=debug

release: deps
	$(SWIFT) build -c release
	$(MAKE) examples CONFIG=release

# The C example plugins, built with cc against skiff.h alone, into the folder the loader searches.
CONFIG ?= debug
examples:
	@mkdir -p .build/$(CONFIG)/plugins
	cc $(PLUGIN_CFLAGS) -o .build/$(CONFIG)/plugins/libskiff_labelpref.so examples/plugins/label_preference.c

bench: release
	.build/release/skiff bench abi --profile $(PROFILE)

deps:
	@command -v $(SWIFT) >/dev/null || { echo "Swift 6 is required: https://swift.org/install" >&2; exit 1; }
	@scripts/ensure-packages $(BUILD_PACKAGES)

test-deps:
	@scripts/ensure-packages $(TEST_PACKAGES)
	@python3 -c "import kubernetes" 2>/dev/null || python3 -m pip install -q kubernetes
	@python3 -c "import websockets" 2>/dev/null || python3 -m pip install -q websockets

clean:
	rm -rf .build
