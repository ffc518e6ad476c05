/*
 * The reading thread of a fanotify group (fan_thread.h).
 */
#include "fan_thread.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int fan_thread_init(struct fan_thread *t, int group)
{
	t->group = group;
	t->stop = -1;
	t->started = 0;
	if (group < 0)
		return group;
	t->stop = eventfd(0, EFD_CLOEXEC);
	if (t->stop < 0) {
		int res = -errno;
		close(group);
		return res;
	}
	return 0;
}

/* Whether a failed read of the group is worth trying again: the event
 * it was about to deliver was dropped (a permission event: denied), the
 * next may go through. */
static int read_again(int err)
{
	return err != EBADF && err != EFAULT && err != EINVAL;
}

static void *fan_thread_main(void *arg)
{
	struct fan_thread *t = arg;
	char buf[16384] __attribute__((aligned(8)));
	if (t->begin)
		t->begin(t->ctx);
	struct pollfd fds[2] = {{.fd = t->group, .events = POLLIN},
				{.fd = t->stop, .events = POLLIN}};
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		ssize_t len = read(t->group, buf, sizeof(buf));
		if (len < 0 && read_again(errno))
			continue;
		if (len <= 0)
			break;
		t->take(t->ctx, buf, (size_t)len);
		if (t->pause_ns) {
			struct timespec pause = {0, t->pause_ns};
			nanosleep(&pause, NULL);
		}
	}
	return NULL;
}

int fan_thread_start(struct fan_thread *t)
{
	int res = -pthread_create(&t->thread, NULL, fan_thread_main, t);
	t->started = res == 0;
	return res;
}

void fan_thread_free(struct fan_thread *t)
{
	uint64_t one = 1;
	(void)!write(t->stop, &one, sizeof(one));
	if (t->started)
		pthread_join(t->thread, NULL);
	t->started = 0;
	close(t->group);
	close(t->stop);
}
