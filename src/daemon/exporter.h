/* exporter.h - the daemon's `export = PATH` text file (src/daemon/export.c). */
#ifndef AUTHSINK_EXPORTER_H
#define AUTHSINK_EXPORTER_H

struct daemon;

/* Rewrite the export file, if one is configured and its content changed.
 * Called at start-up, after each commit and after a sweep that removed
 * entries; failures are logged (once until the next success), never fatal. */
void export_update(struct daemon *d);

#endif
