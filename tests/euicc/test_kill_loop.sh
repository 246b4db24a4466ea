#!/bin/sh
# Crash safety of euicc-sim's file store: SIGKILL the simulator at random points while a client
# writes the default SM-DP+ address (SetDefaultDpAddress BF65 "dp<N>.example.com", N increasing)
# over and over; after each kill, the state must load (euicc-sim --check-state) and hold the last
# address the card acknowledged or the one in flight: never an older one, never garbage.
#
#   test_kill_loop.sh EUICC_SIM EUICC_CLIENT SGP26_DIR [ITERATIONS]   (default 200, or $KILL_LOOP_ITERATIONS)
set -u
sim=$1
client=$2
sgp26=$3
iterations=${4:-${KILL_LOOP_ITERATIONS:-200}}

work=$(mktemp -d "${TMPDIR:-/tmp}/euicc-kill.XXXXXX") || exit 1
sock=$work/card.sock
state=$work/state
sim_pid=
client_pid=

cleanup() {
    [ -n "$sim_pid" ] && kill -9 "$sim_pid" 2>/dev/null
    [ -n "$client_pid" ] && kill -9 "$client_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "FAIL (iteration $i): $*"
    echo "--- last simulator log lines:"
    tail -n 20 "$work/sim.log" 2>/dev/null
    echo "--- client errors:"
    cat "$work/client.err" 2>/dev/null
    exit 1
}

random_ms() { # 0..$1-1
    echo $(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1))
}

start=$(date +%s)
previous=""      # the address after the last check ("" = none set yet)
next=1           # the first N the next client writes
acked_total=0
with_acks=0
in_flight_landed=0
i=0
while [ "$i" -lt "$iterations" ]; do
    i=$((i + 1))
    "$sim" --state-dir "$state" --sgp26 "$sgp26" --listen "unix:$sock" --log-level warn 2>>"$work/sim.log" &
    sim_pid=$!
    "$client" --wait 5 "unix:$sock" dp-loop "$next" >"$work/acks" 2>"$work/client.err" &
    client_pid=$!
    sleep "$(printf '0.%03d' "$(random_ms 40)")"
    kill -9 "$sim_pid" 2>/dev/null
    wait "$sim_pid" 2>/dev/null
    sim_pid=
    # The client may still wait for its first connection: it has nothing to say any more.
    kill -9 "$client_pid" 2>/dev/null
    wait "$client_pid" 2>/dev/null
    client_pid=

    last_ack=$(sed -n 's/^ack //p' "$work/acks" | tail -n 1)
    out=$("$sim" --check-state "$state" 2>&1)
    status=$?
    if [ "$status" -ne 0 ]; then
        # A kill before the very first state write leaves no state at all: that is fine.
        if [ -z "$previous" ] && [ -z "$last_ack" ] && ! [ -f "$state/state" ]; then
            continue
        fi
        fail "the state does not load after SIGKILL: $out"
    fi
    value=$(printf '%s\n' "$out" | sed -n 's/^default-dp-address: //p')
    if [ -n "$last_ack" ]; then
        acked_total=$((acked_total + last_ack - next + 1))
        with_acks=$((with_acks + 1))
        if [ "$value" = "dp$((last_ack + 1)).example.com" ]; then
            in_flight_landed=$((in_flight_landed + 1))
        elif [ "$value" != "dp$last_ack.example.com" ]; then
            fail "acknowledged dp$last_ack.example.com, the state holds '$value'"
        fi
    else
        if [ "$value" = "dp$next.example.com" ]; then
            in_flight_landed=$((in_flight_landed + 1))
        elif [ "$value" != "$previous" ]; then
            fail "nothing acknowledged since '$previous', the state holds '$value'"
        fi
    fi
    previous=$value
    n=$(printf '%s\n' "$value" | sed -n 's/^dp\([0-9]*\)\.example\.com$/\1/p')
    [ -n "$n" ] && next=$((n + 1))
done

# The card still works after all that.
"$sim" --state-dir "$state" --sgp26 "$sgp26" --listen "unix:$sock" --log-level warn 2>>"$work/sim.log" &
sim_pid=$!
eid=$("$client" --wait 5 "unix:$sock" es10 BF3E035C015A) || fail "GetEID after the loop failed"
kill -TERM "$sim_pid"
wait "$sim_pid"
status=$?
sim_pid=
[ "$status" -eq 0 ] || fail "euicc-sim did not stop cleanly on SIGTERM (status $status)"
[ "$eid" = "BF3E125A1089049032123451234512345678901235" ] || fail "GetEID answered $eid"
[ -S "$sock" ] && fail "the socket file is left after SIGTERM"

echo "kill loop: $iterations SIGKILLs in $(($(date +%s) - start)) s; $with_acks with acknowledged writes" \
    "($acked_total acknowledged in all), $in_flight_landed times the write in flight had landed; last value $previous"
exit 0
