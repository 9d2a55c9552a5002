/*
 * hv's test RTOS image: a multiboot kernel of a few hundred bytes that stands
 * in for VxWorks and RTOS-32 in the tests. It says whether a multiboot loader
 * started it, prints its ready line on the first serial port (COM1, as hv's
 * console), and answers "ping" with "pong" and "mem" with the memory the
 * loader reported. It has no ACPI: hv's stop ladder ends it with QMP quit.
 */
typedef unsigned int u32;

static inline void outb(unsigned short port, unsigned char v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline unsigned char inb(unsigned short port) { unsigned char v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#define COM1 0x3F8

static void putc(char c) { while (!(inb(COM1 + 5) & 0x20)) {} outb(COM1, (unsigned char)c); }
static void puts(const char *s) { for (; *s; s++) { if (*s == '\n') putc('\r'); putc(*s); } }
static void putu(u32 v) { char b[12]; int i = 11; b[i] = 0; do { b[--i] = (char)('0' + v % 10); v /= 10; } while (v && i > 0); puts(b + i); }
static char getc(void) { while (!(inb(COM1 + 5) & 1)) { __asm__ volatile("pause"); } return (char)inb(COM1); }
static int same(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }

void kmain(u32 magic, const u32 *info) {
    outb(COM1 + 1, 0x00);  /* no interrupts */
    outb(COM1 + 3, 0x80);  /* divisor latch */
    outb(COM1 + 0, 0x01);  /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);  /* 8N1 */
    outb(COM1 + 2, 0xC7);  /* FIFOs on */
    u32 kib = 0;
    if (magic == 0x2BADB002 && (info[0] & 1)) kib = info[2] + 1024;  /* mem_upper + the first MiB */
    puts(magic == 0x2BADB002 ? "hv-test-rtos: started by a multiboot loader\n" : "hv-test-rtos: not started by a multiboot loader\n");
    puts("hv-test-rtos: ready\n");
    char line[64];
    int n = 0;
    for (;;) {
        char c = getc();
        if (c != '\r' && c != '\n') {
            if (n < (int)sizeof line - 1) line[n++] = c;
            continue;
        }
        line[n] = 0;
        if (same(line, "ping")) puts("pong\n");
        else if (same(line, "mem")) { puts("mem "); putu(kib / 1024); puts(" MiB\n"); }
        else if (n > 0) puts("?\n");
        n = 0;
    }
}
