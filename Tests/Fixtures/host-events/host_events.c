/* A host program on hv's events through include/hv/hv_events.h (no hv, no hvd in the path):
 *   host_events SOCKET NAMES signal EVENT
 *   host_events SOCKET NAMES wait EVENT AFTER SECONDS     (exit 1 at the timeout)
 *   host_events SOCKET NAMES bench PING PONG ROUNDS [TCP_PORT]
 * bench: ROUNDS of signal PING / wait PONG (a relay in the guest answers), then,
 * with a port, ROUNDS one-byte TCP echoes to 127.0.0.1:PORT; medians and p99 in µs. */
#include "hv/hv_events.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *us, long n) {
    qsort(us, (size_t)n, sizeof *us, by_value);
    printf("%s rounds=%ld median_us=%.1f p99_us=%.1f\n", what, n, us[n / 2], us[n * 99 / 100]);
}

static int index_of(struct hv_events *e, const char *name) {
    int i = hv_events_index(e, name);
    if (i < 0) { fprintf(stderr, "host_events: no event %s\n", name); exit(2); }
    return i;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: host_events SOCKET NAMES signal|wait|bench ...\n"); return 2; }
    struct hv_events e;
    int r = hv_events_join(&e, argv[1], argv[2]);
    if (r < 0) { fprintf(stderr, "host_events: join %s: %s\n", argv[1], strerror(-r)); return 3; }
    if (strcmp(argv[3], "signal") == 0) {
        int i = index_of(&e, argv[4]);
        printf("%s %llu\n", argv[4], (unsigned long long)hv_events_signal(&e, i));
    } else if (strcmp(argv[3], "wait") == 0 && argc == 7) {
        int i = index_of(&e, argv[4]);
        uint64_t c = hv_events_wait(&e, i, strtoull(argv[5], NULL, 10), atoi(argv[6]) * 1000);
        if (c == 0) { printf("timeout %s\n", argv[4]); return 1; }
        printf("%s %llu\n", argv[4], (unsigned long long)c);
    } else if (strcmp(argv[3], "bench") == 0 && argc >= 7) {
        int ping = index_of(&e, argv[4]), pong = index_of(&e, argv[5]);
        long rounds = atol(argv[6]);
        if (rounds < 1 || rounds > 1000000) return 2;
        double *us = calloc((size_t)rounds, sizeof *us);
        uint64_t seen = hv_events_count(&e, pong);
        for (long n = 0; n < rounds; n++) {
            double t0 = now_us();
            hv_events_signal(&e, ping);
            uint64_t c = hv_events_wait(&e, pong, seen, 10000);
            if (c == 0) { fprintf(stderr, "host_events: no answer on %s\n", argv[5]); return 1; }
            seen = c;
            us[n] = now_us() - t0;
        }
        report("event", us, rounds);
        if (argc > 7) {
            int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
            struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[7])) };
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("host_events: connect"); return 1; }
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            for (long n = 0; n < rounds; n++) {
                char c = 'x';
                double t0 = now_us();
                if (write(s, &c, 1) != 1 || read(s, &c, 1) != 1) { fprintf(stderr, "host_events: echo failed\n"); return 1; }
                us[n] = now_us() - t0;
            }
            report("tcp", us, rounds);
        }
    } else {
        fprintf(stderr, "host_events: unknown command %s\n", argv[3]);
        return 2;
    }
    hv_events_leave(&e);
    return 0;
}
