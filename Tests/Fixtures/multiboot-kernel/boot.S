/* The multiboot header and entry of hv's test RTOS image (see kmain.c). */
.set MB_MAGIC, 0x1BADB002
.set MB_FLAGS, 0x00000003          /* modules page-aligned, memory map wanted */
.section .multiboot, "a"
.align 4
.long MB_MAGIC
.long MB_FLAGS
.long -(MB_MAGIC + MB_FLAGS)

.section .text
.code32
.global _start
_start:
    mov $stack_top, %esp
    push %ebx                      /* the multiboot information */
    push %eax                      /* the loader's magic */
    call kmain
1:  cli
    hlt
    jmp 1b

.section .bss
.align 16
.skip 16384
stack_top:

.section .note.GNU-stack, "", @progbits
