/*
 * hv_events.h — hv's events for a host program, in the program itself.
 *
 * The program joins one of hvd's doorbell servers (/hv/run/events-host-N.sock,
 * root's only: one per events table, `hv event list --names` says which
 * holds which events) as an ivshmem peer, exactly as a guest's QEMU does (its own socket
 * gives the program one of hvd's host seats: an id and eventfd the guests
 * already know, so programs that come and go use up no peer ids). hvd hands it the events table and every peer's
 * eventfd once; after that a signal is an increment in shared memory and a
 * write to each waiter's eventfd, a wait sleeps on the program's own
 * eventfd, which the guests ring directly. No hvd, no thread, no request per
 * event. Header only; C99 with GCC atomics; Linux.
 *
 *     struct hv_events e;
 *     if (hv_events_join(&e, "/hv/run/events-host-1.sock", "ping,pong") < 0) ...   // `hv event list --names`
 *     int ping = hv_events_index(&e, "ping"), pong = hv_events_index(&e, "pong");
 *     uint64_t seen = hv_events_count(&e, pong);
 *     hv_events_signal(&e, ping);
 *     if (hv_events_wait(&e, pong, seen, 1000) > seen) ...                   // 0: timeout or gone
 *     hv_events_leave(&e);
 *
 * The names are the table's events in slot order as hvd reports them (`hv
 * event list --names`: a line per table, its socket and its names); the
 * join is refused (-EPROTO) unless the table holds exactly those, so a
 * program never trusts names from the table. Events that list the same
 * guests share a table; a program that needs events of two tables joins
 * each (a struct hv_events per table).
 * The table is the memory of the guests its events list too: a hostile one can change counters
 * and waiter entries at will (it can then wake or starve waits on that
 * event, as it could by signalling); this code only compares counters and
 * uses waiter entries as keys among the peers the server announced.
 *
 * The layout (docs/IMAGES.md, "Events"): a header (magic "HVEV" u32 @0,
 * event count u32 @4), then 128-byte slots from byte 64: name [32], counter
 * u64 @32, 40 waiter entries u16 @48 holding peer id + 1 (0 = free).
 *
 * Functions return a negative errno on failure. One thread per struct.
 */
#ifndef HV_EVENTS_H
#define HV_EVENTS_H

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#define HV_EVENTS_MAGIC 0x48564556u
#define HV_EVENTS_CAPACITY 64
#define HV_EVENTS_REGION (1 << 16)
#define HV_EVENTS_HEADER 64
#define HV_EVENTS_SLOT 128
#define HV_EVENTS_NAME 32
#define HV_EVENTS_COUNTER 32
#define HV_EVENTS_WAITERS 48
#define HV_EVENTS_WAITER_ENTRIES 40
#define HV_EVENTS_MAX_PEERS 72

struct hv_events {
    int sock, own;
    int64_t me;
    uint8_t *table;
    int count;
    char names[HV_EVENTS_CAPACITY][HV_EVENTS_NAME];
    int npeers;
    struct { int64_t id; int fd; } peers[HV_EVENTS_MAX_PEERS];
};

/* One server message: a little-endian i64 and perhaps a descriptor. 1, 0 at the end, or -errno. */
static inline int hv_events__recv(int sock, int64_t *value, int *fd) {
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { .iov_base = value, .iov_len = sizeof *value };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    *fd = -1;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN ? -EAGAIN : -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    if (n != (ssize_t)sizeof *value) {
        if (*fd >= 0) close(*fd);
        return 0;
    }
    return 1;
}

static inline void hv_events__forget(struct hv_events *e, int64_t id) {
    for (int i = 0; i < e->npeers; i++)
        if (e->peers[i].id == id) {
            close(e->peers[i].fd);
            e->peers[i] = e->peers[--e->npeers];
            return;
        }
}

/* A peer came (fd >= 0) or went (fd < 0). */
static inline void hv_events__peer(struct hv_events *e, int64_t id, int fd) {
    hv_events__forget(e, id);
    if (fd < 0) return;
    if (id == e->me || e->npeers == HV_EVENTS_MAX_PEERS) { close(fd); return; }
    e->peers[e->npeers].id = id;
    e->peers[e->npeers].fd = fd;
    e->npeers++;
}

/* Takes the server's pending announcements; -EPIPE once it has ended the connection. */
static inline int hv_events__pump(struct hv_events *e) {
    if (e->sock < 0) return -EPIPE;
    for (;;) {
        int64_t v; int fd;
        int r = hv_events__recv(e->sock, &v, &fd);
        if (r == -EAGAIN) return 0;
        if (r <= 0) { close(e->sock); e->sock = -1; return -EPIPE; }
        hv_events__peer(e, (int64_t)le64toh((uint64_t)v), fd);
    }
}

static inline int hv_events__wait_readable(int fd, int ms) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = poll(&p, 1, ms);
    return r > 0 ? 0 : (r == 0 ? -ETIMEDOUT : -errno);
}

static inline uint8_t *hv_events__slot(struct hv_events *e, int i) { return e->table + HV_EVENTS_HEADER + i * HV_EVENTS_SLOT; }
static inline uint64_t *hv_events__counter(struct hv_events *e, int i) { return (uint64_t *)(hv_events__slot(e, i) + HV_EVENTS_COUNTER); }
static inline uint16_t *hv_events__waiter(struct hv_events *e, int i, int n) {
    return (uint16_t *)(hv_events__slot(e, i) + HV_EVENTS_WAITERS + 2 * n);
}

static inline void hv_events_leave(struct hv_events *e) {
    if (e->sock >= 0) close(e->sock);
    if (e->own >= 0) close(e->own);
    for (int i = 0; i < e->npeers; i++) close(e->peers[i].fd);
    if (e->table) munmap(e->table, HV_EVENTS_REGION);
    memset(e, 0, sizeof *e);
    e->sock = e->own = -1;
}

/* Joins the server at `path`; `names` are the events in slot order, comma-separated. */
static inline int hv_events_join(struct hv_events *e, const char *path, const char *names) {
    memset(e, 0, sizeof *e);
    e->sock = e->own = -1;
    /* The names first: at most 64, each 1..31 bytes. */
    for (const char *p = names; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || n >= HV_EVENTS_NAME || e->count == HV_EVENTS_CAPACITY) return -EINVAL;
        memcpy(e->names[e->count++], p, n);
        p = end ? end + 1 : p + n;
    }
    if (e->count == 0) return -EINVAL;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof a.sun_path) return -ENAMETOOLONG;
    strcpy(a.sun_path, path);
    e->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (e->sock < 0) return -errno;
    int r;
    if (connect(e->sock, (struct sockaddr *)&a, sizeof a) < 0) { r = -errno; goto fail; }
    /* Version 0, our id, the table; then the others' doorbells, our own last. */
    int64_t v[3]; int fds[3];
    for (int i = 0; i < 3; i++) {
        if ((r = hv_events__wait_readable(e->sock, 5000)) < 0) goto fail;
        if ((r = hv_events__recv(e->sock, &v[i], &fds[i])) <= 0) { r = r ? r : -EPROTO; goto fail; }
        v[i] = (int64_t)le64toh((uint64_t)v[i]);
        if (i < 2 && fds[i] >= 0) close(fds[i]);
    }
    r = -EPROTO;
    if (v[0] != 0 || v[1] < 0 || v[1] >= 65535 || v[2] != -1 || fds[2] < 0) { if (fds[2] >= 0) close(fds[2]); goto fail; }
    e->me = v[1];
    struct stat st;
    if (fstat(fds[2], &st) < 0 || st.st_size < HV_EVENTS_REGION) { close(fds[2]); goto fail; }
    void *m = mmap(NULL, HV_EVENTS_REGION, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0);
    close(fds[2]);
    if (m == MAP_FAILED) { r = -errno; goto fail; }
    e->table = m;
    /* The table must hold exactly the names we were given (a check, never a parse). */
    if (*(volatile uint32_t *)e->table != htole32(HV_EVENTS_MAGIC) || *(volatile uint32_t *)(e->table + 4) != htole32((uint32_t)e->count))
        goto fail;
    for (int i = 0; i < e->count; i++)
        if (memcmp(hv_events__slot(e, i), e->names[i], HV_EVENTS_NAME) != 0) goto fail;
    for (int i = 0; i < HV_EVENTS_MAX_PEERS + 1 && e->own < 0; i++) {
        int64_t id; int fd;
        if ((r = hv_events__wait_readable(e->sock, 5000)) < 0) goto fail;
        if ((r = hv_events__recv(e->sock, &id, &fd)) <= 0) { r = r ? r : -EPROTO; goto fail; }
        id = (int64_t)le64toh((uint64_t)id);
        if (id == e->me && fd >= 0) e->own = fd;
        else hv_events__peer(e, id, fd);
    }
    if (e->own < 0) { r = -EPROTO; goto fail; }
    return 0;
fail:
    hv_events_leave(e);
    return r;
}

/* The event's slot index, or -ENOENT. */
static inline int hv_events_index(const struct hv_events *e, const char *name) {
    for (int i = 0; i < e->count; i++)
        if (strncmp(e->names[i], name, HV_EVENTS_NAME) == 0) return i;
    return -ENOENT;
}

static inline uint64_t hv_events_count(struct hv_events *e, int i) {
    if (i < 0 || i >= e->count) return 0;
    return __atomic_load_n(hv_events__counter(e, i), __ATOMIC_SEQ_CST);
}

/* Increments event i and rings every waiter but ourselves; the new count, 0 on error. */
static inline uint64_t hv_events_signal(struct hv_events *e, int i) {
    if (i < 0 || i >= e->count || hv_events__pump(e) < 0) return 0;
    uint64_t c = __atomic_add_fetch(hv_events__counter(e, i), 1, __ATOMIC_SEQ_CST);
    uint64_t one = 1;
    for (int n = 0; n < HV_EVENTS_WAITER_ENTRIES; n++) {
        uint16_t w = __atomic_load_n(hv_events__waiter(e, i, n), __ATOMIC_SEQ_CST);
        if (w == 0 || w - 1 == e->me) continue;
        for (int k = 0; k < e->npeers; k++)
            if (e->peers[k].id == w - 1) { ssize_t ignored = write(e->peers[k].fd, &one, sizeof one); (void)ignored; }
    }
    return c;
}

static inline int64_t hv_events__now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until event i's counter passes `after`: the counter, or 0 at the
 * timeout (ms, -1 = none) or when the server has gone. */
static inline uint64_t hv_events_wait(struct hv_events *e, int i, uint64_t after, int timeout_ms) {
    if (i < 0 || i >= e->count) return 0;
    /* Registered once; with every entry taken nobody can ring us: look every 10 ms. */
    uint16_t mine = (uint16_t)(e->me + 1);
    int registered = 0;
    for (int n = 0; n < HV_EVENTS_WAITER_ENTRIES && !registered; n++)
        registered = __atomic_load_n(hv_events__waiter(e, i, n), __ATOMIC_SEQ_CST) == mine;
    for (int n = 0; n < HV_EVENTS_WAITER_ENTRIES && !registered; n++) {
        uint16_t zero = 0;
        registered = __atomic_compare_exchange_n(hv_events__waiter(e, i, n), &zero, mine, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : hv_events__now_ms() + timeout_ms;
    for (;;) {
        uint64_t c = __atomic_load_n(hv_events__counter(e, i), __ATOMIC_SEQ_CST);
        if (c > after) return c;
        int64_t left = deadline - hv_events__now_ms();
        if (left <= 0 || hv_events__pump(e) < 0) return 0;
        if (!registered && left > 10) left = 10;
        struct pollfd p[2] = { { .fd = e->own, .events = POLLIN }, { .fd = e->sock, .events = POLLIN } };
        if (poll(p, 2, left > 60000 ? 60000 : (int)left) > 0 && (p[0].revents & POLLIN)) {
            uint64_t drain;
            ssize_t ignored = read(e->own, &drain, sizeof drain);
            (void)ignored;
        }
    }
}

#endif
