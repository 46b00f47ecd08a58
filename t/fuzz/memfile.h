/* memfile.h - the fuzzed input as a file the real loaders can open by
 * path: an in-memory file (memfd), reached as /proc/self/fd/N, rewritten
 * for every input. For the fuzz targets only. */
#ifndef AUTHSINK_FUZZ_MEMFILE_H
#define AUTHSINK_FUZZ_MEMFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static int memfile_fd = -1;
static char memfile_path[64];

/* Create it (once, in LLVMFuzzerInitialize); exits if it cannot. */
static void
memfile_open(const char *name)
{
	memfile_fd = memfd_create(name, 0);
	if (memfile_fd < 0) {
		perror("memfd_create");
		exit(2);
	}
	snprintf(memfile_path, sizeof(memfile_path), "/proc/self/fd/%d",
	    memfile_fd);
}

/* Replace its content with data[0..size). */
static void
memfile_write(const void *data, size_t size)
{
	size_t off = 0;

	if (ftruncate(memfile_fd, 0) < 0)
		abort();
	while (off < size) {
		ssize_t w = pwrite(memfile_fd, (const char *)data + off,
		    size - off, (off_t)off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
}

#endif
