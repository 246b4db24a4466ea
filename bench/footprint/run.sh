#!/usr/bin/env bash
# ./bench/run footprint: the portable IPA core on a Cortex-M4 (bench/footprint/README in docs/ipa.md).
#   text_bytes        .text + .rodata of the linked firmware ELF (arm-none-eabi-size "text"), minus
#                     the recorded session it replays (test data, reported as script_bytes)
#   static_ram_bytes  .data + .bss of that ELF minus the heap pool (reported as heap_pool_bytes)
#   peak_heap_bytes   the most bytes live through the allocation hook during the relay, measured by
#                     running the same code built for a Cortex-A7 in Thumb-2 (same AAPCS, so the
#                     same sizes) under qemu-arm with semihosting
# Extra args are passed to the CMake configure of both builds (e.g. -DFOOTPRINT_MESSAGE_MAX=4096).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/bootstrap --footprint
arm=build-bench/footprint-arm
qemu=build-bench/footprint-qemu
toolchain=$PWD/cmake/arm-none-eabi.cmake
defaults="-DFOOTPRINT_MESSAGE_MAX=0 -DFOOTPRINT_SEGMENT_MAX=0" # the IPA defaults unless "$@" says otherwise
cmake -S bench/footprint -B "$arm" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DSGP32_ARM_QEMU=OFF $defaults "$@" >/dev/null
cmake --build "$arm" -j"$(nproc)" >/dev/null
cmake -S bench/footprint -B "$qemu" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DSGP32_ARM_QEMU=ON $defaults "$@" >/dev/null
cmake --build "$qemu" -j"$(nproc)" --target firmware_print >/dev/null

elf=$arm/firmware.elf
read -r text data bss _ < <(arm-none-eabi-size "$elf" | tail -1)
symsize() { local v; v=$(arm-none-eabi-nm -S "$elf" | awk -v s="$1" '$4 == s { print $2 }'); echo $((16#$v)); }
pool=$(symsize pool)
script=$(symsize footprint_script)
# .text/.rodata input sections of the core library (lib/ipa, lib/asn1, lib/core) kept by --gc-sections
core_text=$(python3 - "$arm/firmware.map" <<'PY'
import re, sys
total, pending, kept = 0, None, False
for line in open(sys.argv[1]):
    kept = kept or line.startswith('Linker script and memory map')  # not the discarded ones above
    if not kept: continue
    m = re.match(r'^ (\.(?:text|rodata)\S*)\s*(0x[0-9a-f]+\s+0x[0-9a-f]+\s+(\S+))?', line)
    if m and m.group(2):
        name, rest = m.group(1), m.group(2).split()
        if 'libsgp32_mcu.a' in rest[2]: total += int(rest[1], 16)
        pending = None
    elif m:
        pending = m.group(1)
    elif pending:
        rest = line.split()
        if len(rest) >= 3 and rest[0].startswith('0x') and 'libsgp32_mcu.a' in rest[2]: total += int(rest[1], 16)
        pending = None
print(total)
PY
)
echo "Cortex-M4 firmware $elf (-Os, newlib-nano, --gc-sections):"
arm-none-eabi-size "$elf"
out=$(qemu-arm "$qemu/firmware_print.elf")
echo "$out"
get() { echo "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
peak=$(get peak_heap_bytes)
rc=$(get rc)
text_bytes=$((text - script))
static_ram=$((data + bss - pool))
msg=$(sed -n 's/^FOOTPRINT_MESSAGE_MAX:STRING=//p' "$arm/CMakeCache.txt")
seg=$(sed -n 's/^FOOTPRINT_SEGMENT_MAX:STRING=//p' "$arm/CMakeCache.txt")
[ "$msg" = 0 ] && msg=8192
[ "$seg" = 0 ] && seg=2048
met=true
{ [ "$rc" = 0 ] && [ "$text_bytes" -le 65536 ] && [ "$static_ram" -le 8192 ] && [ "$peak" -le 16384 ]; } || met=false
echo "text $text_bytes bytes (core library $core_text, recorded session $script excluded), static RAM $static_ram bytes (heap pool $pool excluded), peak heap $peak bytes (qemu-arm, Cortex-A7 Thumb-2 build of the same code)"
printf '{"bench":"footprint","text_bytes":%d,"static_ram_bytes":%d,"peak_heap_bytes":%d,"goal_text_bytes":65536,"goal_static_ram_bytes":8192,"goal_peak_heap_bytes":16384,"core_text_bytes":%d,"elf_text_bytes":%d,"script_bytes":%d,"data_bytes":%d,"bss_bytes":%d,"heap_pool_bytes":%d,"pool_high_water_bytes":%d,"bpp_bytes":%d,"bpp_segments":%d,"message_max":%d,"segment_max":%d,"installed":%d,"peak_heap_measured_on":"qemu-arm cortex-a7 thumb2","goals_met":%s}\n' \
  "$text_bytes" "$static_ram" "$peak" "$core_text" "$text" "$script" "$data" "$bss" "$pool" \
  "$(get pool_high_water_bytes)" "$(get bpp_bytes)" "$(get segments)" "$msg" "$seg" "$(get installed)" "$met"
