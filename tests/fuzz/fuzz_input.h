/*
 * Reading a fuzzer's input as a stream of little numbers, names and
 * hostile values (huge offsets, sizes that overflow, names with '/' or
 * 256 bytes). Past the end of the input every read gives 0, so that any
 * prefix of an input is an input too.
 */
#ifndef SHMAPFS_FUZZ_INPUT_H
#define SHMAPFS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct input {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t in_u8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint64_t in_bytes_le(struct input *in, int count)
{
	uint64_t v = 0;
	for (int i = 0; i < count; i++)
		v |= (uint64_t)in_u8(in) << (8 * i);
	return v;
}

static inline uint16_t in_u16(struct input *in)
{
	return (uint16_t)in_bytes_le(in, 2);
}

static inline uint32_t in_u32(struct input *in)
{
	return (uint32_t)in_bytes_le(in, 4);
}

static inline uint64_t in_u64(struct input *in)
{
	return in_bytes_le(in, 8);
}

/* An offset or length: mostly small, sometimes at the edges of types. */
static inline uint64_t in_off(struct input *in)
{
	uint8_t kind = in_u8(in);
	switch (kind % 10) {
	case 0:
	case 1:
	case 2:
		return in_u8(in);
	case 3:
	case 4:
		return in_u16(in);
	case 5: /* around a page boundary */
		kind = in_u8(in) % 80;
		return (uint64_t)kind * 4096 + (in_u8(in) % 3) - 1;
	case 6:
		return in_u64(in);
	case 7:
		return (uint64_t)INT64_MAX - in_u8(in) + 1;
	case 8:
		return UINT64_MAX - in_u8(in);
	default:
		return (uint64_t)1 << (in_u8(in) % 64);
	}
}

#endif
