#!/bin/sh
# kill -9 during a stream of logins, 20 rounds (under a minute): the table
# passes tdbtool check and keeps every login older than the commit
# interval (plus a margin). The full run: t/crash-consistency.pl --rounds 200
exec perl "$(dirname "$0")/crash-consistency.pl" --rounds "${AUTHSINK_CRASH_ROUNDS:-20}"
