#!/bin/sh
# Builds hv's test RTOS image (a multiboot ELF) into $1 with the host's gcc:
# 32-bit, freestanding, no C library (so no multilib is needed).
set -eu
here=$(dirname "$0")
out=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags="-m32 -ffreestanding -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables -nostdlib -O2 -Wall -Wextra -Werror"
gcc $flags -c "$here/boot.S" -o "$tmp/boot.o"
gcc $flags -c "$here/kmain.c" -o "$tmp/kmain.o"
ld -m elf_i386 -T "$here/link.ld" -z noexecstack --no-warn-rwx-segments -o "$out" "$tmp/boot.o" "$tmp/kmain.o"
