"""Drops the given files' pages from the page cache, for the cold-cache runs of
`npm run bench`: posix_fadvise(POSIX_FADV_DONTNEED) on each whole file. It needs no
privileges (unlike writing to /proc/sys/vm/drop_caches): the kernel drops the clean
pages of a file the caller can open. Dirty pages stay, so the bench syncs the files
after writing them; on a tmpfs the pages are the files themselves and nothing is
dropped (the bench then notes that cold cat ran about as fast as warm). Exits non-zero,
naming the file, when one cannot be opened."""

import os
import sys


def main(paths):
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as error:
            print(f"{path}: cannot open ({error.strerror})", file=sys.stderr)
            return 1
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
