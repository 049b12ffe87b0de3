#!/bin/sh
# The agent of the dispatch tests: the arithmetic example agent, with
# failure modes chosen by the task's "behavior" field.
#   crash      writes to stderr and exits 3
#   hang       never finishes (until the dispatcher kills it)
#   hang_once  hangs on the rollout's first run, then answers normally
#   garbage    prints a line that is not a reward
task=$(cat)
case "$task" in
*'"crash"'*)
	echo "agent crashed on purpose" >&2
	exit 3
	;;
*'"hang"'*)
	sleep 600 &
	wait
	;;
*'"hang_once"'*)
	if [ ! -f "$MARKER_DIR/$AGL_ROLLOUT_ID" ]; then
		touch "$MARKER_DIR/$AGL_ROLLOUT_ID"
		sleep 600 &
		wait
	fi
	;;
*'"garbage"'*)
	echo "no reward here"
	exit 0
	;;
esac
printf '%s' "$task" | exec "$ARITHMETIC_AGENT"
