/*
 * netlab_ctl.c — test tool, installed setuid root by scripts/test.sh: lets the TAP tests,
 * which run as an unprivileged user, start commands on a host of the network lab
 * (scripts/netlab.sh) and cut or heal that host's links.
 *
 * FOR TEST MACHINES ONLY.  It is kept small so that it is obviously safe: it only
 * enters the lab's own namespaces (/run/netns/tg-*, from a fixed table), `exec` drops
 * every privilege before it runs the caller's command, and the only thing it runs as
 * root is /usr/sbin/nft with a script built here from that table, in a clean
 * environment, never through a shell.  Never install it setuid anywhere else.
 *
 *   netlab_ctl exec HOST -- CMD [ARG...]  run CMD in HOST's network namespace, as the caller
 *   netlab_ctl cut HOST [PEER...]         black-hole HOST's traffic with each PEER (a host
 *                                         or "root", the root namespace); without PEER,
 *                                         all its traffic but loopback
 *   netlab_ctl heal HOST [PEER...]        undo those cuts (without PEER: every cut of HOST)
 *   netlab_ctl status                     print every host's rules
 *
 * HOST is db1, db2, app1, app2, app3 (or tg-db1 ...).  Exit status: 0 done, 1 failed,
 * 2 refused (not a lab host, bad usage); `exec` returns CMD's own (127: not run).
 *
 * Being setuid, this runs in glibc's secure mode, which removes LD_LIBRARY_PATH,
 * LD_PRELOAD, TMPDIR, TZDIR, LOCPATH, MALLOC_* and more from the environment before
 * main(): CMD does not get them.  Pass them inside: exec HOST -- env TZDIR=... CMD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NFT "/usr/sbin/nft"

/* The lab's hosts, as scripts/netlab.sh builds them (and tests/t/NetLab.pm knows them). */
struct host
{
	const char *name;
	const char *ipv4;
	const char *ipv6;
};

static const struct host hosts[] = {
	{"db1", "10.77.0.1", "fd77::1"},
	{"db2", "10.77.0.2", "fd77::2"},
	{"app1", "10.77.0.11", "fd77::11"},
	{"app2", "10.77.0.12", "fd77::12"},
	{"app3", "10.77.0.13", "fd77::13"},
};
#define NHOSTS (sizeof(hosts) / sizeof(hosts[0]))

/* The root namespace's end of the bridge: a peer, never a HOST. */
static const struct host root_peer = {"root", "10.77.0.254", "fd77::fe"};

static void
fail(int status, const char *fmt, ...)
{
	va_list		ap;

	fputs("netlab_ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void
usage(void)
{
	fail(2, "usage: netlab_ctl exec HOST -- CMD [ARG...] | cut HOST [PEER...] | "
		 "heal HOST [PEER...] | status");
}

/* lookup: the host named NAME or tg-NAME; refuses (exit 2) anything else. */
static const struct host *
lookup(const char *arg, int root_ok)
{
	const char *name = strncmp(arg, "tg-", 3) == 0 ? arg + 3 : arg;

	for (size_t i = 0; i < NHOSTS; i++)
		if (strcmp(name, hosts[i].name) == 0)
			return &hosts[i];
	if (root_ok && strcmp(arg, "root") == 0)
		return &root_peer;
	fail(2, "refused: \"%s\" is not a lab host (tg-db1, tg-db2, tg-app1, tg-app2, tg-app3%s)",
		 arg, root_ok ? ", or root" : "");
	return NULL;
}

/*
 * enter_ns: joins the host's network namespace.  O_NOFOLLOW and the owner check keep us
 * to what `ip netns add` (root) made; setns(CLONE_NEWNET) itself refuses anything that
 * is not a network namespace.
 */
static void
enter_ns(const struct host *h)
{
	char		path[64];
	struct stat st;
	int			fd;

	snprintf(path, sizeof(path), "/run/netns/tg-%s", h->name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		fail(1, "%s: %s (is the lab up? scripts/netlab.sh up, as root)", path, strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_uid != 0)
		fail(1, "%s is not root's", path);
	if (setns(fd, CLONE_NEWNET) != 0)
		fail(1, "setns %s: %s", path, strerror(errno));
	close(fd);
}

/*
 * drop_privileges: back to the caller's real ids for good, then checks that root cannot
 * be regained and that no capability is left (a caller cannot have set the securebits
 * that would keep them, but the check costs nothing).
 */
static void
drop_privileges(void)
{
	uid_t		uid = getuid(), ruid, euid, suid;
	gid_t		gid = getgid(), rgid, egid, sgid;
	gid_t		groups[256];
	int			ngroups = getgroups(256, groups);
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct caps[2];

	if (ngroups < 0)
		fail(1, "getgroups: %s", strerror(errno));
	/* The caller's supplementary groups are still ours (exec of a setuid file keeps them). */
	if (setgroups(ngroups, groups) != 0 || setresgid(gid, gid, gid) != 0 ||
		setresuid(uid, uid, uid) != 0)
		fail(1, "dropping privileges: %s", strerror(errno));
	if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0 ||
		ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid)
		fail(1, "dropping privileges: ids did not change");
	if (uid != 0)
	{
		if (setuid(0) == 0 || seteuid(0) == 0 || (gid != 0 && setegid(0) == 0))
			fail(1, "dropping privileges: root could be regained");
		if (syscall(SYS_capget, &hdr, caps) != 0)
			fail(1, "capget: %s", strerror(errno));
		if (caps[0].effective || caps[0].permitted || caps[1].effective || caps[1].permitted)
			fail(1, "dropping privileges: capabilities are left");
	}
}

/*
 * run_nft: runs nft with SCRIPT (one argument; nft parses it, ';' between commands) in
 * the host's namespace as full root, in a child; returns nft's exit status.
 */
static int
run_nft(const struct host *h, const char *script)
{
	char	   *argv[] = {"nft", (char *) script, NULL};
	char	   *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
	pid_t		pid;
	int			status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail(1, "fork: %s", strerror(errno));
	if (pid == 0)
	{
		enter_ns(h);
		if (setgroups(0, NULL) != 0 || setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
			fail(1, "becoming root: %s", strerror(errno));
		execve(NFT, argv, envp);
		fail(1, "%s: %s", NFT, strerror(errno));
	}
	if (waitpid(pid, &status, 0) != pid)
		fail(1, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "netlab_ctl: nft failed in tg-%s for: %s\n", h->name, script);
	return 1;
}

/* append: adds a formatted command to the script; the table bounds it, so no overflow. */
static void
append(char *buf, size_t size, const char *fmt, ...)
{
	size_t		len = strlen(buf);
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= size - len)
		fail(2, "too many peers");
}

/*
 * cut_or_heal: the rules are set elements of the host's table `inet tglab` (see
 * scripts/netlab.sh): a peer's addresses in cut4/cut6, "eth0" in cutif for a cut of
 * everything.  Healing a peer adds its elements before deleting them, so that healing
 * what was not cut is no error, in one nft transaction.
 */
static int
cut_or_heal(int cut, int argc, char **argv)
{
	const struct host *h;
	char		script[4096] = "";

	if (argc < 1)
		usage();
	h = lookup(argv[0], 0);
	if (argc == 1)
	{
		if (cut)
			append(script, sizeof(script), "add element inet tglab cutif { \"eth0\" }");
		else
			append(script, sizeof(script),
				   "flush set inet tglab cut4; flush set inet tglab cut6; "
				   "flush set inet tglab cutif");
		return run_nft(h, script);
	}
	for (int i = 1; i < argc; i++)
	{
		const struct host *p = lookup(argv[i], 1);

		if (p == h)
			fail(2, "refused: %s cannot be cut from itself", h->name);
		append(script, sizeof(script),
			   "add element inet tglab cut4 { %s }; add element inet tglab cut6 { %s }; ",
			   p->ipv4, p->ipv6);
		if (!cut)
			append(script, sizeof(script),
				   "delete element inet tglab cut4 { %s }; delete element inet tglab cut6 { %s }; ",
				   p->ipv4, p->ipv6);
	}
	return run_nft(h, script);
}

static int
status(void)
{
	int			rc = 0;

	for (size_t i = 0; i < NHOSTS; i++)
	{
		printf("== tg-%s (%s, %s)\n", hosts[i].name, hosts[i].ipv4, hosts[i].ipv6);
		rc |= run_nft(&hosts[i], "list table inet tglab");
	}
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "exec") == 0)
	{
		const struct host *h;

		if (argc < 5 || strcmp(argv[3], "--") != 0)
			usage();
		h = lookup(argv[2], 0);
		enter_ns(h);
		drop_privileges();
		execvp(argv[4], &argv[4]);
		fprintf(stderr, "netlab_ctl: %s: %s\n", argv[4], strerror(errno));
		return 127;
	}
	if (strcmp(argv[1], "cut") == 0)
		return cut_or_heal(1, argc - 2, argv + 2);
	if (strcmp(argv[1], "heal") == 0)
		return cut_or_heal(0, argc - 2, argv + 2);
	if (strcmp(argv[1], "status") == 0 && argc == 2)
		return status();
	usage();
	return 2;
}
