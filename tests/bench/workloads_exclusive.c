/*
 * shmapbench: the exclusive backing files workload (issue 13). open-close
 * opens the file named by DIR read-only and closes it, as often as it can
 * in -t ms: what an open costs a program beside a mount that guards its
 * in-use backing files (an unrelated file, an idle mapping's backing
 * file), and what an open through the mount costs. An open refused with
 * EPERM (an in-use backing file) counts as done, and the note says how
 * many were; any other error fails the workload.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "bench.h"

int bench_open_close(const struct bench_opts *o, struct bench_result *r)
{
	double secs = (double)o->duration_ms / 1000.0;
	double t0 = bench_now(), t = t0;
	unsigned long ops = 0, refused = 0;
	while (t - t0 < secs) {
		/* Check the clock every 64 opens: it costs as much as one. */
		for (int i = 0; i < 64; i++, ops++) {
			int fd = open(o->dir, O_RDONLY | O_CLOEXEC);
			if (fd >= 0)
				close(fd);
			else if (errno == EPERM)
				refused++;
			else
				return -errno;
		}
		t = bench_now();
	}
	bench_rate(r, (double)ops, t - t0, "opens/s");
	snprintf(r->note, sizeof(r->note), "refused=%lu", refused);
	return 0;
}
