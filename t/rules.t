#!/bin/sh
# Rule engine and shipped rules (rules.d/), data-driven:
#   t/rules/<server>.txt   log lines and what each must give, per rule file
#   t/rules/engine.d/      a rule set and lines for the engine's features
#   t/rules/prefilter.tab  literal prefilter extraction
#   t/data/bad-rules/      broken rule files and the error each must give
# See t/c/test-rules.c for the formats.
cd "$(dirname "$0")/.." || exit 1
exec "${AUTHSINK_BUILD:-build}/t/test-rules" \
	--bad t/data/bad-rules \
	--prefilter t/rules/prefilter.tab \
	--set t/rules/engine.d \
	rules.d t/rules/*.txt
