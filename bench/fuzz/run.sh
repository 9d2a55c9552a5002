#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer through the Swift toolchain) of hv's
# parsers of outside bytes: the API's HTTP request heads and route match,
# the System Manager's WebSocket frames, .config files with both schemas,
# the lines of an event session, NTP datagrams from guests and the events
# table a guest may write (its host-side readers), a backup archive (TarReader) and cyclictest's
# and oslat's histograms a guest leaves for a qualification. Each target runs RUNS inputs (default one million) from a small
# seed corpus; prints executions and crashes per target; exits non-zero on
# a crash (the input is kept in bench/out/fuzz/<target>/).
#   bash bench/fuzz/run.sh            # a million inputs each
#   bash bench/fuzz/run.sh 20000      # the short pass the test command runs
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
runs=${1:-1000000}
out=bench/out/fuzz
mkdir -p "$out"
# HVSystem, HVCore and HVAPI compiled as one module (Exports.swift only re-exports HVSystem;
# HVAPI's `import HVCore` is taken out below).
core=$(ls Sources/HVSystem/*.swift Sources/HVCore/*.swift | grep -v '/Exports.swift$')
status=0
# One binary for all targets (HV_FUZZ_TARGET picks one): the sources are compiled once, not once a target.
# The events target also needs the session's lines (HVEvents/EventLines.swift, Foundation only);
# the table target the table's layout and readers (EventTable.swift, EventMemory.swift), with CHVSys's C for their atomics;
# the cyclictest and oslat targets the readers of the histograms a guest leaves for a qualification (HVRealTime).
bin="$out/fuzz-hv"
if [ ! -x "$bin" ] || [ -n "$(find Sources/HVSystem Sources/HVCore Sources/HVAPI Sources/HVEvents Sources/HVEngine/Backups Sources/HVRealTime Sources/CHVSys bench/fuzz/targets -newer "$bin" \( -name '*.swift' -o -name '*.c' -o -name '*.h' \) | head -1)" ]; then
    mkdir -p "$out/chvsys"
    printf 'module CHVSys {\n    header "%s"\n    export *\n}\n' "$PWD/Sources/CHVSys/include/chvsys.h" > "$out/chvsys/module.modulemap"
    clang -c -O1 -fsanitize=address -I Sources/CHVSys/include Sources/CHVSys/chvsys.c -o "$out/chvsys.o" 2> "$out/build.log" || { cat "$out/build.log"; exit 1; }
    # One module here: `import HVCore` would name a module that is not there.
    sed '/^import HVCore$/d' Sources/HVEvents/EventMemory.swift > "$out/EventMemory.swift"
    sed '/^import HVCore$/d' Sources/HVEvents/EventTable.swift > "$out/EventTable.swift"
    rm -rf "$out/api"; mkdir -p "$out/api"
    for f in Sources/HVAPI/*.swift; do sed '/^import HVCore$/d' "$f" > "$out/api/$(basename "$f")"; done
    sed '/^import HVCore$/d' Sources/HVEngine/Backups/TarReader.swift > "$out/TarReader.swift"
    for f in LatencyHistogram CyclictestOutput OslatOutput; do sed '/^import HV[A-Za-z]*$/d' "Sources/HVRealTime/$f.swift" > "$out/$f.swift"; done
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name HVFuzz -I "$out/chvsys" \
        $core "$out"/api/*.swift Sources/HVEvents/EventLines.swift "$out/EventTable.swift" "$out/EventMemory.swift" "$out/TarReader.swift" "$out/LatencyHistogram.swift" "$out/CyclictestOutput.swift" "$out/OslatOutput.swift" bench/fuzz/targets/*.swift "$out/chvsys.o" \
        -o "$bin" 2>> "$out/build.log" || { cat "$out/build.log"; exit 1; }
fi
for target in http websocket config events ntp table tar cyclictest oslat; do
    dir="$out/$target"; mkdir -p "$dir/corpus"
    case $target in
        http) printf 'GET /v1/guests/Plant%%20HMI/start?replay=boot HTTP/1.1\r\nHost: hvd\r\nContent-Length: 2\r\n' > "$dir/corpus/seed1"
              printf 'POST /v1/vmf/load HTTP/1.1\r\nHost: 127.0.0.1:7480\r\nX-HV-Request: 1\r\nAuthorization: Bearer x\r\n' > "$dir/corpus/seed2" ;;
        websocket) printf '\x81\x82\x01\x02\x03\x04\x69\x6b\x89\x80\x00\x00\x00\x00' > "$dir/corpus/seed1" ;;
        config) printf '[Hypervisor]\n    "Project"="p"\n[Guests\\guestrtlinux]\n    "Id"="1"\n    "Name"="RT-Linux"\n    "Os"="rt-linux"\n    "RtCores"="auto"\n' > "$dir/corpus/seed1"
                printf '[Guest]\n    "Name"="A \\"b\\""\n[Guest\\Cpu]\n    "Cores"="1"\n; c\n' > "$dir/corpus/seed2" ;;
        events) printf 'signal ping\nwait pong 3 0.5\ncount a\r\nwait ping 18446744073709551615 1e309\n' > "$dir/corpus/seed1" ;;
        # A chrony client request (mode 3, version 4) and a server answer (mode 4).
        # A table as hvd makes it (magic, three events), and one full of waiters.
        table) printf 'VEVH\x03\x00\x00\x00' > "$dir/corpus/seed1"; head -c 56 /dev/zero >> "$dir/corpus/seed1"; printf 'estop' >> "$dir/corpus/seed1"
               head -c 4096 /dev/urandom > "$dir/corpus/seed2" ;;
        # A backup's start as GNU tar writes it (a file, a folder), and the end marker alone.
        tar) d=$(mktemp -d); printf '{}' > "$d/manifest.json"; mkdir "$d/folder"; printf 'x' > "$d/folder/guest.config"
             tar --format=gnu -b 1 -cf "$dir/corpus/seed1" -C "$d" manifest.json folder; rm -rf "$d"
             head -c 1024 /dev/zero > "$dir/corpus/seed2" ;;
        # What cyclictest -q -h leaves with two threads (tab-separated), and with a break.
        cyclictest) printf '# Histogram\n000000 000000\t000000\n000003 000120\t000098\n000004 000005\t000007\n# Total: 000000125 000000105\n# Min Latencies: 00003 00003\n# Avg Latencies: 00003 00003\n# Max Latencies: 00004 00004\n# Histogram Overflows: 00000 00000\n' > "$dir/corpus/seed1"
                    printf '000001 000010\n# Max Latencies: 00912\n# Break thread: 812\n# Break value: 00912\n' > "$dir/corpus/seed2" ;;
        # What oslat -q -z -b 1024 leaves with two vCPUs, and with one.
        oslat) printf 'oslat V 2.40\n        Core:\t 0 1\nCounter Freq:\t 2298 2298 (Mhz)\n    001 (us):\t 76270832 76000000\n    ...\n   1024 (us):\t 0 3 (including overflows)\n     Minimum:\t 1 1 (us)\n     Average:\t 1.000 1.000 (us)\n     Maximum:\t 45 7403 (us)\n' > "$dir/corpus/seed1"
               printf '        Core:\t 1\n    003 (us):\t 10\n     Maximum:\t 3 (us)\n' > "$dir/corpus/seed2" ;;
        ntp) printf '\x23\x00\x06\x20' > "$dir/corpus/seed1"; head -c 44 /dev/zero >> "$dir/corpus/seed1"
             printf '\x24\x01\x00\xec' > "$dir/corpus/seed2"; head -c 44 /dev/urandom >> "$dir/corpus/seed2" ;;
    esac
    log="$dir/run.log"
    set +e
    (cd "$dir" && HV_FUZZ_TARGET=$target "../fuzz-hv" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 corpus > run.log 2>&1)
    rc=$?
    set -e
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    crashes=$(ls "$dir" | grep -cE '^(crash|leak|timeout|oom)-' || true)
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        status=1; tail -30 "$log"
        echo "✘ fuzz $target: ${execs:-0} executions, $crashes crashes (exit $rc; inputs in $dir)"
    else
        echo "✔ fuzz $target: ${execs:-0} executions, 0 crashes"
    fi
done
exit $status
