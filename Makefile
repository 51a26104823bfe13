# SPDX-License-Identifier: Apache-2.0
#
# make            builds build/timbre and the default voice model
# make run        installs missing Debian packages, builds, serves on loopback
# make test       builds and runs every test (unit, voice, end-to-end)
# make unit       cmocka unit tests only
# make voice-test the voice engine's command-line tools on real audio
# make fuzz-test  twenty seconds of libFuzzer on the audio decoder
# make api-test   end-to-end tests against the real binary only
# make eval       error rates and speed of the default voice model
# make model      refreshes model/ from ../shared/spec when that exists

CC      ?= cc
PYTHON  ?= python3
PKGS    := libmicrohttpd jansson sqlite3 libcrypto libpcre2-8 \
           sndfile soxr kissfft-float lapacke openblas
LISTEN  ?= 127.0.0.1:8000
DATA    ?= ./data

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter
CFLAGS  += -Iinclude -Isrc $(PKG_CFLAGS)
LDFLAGS += -Wl,--as-needed
LDLIBS  += $(PKG_LIBS) -lpthread -lm

MODEL_JSON := model/voiceid-2021-09-27.json
MODEL_GEN  := src/api/model_gen.c

SRCS     := $(sort $(shell find src -name '*.c') $(MODEL_GEN))
OBJS     := $(SRCS:%.c=build/obj/%.o)
MAIN_OBJ := build/obj/src/main.o
LIB_OBJS := $(filter-out $(MAIN_OBJ),$(OBJS))

UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=build/tests/%)

.PHONY: all run test unit voice-test fuzz-test api-test eval eval-model \
        model clean

# The default voice model is trained on speech the build synthesises
# (tools/corpus/README.md); the same sources give the same model.
CORPUS      := build/corpus
VOICE_MODEL := build/voice/default.model
CORPUS_TOOL := tools/synth-corpus.sh tools/synth_corpus.py

all: build/timbre $(VOICE_MODEL)

build/timbre: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/libtimbre.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# The C tables of every shape come from the reduced service model.
$(MODEL_GEN): $(MODEL_JSON) tools/gen_model.py
	$(PYTHON) tools/gen_model.py $(MODEL_JSON) $@

build/tests/%: tests/unit/%.c build/libtimbre.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< build/libtimbre.a \
	    $(LDLIBS) -lcmocka

$(CORPUS)/%/manifest.tsv: $(CORPUS_TOOL) tools/corpus/sentences-%.txt
	tools/synth-corpus.sh $(CORPUS)/$* $*

$(VOICE_MODEL): $(CORPUS)/train/manifest.tsv build/timbre
	@mkdir -p $(dir $@)
	build/timbre train --corpus $< --out $@

# Like run, it first installs what building and the speech synthesis
# need, then builds in a second make.
eval:
	@tools/deps.sh run
	@$(MAKE) --no-print-directory eval-model

eval-model: $(VOICE_MODEL) $(CORPUS)/eval/manifest.tsv
	build/timbre eval --corpus $(CORPUS)/eval/manifest.tsv \
	    --model $(VOICE_MODEL)

voice-test: $(VOICE_MODEL) $(CORPUS)/eval/manifest.tsv
	@tests/voice/run.sh

# Adds jobs through the real storage code, for benchmarks and tests.
build/bench/seed-jobs: bench/seed_jobs.c build/libtimbre.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< build/libtimbre.a $(LDLIBS)

# A bounded libFuzzer run over the audio decoder.
fuzz-test:
	@if fuzz/run.sh 20; then echo "fuzz: 1 passed, 0 failed"; \
	else echo "fuzz: 0 passed, 1 failed"; exit 1; fi

# The runner's tests enroll real speakers: they need the model and the
# evaluation recordings, and skip without them.
unit: $(UNIT_BINS) $(VOICE_MODEL) $(CORPUS)/eval/manifest.tsv
	@tools/run-unit.sh $(UNIT_BINS)

# The enrollment tests enroll real speakers, like the runner's.
api-test: build/timbre build/bench/seed-jobs $(VOICE_MODEL) \
          $(CORPUS)/eval/manifest.tsv
	@tests/api/run.sh

test:
	@tools/deps.sh test
	@$(MAKE) --no-print-directory unit voice-test fuzz-test api-test

# The build runs in a second make so that pkg-config sees packages that
# deps.sh has just installed.
run:
	@tools/deps.sh run
	@$(MAKE) --no-print-directory all
	build/timbre serve --listen $(LISTEN) --data-dir $(DATA)

model:
	$(PYTHON) tools/gen_model.py --reduce ../shared/spec/voiceid-service-2.json \
	    $(MODEL_JSON)

clean:
	rm -rf build

-include $(OBJS:.o=.d)
