/*
 * hv-comm: the communication subsystem inside a Linux guest of hv.
 *   hv-comm shm list
 *   hv-comm shm read NAME [OFFSET [LENGTH]]     text up to the first NUL, or LENGTH bytes
 *   hv-comm shm write NAME OFFSET TEXT          writes TEXT and a NUL
 *   hv-comm event list
 *   hv-comm event wait NAME [TIMEOUT_SECONDS]   exit 0 when signalled, 1 on timeout
 *   hv-comm event signal NAME
 *   hv-comm event relay IN OUT [COUNT]          signals OUT each time IN is signalled (0: forever)
 *   hv-comm bench event PING PONG ROUNDS        signals PING, waits for PONG, ROUNDS times: round trips in µs
 *   hv-comm bench udp ADDRESS PORT ROUNDS       one-byte UDP echo round trips to ADDRESS:PORT, in µs
 *   hv-comm udp-echo PORT                       sends every datagram back (the other side of bench udp)
 * HV_COMM_WAKE=poll: event waits sleep in poll() instead of a blocking read().
 * It learns its regions and events from the words hv gives the guest
 * (hv.shm=NAME@SLOT,… hv.ev=SLOT,…) on the kernel command line or in fw_cfg
 * opt/hv/comm. Regions are the BAR2 of ivshmem PCI devices, mapped through
 * sysfs. Events come in tables, one per set of events listing the same
 * guests (a guest has the tables of its own sets and no other): each is
 * the BAR2 of an ivshmem-doorbell device, rung through the hv_ivshmem
 * module's /dev/hv_ivshmem.SLOT.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EV_MAGIC 0x48564556u
#define EV_HEADER 64
#define EV_SLOT 128
#define EV_COUNTER 32
#define EV_WAITERS 48      /* u16 entries: peer id + 1, 0 = free */
#define EV_WAITER_ENTRIES 40
#define EV_CAPACITY 64     /* slots in the 64 KiB table */

static char words[4096];

static void load_words(void) {
    const char *files[] = { "/proc/cmdline", "/sys/firmware/qemu_fw_cfg/by_name/opt/hv/comm/raw" };
    size_t used = 0;
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f) continue;
        used += fread(words + used, 1, sizeof(words) - used - 2, f);
        words[used++] = ' ';
        fclose(f);
    }
    words[used] = 0;
}

/* The value of "key=" among the words, copied into out. */
static int word(const char *key, char *out, size_t n) {
    size_t k = strlen(key);
    for (const char *p = words; (p = strstr(p, key)); p += k) {
        if (p != words && p[-1] != ' ' && p[-1] != '\n') continue;
        p += k;
        size_t i = 0;
        while (p[i] && p[i] != ' ' && p[i] != '\n' && i + 1 < n) { out[i] = p[i]; i++; }
        out[i] = 0;
        return 1;
    }
    return 0;
}

static void die(const char *msg) { fprintf(stderr, "hv-comm: %s\n", msg); exit(2); }

/* Maps BAR2 of the ivshmem device in PCI slot `slot` (hex). */
static void *map_bar2(const char *slot, size_t *size) {
    char path[256];
    snprintf(path, sizeof path, "/sys/bus/pci/devices/0000:00:%s.0/enable", slot);
    int fd = open(path, O_WRONLY);
    if (fd >= 0) { if (write(fd, "1", 1) < 0) {} close(fd); }
    snprintf(path, sizeof path, "/sys/bus/pci/devices/0000:00:%s.0/resource2", slot);
    fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0) { fprintf(stderr, "hv-comm: %s: %s\n", path, strerror(errno)); exit(2); }
    struct stat st;
    fstat(fd, &st);
    *size = (size_t)st.st_size;
    void *p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) die("cannot map the shared memory");
    return p;
}

static void *region(const char *name, size_t *size) {
    char list[1024];
    if (!word("hv.shm=", list, sizeof list)) die("this guest has no shared-memory regions (no hv.shm=)");
    for (char *item = strtok(list, ","); item; item = strtok(NULL, ",")) {
        char *at = strchr(item, '@');
        if (!at) continue;
        *at = 0;
        if (strcmp(item, name) == 0) return map_bar2(at + 1, size);
    }
    fprintf(stderr, "hv-comm: no region named %s\n", name);
    exit(2);
}

/* The guest's events tables: its doorbell devices' slots from hv.ev=, each
   table mapped once and its doorbell opened when first rung or slept on. */
#define EV_MAX_TABLES 4
struct table { char slot[3]; uint8_t *t; int fd; uint32_t me; };
static struct table tables[EV_MAX_TABLES];
static int ntables = -1;

static void load_tables(void) {
    char list[64];
    if (ntables >= 0) return;
    if (!word("hv.ev=", list, sizeof list)) die("this guest has no events (no hv.ev=)");
    ntables = 0;
    for (char *item = strtok(list, ","); item; item = strtok(NULL, ",")) {
        /* Two hex digits: the slot names a sysfs path and a device node. */
        if (strlen(item) != 2 || !strchr("0123456789abcdef", item[0]) || !strchr("0123456789abcdef", item[1]))
            die("hv.ev= names a slot that is not two hex digits");
        if (ntables == EV_MAX_TABLES) die("hv.ev= names more events tables than hv gives a guest");
        struct table *tb = &tables[ntables++];
        memcpy(tb->slot, item, 3);
        size_t size;
        tb->t = map_bar2(tb->slot, &size);
        tb->fd = -1;
        if (size < EV_HEADER + EV_CAPACITY * EV_SLOT) die("an events table is smaller than its slots");
        if (*(volatile uint32_t *)tb->t != EV_MAGIC) die("an events table is not initialised (is the VMF loaded?)");
    }
    if (ntables == 0) die("this guest has no events (hv.ev= is empty)");
}

/* The table is memory every guest of its set may write: its event count
   is bounded by the slots there are, never trusted to stay inside the map. */
static uint32_t event_count(uint8_t *t) {
    uint32_t n = *(volatile uint32_t *)(t + 4);
    return n > EV_CAPACITY ? EV_CAPACITY : n;
}

/* An event: its table and its slot there. */
struct ev { struct table *tb; int i; };

static struct ev find_event(const char *name) {
    load_tables();
    for (int k = 0; k < ntables; k++) {
        uint8_t *t = tables[k].t;
        uint32_t n = event_count(t);
        for (uint32_t i = 0; i < n; i++)
            if (strncmp((char *)(t + EV_HEADER + i * EV_SLOT), name, 31) == 0) return (struct ev){ &tables[k], (int)i };
    }
    fprintf(stderr, "hv-comm: no event named %s (this guest has only the events that list it)\n", name);
    exit(2);
}

static uint64_t *counter(uint8_t *t, int i) { return (uint64_t *)(t + EV_HEADER + i * EV_SLOT + EV_COUNTER); }
static uint16_t *waiter(uint8_t *t, int i, int n) { return (uint16_t *)(t + EV_HEADER + i * EV_SLOT + EV_WAITERS + 2 * n); }

/* Registers this peer as a waiter of event i (once). */
static void add_waiter(uint8_t *t, int i, uint32_t me) {
    uint16_t v = (uint16_t)(me + 1);
    for (int n = 0; n < EV_WAITER_ENTRIES; n++)
        if (__atomic_load_n(waiter(t, i, n), __ATOMIC_SEQ_CST) == v) return;
    for (int n = 0; n < EV_WAITER_ENTRIES; n++) {
        uint16_t zero = 0;
        if (__atomic_compare_exchange_n(waiter(t, i, n), &zero, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return;
    }
    die("too many waiters on this event");
}

/* The table's doorbell: /dev/hv_ivshmem.SLOT, opened once; learns our peer id. */
static int doorbell(struct table *tb) {
    if (tb->fd >= 0) return tb->fd;
    char path[64];
    snprintf(path, sizeof path, "/dev/hv_ivshmem.%s", tb->slot);
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "hv-comm: %s: %s (load the hv_ivshmem module: modprobe hv_ivshmem)\n", path, strerror(errno));
        exit(2);
    }
    uint32_t state[4];
    if (read(fd, state, sizeof state) != sizeof state) die("cannot read the doorbell device");
    tb->me = state[2];
    tb->fd = fd;
    return fd;
}

/* hv_ivshmem's read timeout for this file, in ms (0: never). */
#define HV_IVSHMEM_TIMEOUT _IOW('h', 1, uint32_t)

/* Sleeps until the doorbell's next interrupt or `ms` have passed. A blocked
 * read() is woken straight from the hard interrupt (one switch less on
 * PREEMPT_RT than poll()); a module without the timeout call gets poll(),
 * and so does HV_COMM_WAKE=poll (bench/comm compares the two). */
static void doorbell_sleep(int fd, uint32_t ms) {
    static uint32_t set = 0;
    static int have_timeout = -1;
    uint32_t state[4];
    if (have_timeout < 0) {
        const char *wake = getenv("HV_COMM_WAKE");
        have_timeout = !(wake && strcmp(wake, "poll") == 0);
    }
    if (have_timeout && ms != set) {
        if (ioctl(fd, HV_IVSHMEM_TIMEOUT, &ms) == 0) set = ms;
        else have_timeout = 0;
    }
    if (!have_timeout) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)ms) <= 0) return;
    }
    if (read(fd, state, sizeof state) < 0 && errno != EINTR && errno != ETIMEDOUT) die("read /dev/hv_ivshmem");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A wait's TIMEOUT_SECONDS: a number from 0 to a day (so its milliseconds fit the driver's u32). */
static double seconds(const char *text) {
    char *end;
    double s = strtod(text, &end);
    if (end == text || *end || !(s >= 0 && s <= 86400)) die("TIMEOUT_SECONDS must be a number from 0 to 86400");
    return s;
}

static int event_wait(const char *name, double timeout) {
    struct ev e = find_event(name);
    int fd = doorbell(e.tb);
    uint64_t seen = __atomic_load_n(counter(e.tb->t, e.i), __ATOMIC_SEQ_CST);
    add_waiter(e.tb->t, e.i, e.tb->me);
    double deadline = now() + timeout;
    for (;;) {
        uint64_t c = __atomic_load_n(counter(e.tb->t, e.i), __ATOMIC_SEQ_CST);
        if (c > seen) { printf("%s signalled (count %llu)\n", name, (unsigned long long)c); return 0; }
        double left = deadline - now();
        if (left <= 0) { fprintf(stderr, "hv-comm: %s was not signalled within %.0f s\n", name, timeout); return 1; }
        doorbell_sleep(fd, (uint32_t)(left * 1000) + 1);
    }
}

/* Increments the event and rings every waiter but ourselves (on its own
   table's doorbell: the others' peer ids mean nothing there); the new count. */
static uint64_t signal_event(struct ev e) {
    int fd = doorbell(e.tb);
    uint64_t c = __atomic_add_fetch(counter(e.tb->t, e.i), 1, __ATOMIC_SEQ_CST);
    for (int n = 0; n < EV_WAITER_ENTRIES; n++) {
        uint16_t v = __atomic_load_n(waiter(e.tb->t, e.i, n), __ATOMIC_SEQ_CST);
        if (v == 0 || v - 1u == e.tb->me) continue;
        uint32_t bell = (uint32_t)(v - 1u) << 16;
        if (write(fd, &bell, sizeof bell) != sizeof bell) die("cannot ring the doorbell");
    }
    return c;
}

static int event_signal(const char *name) {
    uint64_t c = signal_event(find_event(name));
    printf("signalled %s (count %llu)\n", name, (unsigned long long)c);
    return 0;
}

/* Sleeps on the event's doorbell until its counter passes `seen`; returns the new count. */
static uint64_t wait_past(struct ev e, uint64_t seen) {
    uint64_t c;
    int fd = doorbell(e.tb);
    while ((c = __atomic_load_n(counter(e.tb->t, e.i), __ATOMIC_SEQ_CST)) <= seen)
        doorbell_sleep(fd, 1000);
    return c;
}

/* A reflector without a process per round (for round-trip measurements). */
static int event_relay(const char *in, const char *out, long count) {
    struct ev i = find_event(in), o = find_event(out);
    doorbell(i.tb);
    doorbell(o.tb);
    add_waiter(i.tb->t, i.i, i.tb->me);
    uint64_t seen = __atomic_load_n(counter(i.tb->t, i.i), __ATOMIC_SEQ_CST);
    for (long n = 0; count == 0 || n < count; n++) {
        seen = wait_past(i, seen);
        signal_event(o);
    }
    return 0;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "NAME rounds=N median_us=M p99_us=P": what bench/comm reads. */
static int report(const char *what, double *us, long n) {
    qsort(us, (size_t)n, sizeof *us, by_value);
    long p99 = (long)(0.99 * (double)(n - 1) + 0.5);
    printf("%s rounds=%ld median_us=%.1f p99_us=%.1f\n", what, n, us[n / 2], us[p99]);
    free(us);
    return 0;
}

static double *samples(long rounds) {
    if (rounds < 1 || rounds > 1000000) die("ROUNDS must be 1 to 1000000");
    double *us = malloc((size_t)rounds * sizeof *us);
    if (!us) die("out of memory");
    return us;
}

/* Round trips through another guest's relay: signal PING, wait for PONG. */
static int bench_event(const char *ping, const char *pong, long rounds) {
    struct ev pi = find_event(ping), po = find_event(pong);
    doorbell(pi.tb);
    doorbell(po.tb);
    add_waiter(po.tb->t, po.i, po.tb->me);
    double *us = samples(rounds);
    uint64_t seen = __atomic_load_n(counter(po.tb->t, po.i), __ATOMIC_SEQ_CST);
    for (long n = 0; n < rounds; n++) {
        double t0 = now();
        signal_event(pi);
        seen = wait_past(po, seen);
        us[n] = (now() - t0) * 1e6;
    }
    return report("event", us, rounds);
}

static int udp_socket(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) die("socket");
    return s;
}

/* The same exchange over the network: one byte out, the same byte back. */
static int bench_udp(const char *address, int port, long rounds) {
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, address, &to.sin_addr) != 1) die("not an IPv4 address");
    int s = udp_socket();
    if (connect(s, (struct sockaddr *)&to, sizeof to) != 0) die("connect");
    double *us = samples(rounds);
    for (long n = 0; n < rounds; n++) {
        char b = 'x', r = 0;
        double t0 = now();
        if (send(s, &b, 1, 0) != 1) die("send");
        struct pollfd p = { .fd = s, .events = POLLIN };
        if (poll(&p, 1, 2000) <= 0 || recv(s, &r, 1, 0) != 1 || r != b) die("no echo within 2 s");
        us[n] = (now() - t0) * 1e6;
    }
    return report("udp", us, rounds);
}

static int udp_echo(int port) __attribute__((noreturn));
static int udp_echo(int port) {
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    int s = udp_socket();
    if (bind(s, (struct sockaddr *)&me, sizeof me) != 0) die("bind");
    for (;;) {
        char b[64];
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, b, sizeof b, 0, (struct sockaddr *)&from, &len);
        if (n > 0 && sendto(s, b, (size_t)n, 0, (struct sockaddr *)&from, len) < 0 && errno != EINTR) die("sendto");
        if (n < 0 && errno != EINTR) die("recvfrom");
    }
}

static void usage(void) {
    fprintf(stderr, "usage: hv-comm shm list | shm read NAME [OFFSET [LENGTH]] | shm write NAME OFFSET TEXT\n"
                    "       hv-comm event list | event wait NAME [TIMEOUT] | event signal NAME | event relay IN OUT [COUNT]\n"
                    "       hv-comm bench event PING PONG ROUNDS | bench udp ADDRESS PORT ROUNDS | udp-echo PORT\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 3) usage();
    if (strcmp(argv[1], "udp-echo") == 0) return udp_echo(atoi(argv[2]));
    load_words();
    if (strcmp(argv[1], "bench") == 0 && argc > 5) {
        if (strcmp(argv[2], "event") == 0) return bench_event(argv[3], argv[4], atol(argv[5]));
        if (strcmp(argv[2], "udp") == 0) return bench_udp(argv[3], atoi(argv[4]), atol(argv[5]));
    }
    if (strcmp(argv[1], "shm") == 0) {
        if (strcmp(argv[2], "list") == 0) {
            char list[1024];
            if (word("hv.shm=", list, sizeof list)) printf("%s\n", list);
            return 0;
        }
        if (argc < 4) usage();
        size_t size;
        uint8_t *p = region(argv[3], &size);
        size_t off = argc > 4 ? strtoul(argv[4], NULL, 0) : 0;
        if (off >= size) die("offset beyond the region");
        if (strcmp(argv[2], "read") == 0) {
            size_t len = argc > 5 ? strtoul(argv[5], NULL, 0) : strnlen((char *)p + off, size - off);
            if (len > size - off) len = size - off;
            fwrite(p + off, 1, len, stdout);
            if (argc <= 5) putchar('\n');
            return 0;
        }
        if (strcmp(argv[2], "write") == 0 && argc > 5) {
            size_t len = strlen(argv[5]) + 1;
            if (len > size - off) die("text beyond the region");
            memcpy(p + off, argv[5], len);
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            return 0;
        }
        usage();
    }
    if (strcmp(argv[1], "event") == 0) {
        if (strcmp(argv[2], "list") == 0) {
            load_tables();
            for (int k = 0; k < ntables; k++) {
                uint8_t *t = tables[k].t;
                uint32_t n = event_count(t);
                for (uint32_t i = 0; i < n; i++)
                    printf("%.31s %llu\n", (char *)(t + EV_HEADER + i * EV_SLOT), (unsigned long long)*counter(t, (int)i));
            }
            return 0;
        }
        if (argc < 4) usage();
        if (strcmp(argv[2], "wait") == 0) return event_wait(argv[3], argc > 4 ? seconds(argv[4]) : 60);
        if (strcmp(argv[2], "signal") == 0) return event_signal(argv[3]);
        if (strcmp(argv[2], "relay") == 0 && argc > 4) return event_relay(argv[3], argv[4], argc > 5 ? atol(argv[5]) : 0);
    }
    usage();
    return 2;
}
