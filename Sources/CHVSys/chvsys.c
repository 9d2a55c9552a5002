#define _GNU_SOURCE
#include <sched.h>
#include <pthread.h>
#include <spawn.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
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

pid_t hv_gettid(void) { return (pid_t)syscall(SYS_gettid); }

int hv_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
}

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <arpa/inet.h>

int hv_tap_open(char *name) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { int e = errno; close(fd); return -e; }
    strncpy(name, ifr.ifr_name, IFNAMSIZ);
    return fd;
}

/* A TAP made inside the network namespace at nspath (/run/netns/NAME): the
   calling thread enters it for TUNSETIFF, so the device is born there and
   never appears in the host's namespace, then returns to its own (the
   descriptor keeps the device wherever the thread goes). vnet_hdr: QEMU gets
   the virtio-net header (offloads, vhost-net). Returns the fd or -errno. */
int hv_netns_tap_open(const char *nspath, char *name, int vnet_hdr) {
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) return -errno;
    int target = open(nspath, O_RDONLY | O_CLOEXEC);
    if (target < 0) { int e = errno; close(self); return -e; }
    if (setns(target, CLONE_NEWNET) != 0) { int e = errno; close(self); close(target); return -e; }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), err = 0;
    if (fd < 0) {
        err = errno;
    } else {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
        strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) { err = errno; close(fd); fd = -1; }
        else strncpy(name, ifr.ifr_name, IFNAMSIZ);
    }
    /* A thread left in the guests' namespace must not go on doing hvd's work. */
    if (setns(self, CLONE_NEWNET) != 0) abort();
    close(self);
    close(target);
    return fd >= 0 ? fd : -err;
}

int hv_send_fd(int sock, long long value, int fd) {
    struct iovec iov = { .iov_base = &value, .iov_len = sizeof value };
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    return n < 0 ? -errno : (int)n;
}

int hv_recv_fd(int sock, long long *value, int *fd) {
    struct iovec iov = { .iov_base = value, .iov_len = sizeof *value };
    char control[CMSG_SPACE(sizeof(int))];
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    *fd = -1;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(c), sizeof(int));
    }
    return (int)n;
}

uint64_t hv_atomic_load64(uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
uint64_t hv_atomic_add64(uint64_t *p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }

#include <sys/eventfd.h>
int hv_eventfd(void) { int fd = eventfd(0, EFD_CLOEXEC); return fd < 0 ? -errno : fd; }
uint16_t hv_atomic_load16(uint16_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
int hv_atomic_cas16(uint16_t *p, uint16_t expected, uint16_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void child_fail(int pipe_fd, int err) {
    ssize_t unused = write(pipe_fd, &err, sizeof err);
    (void)unused;
    _exit(127);
}

pid_t hv_spawn_as(const char *path, char *const argv[], char *const envp[], uid_t uid, gid_t gid,
                  const gid_t *groups, int ngroups, int stdout_fd, int stderr_fd, const int *keep_fds, int nkeep,
                  unsigned long long memlock_bytes, unsigned long long address_space_bytes) {
    if (nkeep < 0 || nkeep > 8) return -EINVAL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -errno;
    sigset_t all, old;
    sigfillset(&all);
    /* No signal handler of ours may run in the child before exec. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
        if (setsid() < 0) child_fail(p[1], errno);
        int null = open("/dev/null", O_RDONLY);
        if (null < 0) child_fail(p[1], errno);
        /* Move our descriptors above the targets (3 .. 3 + nkeep - 1) first so
           dup2 below cannot clobber one we still need. */
        int out = fcntl(stdout_fd, F_DUPFD, 16), err = fcntl(stderr_fd, F_DUPFD, 16);
        int keep[8];
        for (int i = 0; i < nkeep; i++) {
            keep[i] = fcntl(keep_fds[i], F_DUPFD, 16);
            if (keep[i] < 0) child_fail(p[1], errno);
        }
        int pipefd = fcntl(p[1], F_DUPFD_CLOEXEC, 16);
        if (out < 0 || err < 0 || pipefd < 0) child_fail(p[1], errno);
        if (dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) child_fail(pipefd, errno);
        /* The kept descriptors become 3, 4, ... in order (inherited across exec). */
        for (int i = 0; i < nkeep; i++) if (dup2(keep[i], 3 + i) < 0) child_fail(pipefd, errno);
        int first = 3 + nkeep;
        if (syscall(SYS_close_range, first, pipefd - 1, 0) != 0 || syscall(SYS_close_range, pipefd + 1, ~0U, 0) != 0)
            for (int fd = first; fd < 65536; fd++) if (fd != pipefd) close(fd);
        if (memlock_bytes) {
            struct rlimit r = { (rlim_t)memlock_bytes, (rlim_t)memlock_bytes };
            if (setrlimit(RLIMIT_MEMLOCK, &r) != 0) child_fail(pipefd, errno);
        }
        /* The guest's memory limit: all the address space its QEMU may map. */
        if (address_space_bytes) {
            struct rlimit r = { (rlim_t)address_space_bytes, (rlim_t)address_space_bytes };
            if (setrlimit(RLIMIT_AS, &r) != 0) child_fail(pipefd, errno);
        }
        umask(077);
        if (uid != 0) {
            if (setgroups((size_t)ngroups, groups) != 0) child_fail(pipefd, errno);
            if (setresgid(gid, gid, gid) != 0) child_fail(pipefd, errno);
            if (setresuid(uid, uid, uid) != 0) child_fail(pipefd, errno);
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(pipefd, errno);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(path, argv, envp);
        child_fail(pipefd, errno);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(p[1]);
    if (pid < 0) { close(p[0]); return -saved; }
    int child_err = 0;
    ssize_t n;
    do { n = read(p[0], &child_err, sizeof child_err); } while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof child_err) {
        int status;
        waitpid(pid, &status, 0);
        return -child_err;
    }
    return pid;
}

#include <sys/xattr.h>
int hv_fsetxattr(int fd, const char *name, const void *value, size_t size) {
    return fsetxattr(fd, name, value, size, 0) == 0 ? 0 : -errno;
}

#ifndef HV_COMMIT
#define HV_COMMIT "dev"
#endif
const char *hv_build_commit(void) { return HV_COMMIT; }

#include <stdlib.h>
#include <netinet/in.h>

/* A UDP socket (stream: a listening TCP one) bound to addr:port inside the
 * network namespace at nspath (/run/netns/NAME): the calling thread enters
 * it for the socket and bind, then returns to its own (a socket keeps the
 * namespace it was made in). Returns the descriptor or -errno. */
int hv_netns_socket(const char *nspath, const char *addr, int port, int stream) {
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) return -errno;
    int target = open(nspath, O_RDONLY | O_CLOEXEC);
    if (target < 0) { int e = errno; close(self); return -e; }
    if (setns(target, CLONE_NEWNET) != 0) { int e = errno; close(self); close(target); return -e; }
    int err = 0;
    int fd = socket(AF_INET, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err = errno;
    } else {
        int one = 1;
        if (stream) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) err = EINVAL;
        else if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) err = errno;
        else if (stream && listen(fd, 16) != 0) err = errno;
        if (err) { close(fd); fd = -1; }
    }
    /* A thread left in the guests' namespace must not go on doing hvd's work. */
    if (setns(self, CLONE_NEWNET) != 0) abort();
    close(self);
    close(target);
    return fd >= 0 ? fd : -err;
}

/* A process by a descriptor (Linux 5.3): it names that process and no later
   one with the same pid, and polls readable once the process has exited. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
int hv_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return -errno;
    if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0) { int e = errno; close((int)fd); return -e; }
    return (int)fd;
}
int hv_pidfd_send_signal(int pidfd, int sig) {
    return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0 ? 0 : -errno;
}

/* RLIMIT_MEMLOCK's hard limit in bytes (ULLONG_MAX: unlimited). */
#include <sys/resource.h>
unsigned long long hv_memlock_hard_limit(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_MEMLOCK, &r) != 0 || r.rlim_max == RLIM_INFINITY) return ~0ULL;
    return (unsigned long long)r.rlim_max;
}
