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
/* The calling thread's id (what /proc/PID/task lists). */
pid_t hv_gettid(void);

#include <spawn.h>
/* Closes every descriptor from lowfd up in the child (glibc's addclosefrom_np). */
int hv_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd);

/* A TAP device (no packet info); returns its fd or -errno. name: in/out, IFNAMSIZ bytes. */
int hv_tap_open(char *name);
/* A UDP (stream: listening TCP) socket bound inside the network namespace at nspath; -errno on failure. */
int hv_netns_socket(const char *nspath, const char *addr, int port, int stream);
/* A TAP born inside the network namespace at nspath (vnet_hdr: with the virtio-net header); fd or -errno. name: in/out, IFNAMSIZ bytes. */
int hv_netns_tap_open(const char *nspath, char *name, int vnet_hdr);
/* Sends/receives a descriptor over a Unix socket with an 8-byte little-endian value. */
int hv_send_fd(int sock, long long value, int fd);
/* Receives one 8-byte value and an optional descriptor (*fd = -1 if none); returns bytes read or -errno. */
int hv_recv_fd(int sock, long long *value, int *fd);

/* 64-bit atomics on shared memory (the events table), sequentially consistent. */
#include <stdint.h>
uint64_t hv_atomic_load64(uint64_t *p);
uint64_t hv_atomic_add64(uint64_t *p, uint64_t v);
uint16_t hv_atomic_load16(uint16_t *p);
/* Stores desired if *p == expected; returns whether it did. */
int hv_atomic_cas16(uint16_t *p, uint16_t expected, uint16_t desired);
/* An eventfd (close-on-exec), or -errno. */
int hv_eventfd(void);

/* Starts path with argv/envp as uid/gid with exactly the supplementary groups
   given, in a session of its own, like posix_spawn with setsid: stdin from
   /dev/null, fds stdout_fd/stderr_fd as 1 and 2, keep_fd (if >= 0) as 3,
   every other descriptor closed, signals default and unblocked, umask 077,
   no new privileges, RLIMIT_MEMLOCK unlimited when unlimited_memlock (the
   guest's locked RAM: the limit survives the change of user). uid 0 keeps
   root. Between fork and exec only async-signal-safe calls. Returns the pid,
   or -errno (the child's failure comes back through a close-on-exec pipe). */
/* fsetxattr (sys/xattr.h is not in Swift's Glibc module); 0 or -errno. */
int hv_fsetxattr(int fd, const char *name, const void *value, size_t size);

/* pidfd_open(2) (close-on-exec) and pidfd_send_signal(2); a descriptor or 0, else -errno. */
int hv_pidfd_open(pid_t pid);
unsigned long long hv_memlock_hard_limit(void);
int hv_pidfd_send_signal(int pidfd, int sig);

pid_t hv_spawn_as(const char *path, char *const argv[], char *const envp[], uid_t uid, gid_t gid,
                  const gid_t *groups, int ngroups, int stdout_fd, int stderr_fd, const int *keep_fds, int nkeep,
                  unsigned long long memlock_bytes, unsigned long long address_space_bytes);

/* The commit this binary was built from: scripts/package.sh passes
   -Xcc -DHV_COMMIT=\"<sha>\"; a development build says "dev". */
const char *hv_build_commit(void);
#endif
