/* main.c - authsinkd: options, start-up order, signals, reload, exit.
 *
 * Start-up: read config and rules, bind listeners, open the table, drop
 * privileges, detach, write the pid file, run the loop. Anything that
 * fails before the loop runs is reported on stderr with exit status 1. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "exporter.h"
#include "listen.h"

static struct daemon D;
static uv_signal_t sig_term, sig_int, sig_hup, sig_alrm, sig_usr1;

static void
usage(FILE *f)
{
	fprintf(f, "usage: authsinkd [-fdtV] [-c config]\n"
	    "  -f         stay in the foreground, log to stderr\n"
	    "  -d         debug logging (implies -f)\n"
	    "  -c FILE    configuration (default %s;\n"
	    "             built-in defaults when it does not exist)\n"
	    "  -t         check configuration and rules, then exit\n"
	    "  -V         print the version\n"
	    "  -h         this help\n", DEFAULT_CONFIG);
}

/* Load config (NULL: the default file if present) and its rules. */
static int
load_all(const char *path, struct config *cfg, struct rule_set **rules,
    struct errbuf *err)
{
	config_defaults(cfg);
	if (path == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		path = DEFAULT_CONFIG;
	if (path != NULL && config_load(path, cfg, err) < 0)
		goto fail;
	if (rules_load_dir(cfg->rules_dir, rules, err) < 0)
		goto fail;
	return 0;
fail:
	config_free(cfg);
	return -1;
}

static void
set_rules(struct daemon *d, struct rule_set *rules)
{
	rules_free(d->rules);
	free(d->rule_hits);
	d->rules = rules;
	d->rule_hits = xcalloc(rules_count(rules) + 1, sizeof(*d->rule_hits));
}

static int
listens_differ(const struct config *a, const struct config *b)
{
	if (a->nlistens != b->nlistens)
		return 1;
	for (size_t i = 0; i < a->nlistens; i++)
		if (strcmp(a->listens[i].text, b->listens[i].text) != 0)
			return 1;
	return 0;
}

/* SIGHUP: a new config and rule set replace the old ones only if both
 * load completely; otherwise the old ones keep working. */
static void
reload(struct daemon *d)
{
	struct config cfg;
	struct rule_set *rules;
	struct errbuf err;

	if (load_all(d->cfg.file, &cfg, &rules, &err) < 0) {
		log_err("reload failed, keeping the running configuration: %s",
		    err.text);
		return;
	}
	commit_now(d);
	if (listens_differ(&d->cfg, &cfg))
		log_warn("listen lines changed: restart authsinkd to apply them");
	if (strcmp(d->cfg.table, cfg.table) != 0)
		log_warn("table changed: restart authsinkd to apply it");
	/* Keep what only a restart can change; take everything else. */
	struct listen_spec *ls = cfg.listens;
	size_t nls = cfg.nlistens;
	char *table = cfg.table;
	cfg.listens = d->cfg.listens;
	cfg.nlistens = d->cfg.nlistens;
	cfg.table = d->cfg.table;
	d->cfg.listens = ls;
	d->cfg.nlistens = nls;
	d->cfg.table = table;
	config_free(&d->cfg);
	d->cfg = cfg;
	set_rules(d, rules);
	/* A new export path or format is written now, not at the next
	 * commit, which may be long in coming. */
	export_update(d);
	log_info("reloaded %s: %zu rules from %s",
	    d->cfg.file ? d->cfg.file : "built-in defaults",
	    rules_count(rules), d->cfg.rules_dir);
}

static void
stop(struct daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = 1;
	log_info("stopping");
	commit_close(d);
	listeners_close(d);
	uv_close((uv_handle_t *)&sig_term, NULL);
	uv_close((uv_handle_t *)&sig_int, NULL);
	uv_close((uv_handle_t *)&sig_hup, NULL);
	uv_close((uv_handle_t *)&sig_alrm, NULL);
	uv_close((uv_handle_t *)&sig_usr1, NULL);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	switch (signum) {
	case SIGHUP:
		reload(d);
		break;
	case SIGALRM:
		sweep_now(d);
		break;
	case SIGUSR1:
		dump_state(d);
		break;
	default:
		stop(d);
		break;
	}
}

static void
watch_signal(struct daemon *d, uv_signal_t *s, int signum)
{
	uv_signal_init(d->loop, s);
	s->data = d;
	uv_signal_start(s, on_signal, signum);
}

/* mkdir -p for the directories of our own files. */
static int
make_parent_dir(const char *file, uid_t uid, gid_t gid)
{
	char buf[4096];
	char *dir;

	if (str_copy(buf, file, sizeof(buf)) >= sizeof(buf))
		return -1;
	dir = dirname(buf);
	if (access(dir, F_OK) == 0)
		return 0;
	if (make_parent_dir(dir, (uid_t)-1, (gid_t)-1) < 0)
		return -1;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	if (uid != (uid_t)-1 && chown(dir, uid, gid) < 0)
		return -1;
	return 0;
}

static int
lookup_user(const char *name, uid_t *uid, gid_t *gid, struct errbuf *err)
{
	struct passwd *pw;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (name == NULL || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(name)) == NULL) {
		errbuf_set(err, "user \"%s\" does not exist (create it or change "
		    "\"user\" in the configuration)", name);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static int
drop_privileges(uid_t uid, gid_t gid, struct errbuf *err)
{
	if (uid == (uid_t)-1)
		return 0;
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		errbuf_set(err, "cannot drop privileges: %s", strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		errbuf_set(err, "privileges could be regained after setuid");
		return -1;
	}
	return 0;
}

static int
write_pidfile(const char *path, struct errbuf *err)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	if ((f = fopen(tmp, "w")) == NULL ||
	    fprintf(f, "%ld\n", (long)getpid()) < 0 ||
	    fclose(f) != 0 || rename(tmp, path) < 0) {
		errbuf_set(err, "cannot write pid file %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Detach; the parent exits only when the child reports it is running,
 * so "authsinkd && echo ok" means what it says. */
static int
detach(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) < 0 || (pid = fork()) < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return uv_loop_fork(D.loop) == 0 ? 0 : -1;
}

static void
quiet_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static int
start(struct daemon *d, int test_only, struct errbuf *err)
{
	uid_t uid;
	gid_t gid;
	int ready_fd = -1;

	if (test_only)
		return 0;
	if (lookup_user(d->cfg.user, &uid, &gid, err) < 0)
		return -1;
	if (make_parent_dir(d->cfg.table, uid, gid) < 0 ||
	    make_parent_dir(d->cfg.pidfile, uid, gid) < 0) {
		errbuf_set(err, "cannot create the directory of %s or %s: %s",
		    d->cfg.table, d->cfg.pidfile, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < d->cfg.nlistens; i++)
		if (d->cfg.listens[i].path &&
		    make_parent_dir(d->cfg.listens[i].path, (uid_t)-1, (gid_t)-1) < 0) {
			errbuf_set(err, "cannot create the directory of %s: %s",
			    d->cfg.listens[i].path, strerror(errno));
			return -1;
		}
	if (listeners_open(d, err) < 0)
		return -1;
	if ((d->table = relay_open(d->cfg.table, RELAY_WRITE, d->cfg.sync, err)) == NULL)
		return -1;
	if (uid != (uid_t)-1 && chown(d->cfg.table, uid, gid) < 0) {
		errbuf_set(err, "cannot chown %s: %s", d->cfg.table, strerror(errno));
		return -1;
	}
	if (drop_privileges(uid, gid, err) < 0)
		return -1;
	commit_init(d);
	watch_signal(d, &sig_term, SIGTERM);
	watch_signal(d, &sig_int, SIGINT);
	watch_signal(d, &sig_hup, SIGHUP);
	watch_signal(d, &sig_alrm, SIGALRM);
	watch_signal(d, &sig_usr1, SIGUSR1);
	if (!d->foreground && detach(&ready_fd) < 0) {
		errbuf_set(err, "cannot detach: %s", strerror(errno));
		return -1;
	}
	if (write_pidfile(d->cfg.pidfile, err) < 0)
		return -1;
	if (!d->foreground) {
		log_open("authsinkd", 0, 0);
		quiet_stdio();
		if (write(ready_fd, "", 1) != 1)
			return -1;
		close(ready_fd);
	}
	log_info("authsinkd %s started: %zu listener(s), %zu rules, table %s",
	    AUTHSINK_VERSION, d->cfg.nlistens, rules_count(d->rules), d->cfg.table);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *config_path = NULL;
	int test_only = 0, debug = 0, ch;
	struct rule_set *rules;
	struct errbuf err;

	while ((ch = getopt(argc, argv, "fdc:tVh")) != -1) {
		switch (ch) {
		case 'f': D.foreground = 1; break;
		case 'd': D.foreground = 1; debug = 1; break;
		case 'c': config_path = optarg; break;
		case 't': test_only = 1; break;
		case 'V': printf("authsinkd %s\n", AUTHSINK_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	log_open("authsinkd", 1, debug);
	if (load_all(config_path, &D.cfg, &rules, &err) < 0) {
		log_err("%s", err.text);
		return 1;
	}
	set_rules(&D, rules);
	if (test_only) {
		printf("authsinkd: %s and %zu rules from %s are valid\n",
		    D.cfg.file ? D.cfg.file : "built-in configuration",
		    rules_count(rules), D.cfg.rules_dir);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	D.correlator = correlator_new();
	D.loop = uv_default_loop();
	if (start(&D, test_only, &err) < 0) {
		log_err("%s", err.text);
		listeners_close(&D);
		uv_run(D.loop, UV_RUN_NOWAIT);
		return 1;
	}
	uv_run(D.loop, UV_RUN_DEFAULT);
	unlink(D.cfg.pidfile);
	relay_close(D.table);
	rules_free(D.rules);
	correlator_free(D.correlator);
	free(D.rule_hits);
	free(D.pending);
	config_free(&D.cfg);
	uv_loop_close(D.loop);
	log_info("stopped");
	return 0;
}
