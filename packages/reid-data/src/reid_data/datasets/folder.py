"""The user's own data: a folder of crops labelled by a filename pattern or a CSV/list file.

Camera ids are optional; without them ``has_camids`` is ``False`` (camid ``-1``) so evaluation
knows it cannot apply the same-pid-same-camera rule. Without a ``pid`` group every sample gets
pid 0 and ``has_pids`` is ``False`` (an unlabelled target domain).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from reid_data._parse import IMAGE_EXTENSIONS, choice
from reid_data.base import DatasetLayoutError, ReidDataset, Sample, relabel

#: Market-1501 naming: ``0002_c1s1_000451_03.jpg`` -> pid 2, camid 1.
DEFAULT_PATTERN = r"(?P<pid>-?\d+)_c(?P<camid>\d+)"
SPLIT_DIRS = {
    "train": ("train", "bounding_box_train", "image_train"),
    "query": ("query", "image_query"),
    "gallery": ("gallery", "bounding_box_test", "image_test", "image_gallery"),
}


class FolderDataset(ReidDataset):
    """A folder of your own. ``root`` is used as given (no root conventions).

    Splits are the sub-folders ``train``/``query``/``gallery`` (Market names ``bounding_box_train``,
    ``bounding_box_test`` and VeRi/VisDA ``image_*`` names also work; override with ``train_dir``,
    ``query_dir``, ``gallery_dir``); when none exists, every image under ``root`` is ``train``.
    Images are found recursively and ``pattern`` (a regex with optional named groups ``pid`` and
    ``camid``) is searched in each path relative to its split folder, so ``(?P<pid>\\d+)/``
    labels a folder-per-identity tree. pid ``-1`` is junk and skipped, pid 0 is kept.

    Alternatively ``list_file`` (relative to ``root`` or absolute): a CSV with a header naming
    ``path`` and optionally ``pid``, ``camid``, ``split``; or a whitespace-separated list with lines
    ``path [pid [camid]] [split]``. ``split`` defaults to ``train``; paths are relative to ``root``.

    Other options: ``relabel_train`` (default True), ``on_mismatch`` ``"raise"`` (default) or
    ``"skip"`` for files the pattern does not match, ``extensions``.
    """

    name = "folder"

    def __init__(
        self,
        root: str | Path,
        *,
        pattern: str | re.Pattern[str] = DEFAULT_PATTERN,
        list_file: str | Path | None = None,
        train_dir: str | None = None,
        query_dir: str | None = None,
        gallery_dir: str | None = None,
        relabel_train: bool = True,
        on_mismatch: str = "raise",
        extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
        **options: Any,
    ) -> None:
        choice(self.name, "on_mismatch", on_mismatch, ("raise", "skip"))
        self.pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        unknown = set(self.pattern.groupindex) - {"pid", "camid"}
        if unknown:
            raise ValueError(f"dataset 'folder': pattern {self.pattern.pattern!r} has named "
                             f"group(s) {sorted(unknown)}; allowed: camid, pid")
        self.list_file = list_file
        self.split_dirs = {"train": train_dir, "query": query_dir, "gallery": gallery_dir}
        self.relabel_train = relabel_train
        self.on_mismatch = on_mismatch
        self.extensions = tuple(e.lower() for e in extensions)
        self.skipped_files: list[str] = []
        self.has_pids = True
        super().__init__(root, **options)

    def resolve_root(self, root: Path) -> tuple[str, Path]:
        if not root.is_dir():
            raise DatasetLayoutError(f"dataset 'folder': root folder {root} does not exist",
                                     expected=str(root), tried=[str(root)])
        return "folder", root

    # ------------------------------------------------------------------ pattern mode
    def _split_folders(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for split, names in SPLIT_DIRS.items():
            explicit = self.split_dirs[split]
            if explicit is not None:
                found[split] = self.require(self.dataset_dir / explicit, f"{split} folder")
                continue
            for name in names:
                if (self.dataset_dir / name).is_dir():
                    found[split] = self.dataset_dir / name
                    break
        return found

    def _images(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*")
                      if p.suffix.lower() in self.extensions and p.is_file())

    def _parse_folder(self, folder: Path) -> list[Sample]:
        out = []
        for path in self._images(folder):
            rel = path.relative_to(folder).as_posix()
            m = self.pattern.search(rel)
            if m is None:
                if self.on_mismatch == "raise":
                    raise ValueError(
                        f"dataset 'folder': file {path} does not match pattern "
                        f"{self.pattern.pattern!r} (searched in {rel!r}; pass pattern=... with "
                        "named groups pid and camid, or on_mismatch='skip')")
                self.skipped_files.append(str(path))
                continue
            pid_s, cam_s = m.groupdict().get("pid"), m.groupdict().get("camid")
            if pid_s is None:
                self.has_pids = False
            pid = int(pid_s) if pid_s is not None else 0
            if pid == -1:
                continue
            out.append(Sample(str(path), pid, int(cam_s) if cam_s is not None else -1))
        return out

    # ------------------------------------------------------------------ list-file mode
    def _parse_list(self, list_file: Path) -> dict[str, list[Sample]]:
        splits: dict[str, list[Sample]] = {"train": [], "query": [], "gallery": []}
        text = list_file.read_text()
        rows: list[tuple[str, str | None, str | None, str]] = []
        if list_file.suffix.lower() == ".csv":
            reader = csv.DictReader(text.splitlines())
            if reader.fieldnames is None or "path" not in reader.fieldnames:
                raise ValueError(f"dataset 'folder': CSV list file {list_file} needs a header "
                                 f"with a 'path' column (optional: pid, camid, split); found "
                                 f"{reader.fieldnames}")
            for row in reader:
                rows.append((row["path"], row.get("pid") or None, row.get("camid") or None,
                             row.get("split") or "train"))
        else:
            for line in text.splitlines():
                parts = line.split()
                if not parts or parts[0].startswith("#"):
                    continue
                split = "train"
                if len(parts) > 1 and parts[-1] in splits:
                    split = parts.pop()
                parts += [None] * (3 - len(parts))  # type: ignore[list-item]
                rows.append((parts[0], parts[1], parts[2], split))
        for lineno, (rel, pid_s, cam_s, split) in enumerate(rows, 1):
            if split not in splits:
                raise ValueError(f"dataset 'folder': entry {lineno} of {list_file} has split "
                                 f"{split!r}; choices: {sorted(splits)}")
            try:
                pid = int(pid_s) if pid_s is not None else 0
                camid = int(cam_s) if cam_s is not None else -1
            except ValueError:
                raise ValueError(f"dataset 'folder': entry {lineno} of {list_file} has a "
                                 f"non-integer pid/camid ({pid_s!r}, {cam_s!r})") from None
            if pid_s is None:
                self.has_pids = False
            if pid == -1:
                continue
            path = Path(rel) if Path(rel).is_absolute() else self.dataset_dir / rel
            splits[split].append(Sample(str(path), pid, camid))
        return splits

    def load(self) -> None:
        if self.list_file is not None:
            lf = Path(self.list_file)
            lf = lf if lf.is_absolute() else self.dataset_dir / lf
            splits = self._parse_list(self.require(lf, "list file"))
        else:
            folders = self._split_folders()
            if not folders:
                if not self._images(self.dataset_dir):
                    raise DatasetLayoutError(
                        f"dataset 'folder': no images ({', '.join(self.extensions)}) under "
                        f"{self.dataset_dir} and none of the split folders "
                        f"{[n for names in SPLIT_DIRS.values() for n in names]}",
                        expected="train/, query/, gallery/ or images", tried=[str(self.root)])
                folders = {"train": self.dataset_dir}
            splits = {k: self._parse_folder(v) for k, v in folders.items()}
        train = splits.get("train", [])
        self.train = relabel(train) if self.relabel_train and self.has_pids else train
        self.query, self.gallery = splits.get("query", []), splits.get("gallery", [])
        every = self.train + self.query + self.gallery
        self.has_camids = bool(every) and all(s.camid >= 0 for s in every)
        if not self.has_camids:
            self.notes.append("no camera ids: evaluation cannot apply the same-camera rule")
        if not self.has_pids:
            self.notes.append("no identity labels: every sample has pid 0 (unlabelled)")
        if self.skipped_files:
            self.notes.append(f"{len(self.skipped_files)} file(s) did not match the pattern "
                              "and were skipped")
