/*
 * Waiting for an fd without arming a timer per wait.
 *
 * A poll(2) with a short time-out arms a high-resolution timer on every call
 * and cancels it when the fd becomes ready; on the VMs this project runs on,
 * that costs microseconds per wait. So a deadline that many waits share is
 * kept by a signal instead: a POSIX timer aimed at the waiting thread
 * (SIGEV_THREAD_ID) sends VT_WAIT_SIGNAL, which that thread keeps blocked
 * except inside ppoll(2) (which unblocks it atomically, so a signal that came
 * early is not lost), and whose handler does nothing: it only ends the wait
 * with EINTR, after which the waiter asks the timer whether it expired.
 *
 * The user: the lingering watcher of watcher.c, which arms a one-shot timer
 * when a stretch of calls starts and waits for its socket in ppoll without a
 * time-out. (A synchronous client's timed waits could do the same with a
 * periodic per-thread ticker; measured, that saved ~0.3 us per round trip,
 * too little for a signal ticking in every client process.)
 *
 * The handler is installed once per process and only if nobody else handles
 * the signal (VT_WAIT_SIGNAL is SIGRTMIN + 9); otherwise a watcher does not
 * linger. libuv clears the signal mask of the processes it spawns, so
 * children do not inherit the blocked signal.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

static void on_wait_signal(int sig) { (void)sig; }

bool vt_wait_signal_ready(void) {
  static int state = 0; /* 0 unknown, 1 ours, -1 someone else's */
  if (state == 0) {
    struct sigaction old, sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_wait_signal;
    sigemptyset(&sa.sa_mask);
    state = sigaction(VT_WAIT_SIGNAL, NULL, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO) &&
                    sigaction(VT_WAIT_SIGNAL, &sa, NULL) == 0
                ? 1
                : -1;
  }
  return state == 1;
}

bool vt_wait_timer_create(timer_t *timer, sigset_t *wait_mask) {
  struct sigevent sev;
  sigset_t block;
  if (!vt_wait_signal_ready()) return false;
  sigemptyset(&block);
  sigaddset(&block, VT_WAIT_SIGNAL);
  if (pthread_sigmask(SIG_BLOCK, &block, wait_mask) != 0) return false;
  sigdelset(wait_mask, VT_WAIT_SIGNAL);
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = VT_WAIT_SIGNAL;
  sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  return timer_create(CLOCK_MONOTONIC, &sev, timer) == 0;
}

void vt_wait_timer_arm(timer_t timer, int64_t ns) {
  struct itimerspec its = {{0, 0}, {ns / 1000000000, ns % 1000000000}};
  timer_settime(timer, 0, &its, NULL);
}
