/*
 * Small helpers every layer of the core uses: the log, the clock and the
 * check of a single name. They call nothing else in the core.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void reg_log(struct registry *r, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->cfg.log)
		r->cfg.log(r->cfg.log_ctx, level, msg);
}

void now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* Never 0, which means "never" where it is kept. */
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 1;
}

int name_check(const char *name)
{
	size_t len = strnlen(name, SHMAP_NAME_MAX + 1);
	if (len == 0)
		return -ENOENT;
	if (len > SHMAP_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EEXIST;
	return 0;
}
