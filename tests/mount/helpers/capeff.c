/*
 * capeff: exit 0 if this process has CAP_NET_BIND_SERVICE in its effective
 * set, 3 if not, 1 if it cannot tell; for the file-capability test
 * (tests/mount/check_xattr_ns.c), which runs a copy of it carrying
 * security.capability as an unprivileged user.
 */
#include <linux/capability.h>
#include <stdio.h>

int main(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long caps;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			return (caps >> CAP_NET_BIND_SERVICE) & 1 ? 0 : 3;
	return 1;
}
