#!/bin/sh
# Unit tests in C: addresses, CIDRs, framing, table values, config.
exec "${AUTHSINK_BUILD:-build}/t/test-units"
