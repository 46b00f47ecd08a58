/* cmd_signal.c - authsink reload / dump: signal the running authsinkd
 * found through the pid file of its configuration (-c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"

/* The pid in h's pid file, checked to be a running authsinkd; -1 after
 * a message. */
static long
daemon_pid(struct helper *h)
{
	const char *path = h->cfg.pidfile;
	char buf[64], comm[64], procpath[64];
	FILE *f;
	char *end;
	long pid;
	size_t n;

	if ((f = fopen(path, "r")) == NULL) {
		fail("cannot read pid file %s: %s (is authsinkd running? "
		    "use -c with its configuration)", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || (*end != '\n' && *end != '\0') || pid <= 1) {
		fail("pid file %s does not hold a process id", path);
		return -1;
	}
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
		fail("stale pid file %s: no process %ld (authsinkd is not "
		    "running)", path, pid);
		return -1;
	}
	/* A recycled pid must not get our signal. */
	snprintf(procpath, sizeof(procpath), "/proc/%ld/comm", pid);
	if ((f = fopen(procpath, "r")) != NULL) {
		if (fgets(comm, sizeof(comm), f) != NULL) {
			comm[strcspn(comm, "\n")] = '\0';
			if (strcmp(comm, "authsinkd") != 0) {
				fclose(f);
				fail("stale pid file %s: process %ld is %s, not "
				    "authsinkd", path, pid, comm);
				return -1;
			}
		}
		fclose(f);
	}
	return pid;
}

static int
send_signal(long pid, int sig, const char *name)
{
	if (kill((pid_t)pid, sig) < 0)
		return fail("cannot send %s to authsinkd (pid %ld): %s", name,
		    pid, strerror(errno));
	return EXIT_YES;
}

int
cmd_reload(struct helper *h, int argc, char **argv)
{
	long pid;

	(void)argv;
	if (argc != 0)
		return fail("usage: authsink [-c CONFIG] reload");
	if ((pid = daemon_pid(h)) < 0)
		return EXIT_ERROR;
	if (send_signal(pid, SIGHUP, "SIGHUP") != EXIT_YES)
		return EXIT_ERROR;
	printf("authsinkd (pid %ld): reloading configuration and rules; "
	    "errors go to its log\n", pid);
	return EXIT_YES;
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_size == b->st_size;
}

/* SIGUSR1, then wait for the daemon to replace its dump file and show it. */
int
cmd_dump(struct helper *h, int argc, char **argv)
{
	const char *path = h->cfg.dumpfile;
	struct stat before, now;
	int had = 0;
	long pid;
	FILE *f;
	char buf[4096];
	size_t n;

	(void)argv;
	if (argc != 0)
		return fail("usage: authsink [-c CONFIG] dump");
	if ((pid = daemon_pid(h)) < 0)
		return EXIT_ERROR;
	had = stat(path, &before) == 0;
	if (send_signal(pid, SIGUSR1, "SIGUSR1") != EXIT_YES)
		return EXIT_ERROR;
	for (int i = 0; i < 500; i++) {		/* up to 5 s */
		if (stat(path, &now) == 0 && (!had || !same_file(&before, &now)))
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	if (stat(path, &now) < 0 || (had && same_file(&before, &now)))
		return fail("authsinkd (pid %ld) got SIGUSR1 but did not write "
		    "%s within 5 seconds; see its log", pid, path);
	if ((f = fopen(path, "r")) == NULL)
		return fail("cannot read %s: %s", path, strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return EXIT_YES;
}
