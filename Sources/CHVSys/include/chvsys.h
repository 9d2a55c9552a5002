#ifndef CHVSYS_H
#define CHVSYS_H
#include <sys/types.h>

/* GNU extensions that Swift's Glibc module does not export. */
int hv_pin_thread(pid_t tid, const int *cores, int count);
int hv_spawn_setsid_flag(void);
int hv_set_fifo(pid_t tid, int priority);
int hv_sched_policy(pid_t tid);
int hv_sched_priority(pid_t tid);
int hv_thread_affinity(pid_t tid, int *cores, int max);

#include <spawn.h>
/* Closes every descriptor from lowfd up in the child (glibc's addclosefrom_np). */
int hv_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd);
#endif
