/* Messages for the negative errno values the library returns. */
#include "internal.h"

#include <limits.h>
#include <string.h>

const char *shmap_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err == INT_MIN)
		return "unknown error";
	/* strerrordesc_np: a static string, so thread-safe unlike strerror. */
	const char *s = strerrordesc_np(err < 0 ? -err : err);
	return s ? s : "unknown error";
}
