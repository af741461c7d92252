/*
 * fuzz_config.c — pushd's config-file parser (pushd/config.c): the input up to its first
 * NUL is the file given with --config (a memfd, through /proc/self/fd), what follows are
 * extra command-line words separated by NULs.  A config that parses is reloaded from the
 * same file too.  Words that print and exit, or name another file, are left out.
 */
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

#define MAX_WORDS 8

static bool
word_allowed(const char *w)
{
	static const char *const refused[] = {"-h", "--help", "-V", "--version", "--print-config"};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strcmp(w, refused[i]) == 0)
			return false;
	return strstr(w, "config") == NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	fd = -1;
	static char path[64];
	FuzzPart	part[1 + MAX_WORDS];
	char	   *argv[3 + MAX_WORDS + 1];
	int			argc = 0;
	int			nparts;
	PushdConfig cfg;
	char		err[512];

	if (fd < 0)
	{
		fd = memfd_create("fuzz_config", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	nparts = fuzz_split(data, size, part, 1 + MAX_WORDS);
	if (ftruncate(fd, 0) != 0 ||
		(part[0].len > 0 && pwrite(fd, part[0].s, part[0].len, 0) != (ssize_t) part[0].len))
		abort();

	argv[argc++] = "toggles-pushd";
	argv[argc++] = "--config";
	argv[argc++] = path;
	for (int i = 1; i < nparts; i++)
	{
		char	   *w = fuzz_cstring(part[i]);

		if (word_allowed(w))
			argv[argc++] = w;
		else
			free(w);
	}
	argv[argc] = NULL;

	if (config_parse_args(&cfg, argc, argv, err, sizeof(err)) == CONFIG_OK)
	{
		if (cfg.listen_host == NULL || cfg.listen_port < 1 || cfg.listen_port > 65535 ||
			cfg.reconnect_min_ms > cfg.reconnect_max_ms)
		{
			fprintf(stderr, "an accepted config breaks its own rules\n");
			abort();
		}
		if (!config_reload(&cfg, argc, argv, err, sizeof(err)))
		{
			fprintf(stderr, "the same file failed on reload: %s\n", err);
			abort();
		}
	}
	else if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
	{
		fprintf(stderr, "an error without a message\n");
		abort();
	}
	config_free(&cfg);
	for (int i = 3; i < argc; i++)
		free(argv[i]);
	return 0;
}
