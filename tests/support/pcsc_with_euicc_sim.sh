# Shared by tests/euicc/test_pcsc.sh and tests/transport/test_transport_pcsc.sh (sourced, with their
# arguments EUICC_SIM CLIENT SGP26_DIR): a pcscd with the vpcd driver (a running one, or as root a
# private one on a free port, stopped by the trap), a machine-wide lock so two such tests never
# run at once, and euicc-sim connected to vpcd as the card. Sets $sim_pid, $port, $work, fail().
set -u
sim=$1
client=$2
sgp26=$3
expected=89049032123451234512345678901235
SKIP=77

work=$(mktemp -d "${TMPDIR:-/tmp}/euicc-pcsc.XXXXXX") || exit 1
sim_pid=
pcscd_pid=

cleanup() {
    if [ -n "$sim_pid" ]; then
        kill -TERM "$sim_pid" 2>/dev/null
        wait "$sim_pid" 2>/dev/null
    fi
    if [ -n "$pcscd_pid" ]; then
        kill -TERM "$pcscd_pid" 2>/dev/null
        for _ in $(seq 100); do # up to 10 s; an exited child stays a zombie (Z) until wait
            state=$(awk '{print $3}' "/proc/$pcscd_pid/stat" 2>/dev/null)
            [ -z "$state" ] || [ "$state" = Z ] && break
            sleep 0.1
        done
        kill -9 "$pcscd_pid" 2>/dev/null
        wait "$pcscd_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

skip() {
    echo "SKIP: $*"
    exit $SKIP
}
fail() {
    echo "FAIL: $*"
    for f in client.out sim.log pcscd.log; do
        [ -s "$work/$f" ] && { echo "--- $f:"; tail -n 40 "$work/$f"; }
    done
    exit 1
}

# One pcscd and one vpcd port per machine: serialise with other runs of this test (other build
# directories may run their ctest at the same time).
if command -v flock >/dev/null; then
    exec 9>"${TMPDIR:-/tmp}/sgp32-euicc-pcsc-test.lock"
    flock -w 100 9 || skip "another run of this test holds ${TMPDIR:-/tmp}/sgp32-euicc-pcsc-test.lock"
fi

pcscd_bin=$(command -v pcscd || echo /usr/sbin/pcscd)
[ -x "$pcscd_bin" ] || skip "pcscd is not installed (Debian: apt install pcscd)"
driver=$(ls /usr/lib/pcsc/drivers/serial/libifdvpcd.so* /usr/lib/*/pcsc/drivers/serial/libifdvpcd.so* 2>/dev/null | head -n 1)
[ -n "$driver" ] || skip "the vpcd driver is not installed (Debian: apt install vsmartcard-vpcd)"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

channel_port() { # CHANNELID of a reader.conf file, decimal
    local id
    id=$(sed -n 's/^[[:space:]]*CHANNELID[[:space:]]*\([0-9A-Fa-fx]*\).*/\1/p' "$1" | head -n 1)
    [ -n "$id" ] && echo $((id))
}

if pgrep -x pcscd >/dev/null 2>&1 || { command -v systemctl >/dev/null && systemctl is-active --quiet pcscd.socket 2>/dev/null; }; then
    conf=/etc/reader.conf.d/vpcd
    [ -f "$conf" ] || skip "a pcscd is running without the vpcd reader ($conf missing); not touching it"
    port=$(channel_port "$conf")
    port=${port:-35963}
    echo "using the running pcscd; vpcd port $port"
else
    [ "$(id -u)" -eq 0 ] || skip "no pcscd is running and only root can start one (/run/pcscd)"
    # A socket left by a pcscd that died: pcscd refuses to start over it.
    if [ -S /run/pcscd/pcscd.comm ]; then
        rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
    fi
    port=
    for _ in $(seq 20); do
        candidate=$((36000 + RANDOM % 3000 * 2))
        if ! port_in_use "$candidate" && ! port_in_use $((candidate + 1)); then
            port=$candidate
            break
        fi
    done
    [ -n "$port" ] || skip "no free TCP port pair for vpcd"
    mkdir -p "$work/reader.conf.d"
    printf 'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x%X\nLIBPATH      %s\nCHANNELID    0x%X\n' \
        "$port" "$driver" "$port" >"$work/reader.conf.d/vpcd"
    "$pcscd_bin" --foreground --config "$work/reader.conf.d" >"$work/pcscd.log" 2>&1 &
    pcscd_pid=$!
    for _ in $(seq 100); do
        [ -S /run/pcscd/pcscd.comm ] && port_in_use "$port" && break
        kill -0 "$pcscd_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$pcscd_pid" 2>/dev/null; then
        wait "$pcscd_pid" 2>/dev/null
        pcscd_pid=
        fail "pcscd exited at start ($pcscd_bin --foreground --config $work/reader.conf.d)"
    fi
    port_in_use "$port" || fail "pcscd runs but vpcd does not listen on port $port"
    echo "started pcscd (pid $pcscd_pid) with vpcd on port $port"
fi

"$sim" --memory-store --sgp26 "$sgp26" --vpcd "127.0.0.1:$port" --log-level info 2>"$work/sim.log" &
sim_pid=$!
