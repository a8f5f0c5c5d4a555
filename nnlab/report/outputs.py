"""The report's own outputs in a results directory, written without ever following a link.

The results directory may be shared or copied from someone else, and `report_files/` is the one place where the
report deletes files, so:
  - report.html, report.md and report_files/ must be a plain file, a plain file and a plain directory (or absent);
    a symlink or anything else there is refused with one paragraph before anything is written;
  - every write, rename and delete happens relative to an open descriptor of the results directory or of
    report_files/ (opened O_NOFOLLOW), so a link swapped in meanwhile is replaced or ignored, never followed;
    links in the path to the results directory itself (results -> /data/results) are followed;
  - the report deletes only images it wrote: their names are kept in report_files/.manifest.json, written before
    the images themselves, and only an entry that is still a regular file directly in report_files/ is deleted;
    a report_files/ without a manifest gets one, and the files already there are left alone;
  - leftover temporary files of an interrupted report (.report.html.*.tmp, .report.md.*.tmp, report_files/.*.tmp)
    older than this report's start are removed.
"""

import contextlib
import errno
import json
import os
import stat
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.results import atomic, bounded, layout, limits

PAGES = (layout.REPORT_HTML, layout.REPORT_MARKDOWN)
FILES = layout.REPORT_FILES
MANIFEST = layout.REPORT_MANIFEST
FIGURE_SUFFIX = ".png"  # every image the report writes (a GIF's last frame included)
NAME_MAX = 255
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


class ReportOutputs:
    """report.html, report.md and report_files/ of one results directory, held open for one report.

    Use as a context manager; `check()` refuses what the report must not write through, and `write_figures` and
    `write_page` do the writing.
    """

    def __init__(self, results_dir):
        self.results_dir = Path(results_dir)
        self._results = None
        self._files = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for descriptor in (self._files, self._results):
            if descriptor is not None:
                os.close(descriptor)
        self._results = self._files = None

    def check(self):
        """Refuse (NnlabError) a report.html, report.md or report_files that is a link or not plain.

        A results directory that does not exist is left to the caller (it has nothing to report).
        """
        try:
            self._results = os.open(self.results_dir, _DIRECTORY)  # follows links in its own path, as asked
        except (FileNotFoundError, NotADirectoryError):
            return
        for name in PAGES:
            _refuse_unless(self._lstat(name), stat.S_ISREG, self.results_dir / name, "a plain file")
        _refuse_unless(self._lstat(FILES), stat.S_ISDIR, self.results_dir / FILES, "a plain directory")
        if self._lstat(FILES) is not None:  # a directory is the one entry a rename cannot replace
            manifest = self._lstat(MANIFEST, self._open_files(create=False))
            if manifest is not None and stat.S_ISDIR(manifest.st_mode):
                raise NnlabError(_refusal(self.results_dir / FILES / MANIFEST, "a directory", "a plain file"))

    def remove_stale_temporaries(self, started):
        """Delete the temporary files an interrupted report left (regular files whose mtime is before `started`)."""
        _remove_stale(self._results, lambda name: any(atomic.temporary_name_of(page, name) for page in PAGES), started)
        if self._lstat(FILES) is not None:
            files = self._open_files(create=False)
            _remove_stale(files, lambda name: name.startswith(".") and name.endswith(atomic.TEMPORARY_SUFFIX), started)

    def write_page(self, name, chunks, mode=atomic.FILE_MODE):
        """Atomically replace report.html or report.md (one of PAGES) with `chunks`, created with `mode`."""
        with _named(self.results_dir / name):
            atomic.write_in(self._results, name, chunks, mode)

    def write_figures(self, figures):
        """Write each figure as report_files/<name> (its copy no wider than the original) and delete the images an
        earlier report wrote that this one no longer links. Every name is in the manifest before its file exists."""
        if not figures and self._lstat(FILES) is None:
            return
        with _named(self.results_dir / FILES):
            files = self._open_files(create=True)
        earlier = _manifest(files)
        names = [figure.name for figure in figures]
        self._write_manifest(files, earlier | set(names))
        for figure in figures:
            with _named(self.results_dir / FILES / figure.name):
                atomic.write_in(files, figure.name, figure.data, no_wider_than([figure.mode]))
        kept = set(names)
        for name in sorted(earlier - kept):
            if not _remove_own(files, name):
                kept.add(name)  # could not delete it now: still ours, try again next time
        self._write_manifest(files, kept)

    def _write_manifest(self, files, names):
        record = {"written_by": "nnlab report", "files": sorted(names)}
        with _named(self.results_dir / FILES / MANIFEST):
            atomic.write_in(files, MANIFEST, json.dumps(record, indent=1) + "\n")

    def _lstat(self, name, directory=None):
        try:
            return os.lstat(name, dir_fd=self._results if directory is None else directory)
        except FileNotFoundError:
            return None

    def _open_files(self, create):
        if self._files is not None:
            return self._files
        path = self.results_dir / FILES
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(FILES, dir_fd=self._results)
        try:
            self._files = os.open(FILES, _DIRECTORY | os.O_NOFOLLOW, dir_fd=self._results)
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            _refuse_unless(self._lstat(FILES), stat.S_ISDIR, path, "a plain directory")  # swapped in meanwhile
            raise NnlabError(_refusal(path, "not a plain directory", "a plain directory")) from None
        return self._files


def no_wider_than(modes):
    """The permission bits of a file that holds copies of files of `modes` (None: a figure the report drew): no
    more readable than the most private of them, and read-write for its owner."""
    mode = atomic.FILE_MODE
    for original in modes:
        if original is not None:
            mode &= original | 0o600
    return mode


def plain_name(name):
    """Whether `name` may be an image the report wrote: one file name, no path, not hidden, not over NAME_MAX, and a
    PNG (every image the report writes is one), so that a manifest that came with a copied results directory cannot
    have the report delete the notes or data you keep in report_files/."""
    return (
        isinstance(name, str)
        and 0 < len(name.encode("utf-8", errors="replace")) <= NAME_MAX
        and not name.startswith(".")
        and "/" not in name
        and "\0" not in name
        and name.endswith(FIGURE_SUFFIX)
    )


def _manifest(files):
    """The names the manifest lists; none when it is missing, unreadable or not a regular file (a link included)."""
    try:
        data, _ = bounded.read_file(MANIFEST, limits.JSON_MAX_BYTES, dir_fd=files, follow_symlinks=False)
        record = bounded.loads(data.decode("utf-8"), where=MANIFEST)
    except (OSError, ValueError):
        return set()
    listed = record.get("files") if isinstance(record, dict) else None
    return {name for name in listed if plain_name(name)} if isinstance(listed, list) else set()


@contextlib.contextmanager
def _named(path):
    """OSErrors of the writes inside name `path` (they happen relative to a descriptor, so they name no path)."""
    try:
        yield
    except OSError as error:
        if error.errno is None:
            raise
        raise type(error)(error.errno, error.strerror, str(path)) from error


def _remove_own(files, name):
    """Delete report_files/<name> if it is a regular file; True when it is gone (or never was one of ours)."""
    try:
        if not stat.S_ISREG(os.lstat(name, dir_fd=files).st_mode):
            return True  # a directory or a link someone put there: not ours, ignored
        os.unlink(name, dir_fd=files)  # unlink never follows a link: a file swapped for one loses only the link
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _remove_stale(directory, is_temporary, started):
    with os.scandir(directory) as entries:
        names = [entry.name for entry in entries if is_temporary(entry.name)]
    for name in names:
        with contextlib.suppress(OSError):
            info = os.lstat(name, dir_fd=directory)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < started:
                os.unlink(name, dir_fd=directory)


def _refuse_unless(info, is_expected, path, expected):
    if info is None or is_expected(info.st_mode):
        return
    if stat.S_ISLNK(info.st_mode):
        try:
            found = f"a symbolic link (to {os.readlink(path)})"
        except OSError:
            found = "a symbolic link"
    else:
        found = _kind(info.st_mode)
    raise NnlabError(_refusal(path, found, expected))


def _refusal(path, found, expected):
    return (
        f"{path} is {found}, not {expected}. nnlab report writes report.html, report.md and report_files/ only as "
        f"its own plain files and directory, and never writes or deletes anything through a link, so it stopped "
        f"before writing anything. Move {path.name} aside (for a link: `rm {path}` removes the link, not what it "
        f"points to) and run the report again, or report into another directory with --results."
    )


def _kind(mode):
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a plain file"
