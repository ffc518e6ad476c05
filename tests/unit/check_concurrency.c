/*
 * Unit tests of the core registry, threads racing: writes serialized per
 * mapping, writers racing for the last of the capacity, truncates racing
 * writers, and namespace operations racing on memory- and file-backed
 * registries. No mount: the core is driven directly, on memory-backed
 * registries unless a test says otherwise; the fixture is
 * registry_fixture.h.
 */
#include "registry_fixture.h"
#include "util.h"

#include <check.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITERS 6
#define RECORD	10000 /* unaligned: spans pages, so a torn copy would show */
#define SLOTS	5

struct writer_arg {
	pthread_barrier_t *start; /* all threads go at once */
	struct node *n;
	int id;
	int rounds;
	int bad; /* records seen torn (readers) or writes failed */
};

static void *record_writer(void *p)
{
	struct writer_arg *a = p;
	static __thread char rec[RECORD];
	memset(rec, 'A' + a->id, sizeof(rec));
	if (a->start)
		pthread_barrier_wait(a->start);
	for (int i = 0; i < a->rounds; i++) {
		uint64_t off = 7 + (uint64_t)((i * 3 + a->id) % SLOTS) * RECORD;
		if (registry_write(R, a->n, rec, sizeof(rec), off) != 0)
			a->bad++;
	}
	return NULL;
}

/* Is each record all one writer's byte (or all zero, never written)? */
static int torn_records(struct node *n)
{
	static __thread char buf[SLOTS * RECORD];
	size_t got;
	if (registry_read(R, n, buf, sizeof(buf), 7, &got) != 0)
		return 1;
	int torn = 0;
	for (size_t r = 0; r < got / RECORD; r++) {
		const char *rec = buf + r * RECORD;
		for (size_t i = 1; i < RECORD; i++)
			if (rec[i] != rec[0]) {
				torn++;
				break;
			}
	}
	return torn;
}

static void *record_reader(void *p)
{
	struct writer_arg *a = p;
	pthread_barrier_wait(a->start);
	for (int i = 0; i < a->rounds; i++)
		a->bad += torn_records(a->n);
	return NULL;
}

START_TEST(writes_serialized)
{
	struct node *f = mkfile(R, root(), "f");
	pthread_t t[WRITERS + 2];
	struct writer_arg args[WRITERS + 2];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, WRITERS + 2);
	for (int i = 0; i < WRITERS + 2; i++) {
		args[i] = (struct writer_arg){
		    .start = &start, .n = f, .id = i, .rounds = 500};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL,
				   i < WRITERS ? record_writer : record_reader,
				   &args[i]),
		    0);
	}
	for (int i = 0; i < WRITERS + 2; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(args[i].bad == 0, "thread %d: %d bad", i,
			      args[i].bad);
	}
	pthread_barrier_destroy(&start);
	ck_assert_int_eq(torn_records(f), 0);
	ck_assert_uint_eq(getattr(R, f).st_size, 7 + SLOTS * RECORD);
	registry_forget(R, f, 1);
}
END_TEST

static void *fill_until_full(void *p)
{
	struct writer_arg *a = p;
	static __thread char page[PAGE];
	uint64_t off = 0;
	while (registry_write(R, a->n, page, sizeof(page), off) == 0)
		off += sizeof(page);
	a->rounds = (int)(off / PAGE);
	return NULL;
}

/* Writers racing for the last of the capacity never overcommit it. */
START_TEST(capacity_race)
{
	pthread_t t[WRITERS];
	struct writer_arg args[WRITERS];
	char name[16];
	for (int i = 0; i < WRITERS; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		args[i] = (struct writer_arg){.n = mkfile(R, root(), name)};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, fill_until_full, &args[i]), 0);
	}
	uint64_t pages = 0;
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(t[i], NULL);
		pages += (uint64_t)args[i].rounds;
		ck_assert_uint_eq(getattr(R, args[i].n).st_size,
				  (uint64_t)args[i].rounds * PAGE);
	}
	ck_assert_uint_eq(pages, CAP / PAGE);
	ck_assert_uint_eq(bytes_free(R), 0);
	for (int i = 0; i < WRITERS; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(registry_unlink(R, root(), name), 0);
		registry_forget(R, args[i].n, 1);
	}
	ck_assert_uint_eq(bytes_free(R), CAP);
}
END_TEST

/* Truncates racing writers: sizes and capacity stay consistent. */
static void *truncator(void *p)
{
	struct writer_arg *a = p;
	pthread_barrier_wait(a->start);
	for (int i = 0; i < a->rounds; i++) {
		struct setattr_req q = {.valid = SET_SIZE,
					.size = (uint64_t)(i % 3) * RECORD};
		struct stat st;
		if (registry_setattr(R, a->n, &q, &st) != 0)
			a->bad++;
	}
	return NULL;
}

START_TEST(truncate_race)
{
	struct node *f = mkfile(R, root(), "f");
	pthread_t t[4];
	struct writer_arg args[4];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, 4);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct writer_arg){
		    .start = &start, .n = f, .id = i, .rounds = 500};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL,
				   i < 3 ? record_writer : truncator, &args[i]),
		    0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(args[i].bad, 0);
	}
	pthread_barrier_destroy(&start);
	/* Every whole record is one writer's or zeroes; the reservation is
	 * exactly the final size's pages. */
	ck_assert_int_eq(torn_records(f), 0);
	uint64_t size = (uint64_t)getattr(R, f).st_size;
	ck_assert_uint_eq(bytes_free(R), CAP - (size + PAGE - 1) / PAGE * PAGE);
	registry_forget(R, f, 1);
}
END_TEST

/* Threads doing random namespace and data operations on a few names at
 * once; afterwards the registry must be consistent: link counts match the
 * names, every unreachable node is freed, and the capacity in use is
 * exactly that of the reachable mappings. */
static const char *const race_names[] = {"n0", "n1", "n2", "n3", "n4", "d0"};

static void *namespace_churn(void *p)
{
	struct writer_arg *a = p;
	unsigned seed = 99u + (unsigned)a->id;
	struct node *rt = root(), *n;
	struct stat st;
	char page[PAGE];
	memset(page, 'c', sizeof(page));
	pthread_barrier_wait(a->start);
	for (int i = 0; i < a->rounds; i++) {
		const char *x = race_names[rand_r(&seed) % 6];
		const char *y = race_names[rand_r(&seed) % 6];
		switch (rand_r(&seed) % 8) {
		case 0:
			if (!registry_mknod(R, rt, x, S_IFREG | 0644, 0, &USER,
					    &n, &st))
				registry_forget(R, n, 1);
			break;
		case 1:
			if (!registry_mkdir(R, rt, x, 0755, &USER, &n, &st))
				registry_forget(R, n, 1);
			break;
		case 2:
			registry_unlink(R, rt, x);
			break;
		case 3:
			registry_rmdir(R, rt, x);
			break;
		case 4: {
			static const unsigned fl[] = {0, RENAME_NOREPLACE,
						      RENAME_EXCHANGE};
			registry_rename(R, rt, x, rt, y, fl[rand_r(&seed) % 3]);
			break;
		}
		case 5:
			if (!registry_lookup(R, rt, x, &n, &st)) {
				if (!registry_link(R, n, rt, y, &st))
					registry_forget(R, n, 1);
				registry_forget(R, n, 1);
			}
			break;
		default:
			if (!registry_lookup(R, rt, x, &n, &st)) {
				if (S_ISREG(st.st_mode) &&
				    !registry_open(R, n, O_RDWR)) {
					uint64_t off =
					    (uint64_t)(rand_r(&seed) % 4) *
					    PAGE;
					registry_write(R, n, page, sizeof(page),
						       off);
					registry_getattr(R, n, &st);
					registry_release(R, n, O_RDWR);
				}
				registry_forget(R, n, 1);
			}
			break;
		}
	}
	return NULL;
}

static void churn_and_check(void)
{
	enum {
		THREADS = 4
	};
	pthread_t t[THREADS];
	struct writer_arg args[THREADS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct writer_arg){
		    .start = &start, .id = i, .rounds = 3000};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, namespace_churn, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	/* Count what is reachable. Only the root holds names here (mkdir
	 * makes empty directories and everything happens in the root). */
	struct dir_snapshot *s;
	ck_assert_int_eq(registry_opendir(R, root(), &s), 0);
	uint64_t inos[8], reserved = 0;
	int names_of[8] = {0}, nino = 0, subdirs = 0;
	struct stat sts[8];
	for (size_t i = 2; i < s->count; i++) {
		struct stat st;
		ck_assert_int_eq(
		    lookup(R, root(), s->entries[i].name, NULL, &st), 0);
		subdirs += S_ISDIR(st.st_mode);
		int k = 0;
		while (k < nino && inos[k] != st.st_ino)
			k++;
		if (k == nino) {
			inos[nino] = st.st_ino;
			sts[nino++] = st;
			if (S_ISREG(st.st_mode))
				reserved += ((uint64_t)st.st_size + PAGE - 1) /
					    PAGE * PAGE;
		}
		names_of[k]++;
	}
	registry_closedir(s);
	for (int k = 0; k < nino; k++) {
		if (S_ISDIR(sts[k].st_mode))
			ck_assert_uint_eq(sts[k].st_nlink, 2);
		else
			ck_assert_uint_eq(sts[k].st_nlink, names_of[k]);
	}
	ck_assert_uint_eq(getattr(R, root()).st_nlink, 2 + subdirs);
	/* statfs counts entries and capacity only when memory-backed. */
	if (statfs_(R).f_blocks == CAP / PAGE) {
		ck_assert_uint_eq(nodes_used(R), nino);
		ck_assert_uint_eq(bytes_free(R), CAP - reserved);
	}
}

START_TEST(namespace_race)
{
	churn_and_check();
}
END_TEST

/* The same on a file-backed registry, whose backing directory must then
 * hold exactly the same tree. */
START_TEST(namespace_race_backing)
{
	char broot[128];
	diff_mkdtemp(broot, sizeof(broot), "backing");
	registry_free(R);
	struct registry_config cfg = {
	    .capacity = CAP,
	    .max_nodes = MAXN,
	    .root_mode = 0755,
	    .backing_dirfd = open(broot, O_RDONLY | O_DIRECTORY),
	};
	ck_assert_int_eq(registry_new(&cfg, &R), 0);
	churn_and_check();
	int bfd = open(broot, O_RDONLY | O_DIRECTORY);
	diff_tree(R, root(), bfd, "(backing)");
	close(bfd);
}
END_TEST

int main(void)
{
	TCase *tc = registry_tcase("concurrency", 30);
	tcase_add_test(tc, writes_serialized);
	tcase_add_test(tc, capacity_race);
	tcase_add_test(tc, truncate_race);
	tcase_add_test(tc, namespace_race);
	tcase_add_test(tc, namespace_race_backing);
	return registry_run(tc);
}
