#define _GNU_SOURCE
#include <sched.h>
#include <spawn.h>
#include <errno.h>
#include "chvsys.h"

/* Returns 0 or an errno value. */
int hv_pin_thread(pid_t tid, const int *cores, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) if (cores[i] >= 0 && cores[i] < CPU_SETSIZE) CPU_SET(cores[i], &set);
    return sched_setaffinity(tid, sizeof set, &set) == 0 ? 0 : errno;
}

int hv_spawn_setsid_flag(void) { return POSIX_SPAWN_SETSID; }

int hv_set_fifo(pid_t tid, int priority) {
    struct sched_param p = { .sched_priority = priority };
    return sched_setscheduler(tid, SCHED_FIFO, &p) == 0 ? 0 : errno;
}

int hv_sched_policy(pid_t tid) { return sched_getscheduler(tid); }

int hv_sched_priority(pid_t tid) {
    struct sched_param p;
    return sched_getparam(tid, &p) == 0 ? p.sched_priority : -1;
}

/* Fills cores with the CPUs the thread may run on; returns how many, or -errno. */
int hv_thread_affinity(pid_t tid, int *cores, int max) {
    cpu_set_t set;
    if (sched_getaffinity(tid, sizeof set, &set) != 0) return -errno;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++) if (CPU_ISSET(c, &set)) cores[n++] = c;
    return n;
}

int hv_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
}
