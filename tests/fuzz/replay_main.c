/*
 * replay_main.c — a main() for the fuzz targets without libFuzzer: feeds every file of
 * the directories (or files) named on the command line, recursively and in name order, to
 * LLVMFuzzerTestOneInput once, so that `make test` replays the seeds and the regression
 * inputs with gcc and the sanitizers.  A crash aborts the process; otherwise the last
 * line is "N passed, 0 failed" (N inputs replayed).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* As libFuzzer: called once before the first input when a target defines it. */
extern int	LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static long replayed;

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
replay_file(const char *path, off_t size)
{
	FILE	   *f = fopen(path, "rb");
	/* One byte more than needed, so that an empty input is not a NULL pointer. */
	uint8_t    *buf = malloc((size_t) size + 1);

	if (f == NULL || buf == NULL || fread(buf, 1, (size_t) size, f) != (size_t) size)
	{
		fprintf(stderr, "replay: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(buf, (size_t) size);
	free(buf);
	replayed++;
}

static void
replay_path(const char *path)
{
	struct stat st;
	DIR		   *dir;
	struct dirent *e;
	char	  **names = NULL;
	size_t		n = 0,
				cap = 0;

	if (stat(path, &st) != 0)
	{
		fprintf(stderr, "replay: cannot stat %s\n", path);
		exit(2);
	}
	if (S_ISREG(st.st_mode))
	{
		replay_file(path, st.st_size);
		return;
	}
	if (!S_ISDIR(st.st_mode) || (dir = opendir(path)) == NULL)
		return;
	while ((e = readdir(dir)) != NULL)
	{
		if (e->d_name[0] == '.')
			continue;
		if (n == cap)
		{
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(char *));
			if (names == NULL)
				abort();
		}
		names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
		if (names[n] == NULL)
			abort();
		sprintf(names[n], "%s/%s", path, e->d_name);
		n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(char *), compare_names);
	for (size_t i = 0; i < n; i++)
	{
		replay_path(names[i]);
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		replay_path(argv[i]);
	printf("%ld passed, 0 failed\n", replayed);
	return 0;
}
