#!/usr/bin/env bash
# One build step, quietly: its output goes to build/logs/<log>.log and one line is printed,
# "done" or "FAILED" with the log's path and its last lines.
#   tools/step.sh "<what>" <log> <command> [args...]
# With STEP_SUMMARY set to a grep pattern, the last matching line of the log ends the line.
set -uo pipefail
what=$1
log="build/logs/$2.log"
shift 2
mkdir -p build/logs
# The line is printed whole when the step ends: steps may run side by side (make -j).
if "$@" >"$log" 2>&1; then
  summary=""
  if [[ -n "${STEP_SUMMARY:-}" ]]; then
    summary=" ($(grep -E "$STEP_SUMMARY" "$log" | tail -n 1))"
  fi
  echo "$what ... done${summary}"
else
  status=$?
  echo "$what ... FAILED (exit ${status}); the whole log: ${log}"
  tail -n 20 "$log" | sed 's/^/    /'
  exit "$status"
fi
